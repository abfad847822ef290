import { describe, expect, it } from 'vitest';
import {
  SEGMENT_STATS_WORDS,
  STATS_MAX_ABS,
  STATS_NONFINITE,
  STATS_SCALE,
  STATS_SSQ,
  chunkElements,
  decodeSegmentStats,
  planSegmentChunks,
  reduceShaderOptions,
  reduceSpecs,
  reduceSumDepth,
  segmentStatsReference,
} from '../../src/kernels/reduce.ts';
import { reduceNormRtol } from '../../src/conformance/reduce.ts';

/** One stats record as the GPU writes it. */
function record(scale: number, ssq: number, maxAbs: number, nonfinite: number): Uint32Array {
  const words = new Uint32Array(SEGMENT_STATS_WORDS);
  const f32 = new Float32Array(words.buffer);
  f32[STATS_SCALE] = scale;
  f32[STATS_SSQ] = ssq;
  f32[STATS_MAX_ABS] = maxAbs;
  words[STATS_NONFINITE] = nonfinite;
  return words;
}

describe('segment statistics: float64 reference (CPU)', () => {
  it('computes Σx², ‖x‖, max|x| over the finite values and counts ±Inf and NaN', () => {
    const data = Float32Array.from([9, 3, -4, NaN, Infinity, -Infinity, -12, 0, 9]);
    const [a, b, c] = segmentStatsReference(data, [
      { offset: 1, length: 2 },
      { offset: 2, length: 6 },
      { offset: 4, length: 0 },
    ]);
    expect(a).toEqual({ norm: 5, sumSquares: 25, log10Norm: Math.log10(5), maxAbs: 4, nonfinite: 0 });
    expect(b).toMatchObject({ sumSquares: 160, maxAbs: 12, nonfinite: 3 });
    expect(b.norm).toBeCloseTo(Math.sqrt(160), 14);
    expect(c).toEqual({ norm: 0, sumSquares: 0, log10Norm: -Infinity, maxAbs: 0, nonfinite: 0 });
  });

  it('stays exact where f32 squares overflow or underflow', () => {
    const huge = segmentStatsReference(new Float32Array(4).fill(3e38), [{ offset: 0, length: 4 }])[0];
    expect(huge.norm / (2 * Math.fround(3e38))).toBeCloseTo(1, 14);
    const tiny = segmentStatsReference(new Float32Array(100).fill(1e-30), [{ offset: 0, length: 100 }])[0];
    expect(tiny.log10Norm).toBeCloseTo(Math.log10(10 * Math.fround(1e-30)), 12);
  });

  it('sums ten million terms without drifting (compensated)', () => {
    const data = new Float32Array(10_000_000).fill(0.1);
    const ref = segmentStatsReference(data, [{ offset: 0, length: data.length }])[0];
    expect(Math.abs(ref.sumSquares / (1e7 * Math.fround(0.1) ** 2) - 1)).toBeLessThan(1e-14);
  });
});

describe('segment statistics: decoding the stats records', () => {
  it('norm = scale·√ssq and log10 norm = log10 scale + ½ log10 ssq, finite past f32', () => {
    const words = new Uint32Array([...record(0, 0, 0, 7), ...record(2 ** 126, 100, 3e38, 0), ...record(2 ** -126, 0.25, 2 ** -127, 1)]);
    const [empty, big, small] = decodeSegmentStats(words, 3);
    expect(empty).toEqual({ norm: 0, sumSquares: 0, log10Norm: -Infinity, maxAbs: 0, nonfinite: 7 });
    expect(big.norm).toBe(2 ** 126 * 10);
    expect(big.norm).toBeGreaterThan(3.5e38); // past f32
    expect(big.sumSquares).toBe(2 ** 252 * 100);
    expect(big.log10Norm).toBeCloseTo(126 * Math.log10(2) + 1, 12);
    expect(big.maxAbs).toBe(Math.fround(3e38));
    expect(small.norm).toBe(2 ** -127);
    expect(small.maxAbs).toBe(2 ** -127); // subnormal, read back exactly
  });

  it('reads from a record offset and refuses short buffers', () => {
    const words = new Uint32Array([...record(1, 1, 1, 0), ...record(4, 4, 7, 2)]);
    expect(decodeSegmentStats(words.buffer, 1, 1)[0]).toMatchObject({ norm: 8, maxAbs: 7, nonfinite: 2 });
    expect(() => decodeSegmentStats(words, 2, 1)).toThrow(/need 12 words/);
  });
});

describe('segment reduce geometry', () => {
  it('cuts each segment into chunks of at most WG·EPT elements, never across segments', () => {
    const plan = planSegmentChunks(
      [
        { offset: 3, length: 0 },
        { offset: 5, length: 1 },
        { offset: 10, length: 4096 },
        { offset: 20_000, length: 4097 },
      ],
      4096,
      30_000,
    );
    expect(plan.chunkCount).toBe(4);
    expect(plan.maxChunksPerSegment).toBe(2);
    expect(Array.from(plan.chunks)).toEqual([5, 1, 10, 4096, 20_000, 4096, 24_096, 1]);
    expect(Array.from(plan.segments)).toEqual([0, 0, 0, 1, 1, 1, 2, 2]);
  });

  it('refuses segments outside the buffer, negative or fractional', () => {
    expect(() => planSegmentChunks([{ offset: 8, length: 3 }], 4096, 10)).toThrow(/runs past/);
    expect(() => planSegmentChunks([{ offset: -1, length: 3 }], 4096)).toThrow(/integers ≥ 0/);
    expect(() => planSegmentChunks([{ offset: 0, length: 1.5 }], 4096)).toThrow(/integers ≥ 0/);
    expect(() => planSegmentChunks([], 4096)).toThrow(/no segments/);
  });

  it('both variants use 4096-element chunks; the accuracy bound follows the summation depth', () => {
    const wide = reduceShaderOptions('wide');
    const narrow = reduceShaderOptions('narrow');
    expect(chunkElements(wide)).toBe(4096);
    expect(chunkElements(narrow)).toBe(4096);
    // narrow, 10⁷ elements: 256/4 + 2 + log2 16 + ⌈2442/64⌉ + log2 64
    expect(reduceSumDepth(narrow, Math.ceil(1e7 / 4096))).toBe(64 + 2 + 4 + 39 + 6);
    expect(reduceSumDepth(wide, 1)).toBe(4 + 2 + 8 + 1 + 8);
    // lanes (4 × 1024, combine 16), 10⁷ elements: 1024/4 + 2 + log2 4 + ⌈2442/16⌉ + log2 16
    expect(reduceSumDepth(reduceShaderOptions('lanes'), Math.ceil(1e7 / 4096))).toBe(256 + 2 + 2 + 153 + 4);
    expect(reduceNormRtol(115)).toBeCloseTo(58.5 * 2 ** -24, 20);
  });

  it('has one spec per pass, form (pass 1: scalar and vec4) and variant, with unique keys', () => {
    const keys = reduceSpecs().map((s) => s.key);
    expect(keys.length).toBe(9);
    expect(new Set(keys).size).toBe(9);
  });
});
