import {
  REDUCE_VARIANTS,
  SEGMENT_STATS_WORDS,
  decodeSegmentStats,
  defaultReduceVariant,
  prepareSegmentReduce,
  segmentStatsReference,
  type ReduceVariant,
  type Segment,
  type SegmentStats,
} from '../kernels/reduce.ts';
import type { GpuContext } from '../gpu/context.ts';
import type { CaseResult, ConformanceCase } from './case.ts';
import { gaussianData, seededRandom, uniformData } from './data.ts';

const UNIT_ROUNDOFF = 2 ** -24;

/**
 * Accuracy contract of a segment norm. ssq is a sum of non-negative terms whose
 * rescalings are exact (powers of two), so its relative error is at most
 * γ_(d+1) ≈ (d+1)·2⁻²⁴ with d the additions on the longest path of the
 * reduction (reduceSumDepth: EPT/4 + 2 + log2 WG + ⌈chunks/WG₂⌉ + log2 WG₂,
 * e.g. 84 for 2·10⁶ elements on the narrow variant, 24 on the wide one); the
 * square root halves it. rtol = (d+2)/2·2⁻²⁴ bounds the norm's relative error
 * with the second-order terms and the float64 decoding to spare. log10 of the
 * norm then errs by at most rtol / ln 10. max|x| and the non-finite count are
 * exact: max and integer sums do not round.
 */
export function reduceNormRtol(sumDepth: number): number {
  return ((sumDepth + 2) / 2) * UNIT_ROUNDOFF;
}

export const REDUCE_CONTRACT =
  '‖x‖: |Δ| ≤ (d+2)/2·2⁻²⁴·‖x‖ (d = additions on the longest path); log10‖x‖: |Δ| ≤ (d+2)/2·2⁻²⁴/ln 10; max|x|, #non-finite: exact';

/** Everything a case uploads: the data and the segments to reduce. */
interface Workload {
  data: Float32Array;
  segments: Segment[];
}

interface CaseSetup {
  kernel: string;
  shape: string;
  /** 'default': the adapter's default variant (the long case runs only there). */
  variant: ReduceVariant | 'default';
  build: () => Workload;
  /** Record of the first segment in the stats buffer; records around it are checked untouched. */
  outputOffset?: number;
  /** Forces 2-D grids past this many workgroups per dimension. */
  maxWorkgroupsPerDimension?: number;
  /** Segments laid out on multiples of 4 elements: pass 1 must read them as vec4 (and otherwise as scalars). */
  aligned: boolean;
}

const SENTINEL = 0xa5a5a5a5;

/** Padding around segments: values a stray read would notice (non-finite, or larger than any data). */
const PAD_VALUES = [NaN, Infinity, -Infinity, 3.0e38, -3.0e38];

function pad(data: Float32Array, from: number, to: number): void {
  for (let i = from; i < to; i++) data[i] = PAD_VALUES[i % PAD_VALUES.length];
}

/**
 * Lays `lengths` out in one buffer with padded gaps of awkward sizes between
 * them (so offsets are multiples of nothing), filling each segment with
 * `fill(segmentIndex, length)`. `aligned` starts every segment on a multiple
 * of 4 elements instead (as the trainers' arenas do), so pass 1 reads vec4
 * quads that straddle the padding around segments of awkward lengths.
 */
function layoutIn(lengths: readonly number[], seed: number, fill: (index: number, length: number) => Float32Array, aligned: boolean): Workload {
  const next = seededRandom(seed);
  const gaps = lengths.map(() => 1 + Math.floor(next() * 37));
  const total = lengths.reduce((a, b) => a + b, 0) + gaps.reduce((a, b) => a + b, 0) + 3 * lengths.length + 4;
  const data = new Float32Array(total);
  const segments: Segment[] = [];
  let at = 0;
  lengths.forEach((length, i) => {
    // Aligned: round the start up to a multiple of 4; awkward: never let it land on one.
    const gap = aligned ? gaps[i] + ((4 - ((at + gaps[i]) % 4)) % 4) : gaps[i] + ((at + gaps[i]) % 4 === 0 ? 1 : 0);
    pad(data, at, at + gap);
    at += gap;
    data.set(fill(i, length), at);
    segments.push({ offset: at, length });
    at += length;
  });
  pad(data, at, total);
  return { data, segments };
}

/** `count` values of random sign whose log10 magnitude is uniform in [lo, hi). */
function logUniform(count: number, seed: number, lo: number, hi: number): Float32Array {
  const next = seededRandom(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const magnitude = 10 ** (lo + (hi - lo) * next());
    out[i] = next() < 0.5 ? -magnitude : magnitude;
  }
  return out;
}

function describe(s: SegmentStats): string {
  return `norm ${s.norm}, log10 ${s.log10Norm}, max ${s.maxAbs}, nonfinite ${s.nonfinite}`;
}

/** Compares one segment; returns the norm's relative error and a failure message or ''. */
function compareSegment(gpu: SegmentStats, ref: SegmentStats, rtol: number): { error: number; failure: string } {
  const failures: string[] = [];
  if (gpu.nonfinite !== ref.nonfinite) failures.push(`non-finite count ${gpu.nonfinite} ≠ ${ref.nonfinite}`);
  if (gpu.maxAbs !== ref.maxAbs) failures.push(`max|x| ${gpu.maxAbs} ≠ ${ref.maxAbs} (must be exact)`);
  const error = ref.norm === 0 ? Math.abs(gpu.norm) : Math.abs(gpu.norm - ref.norm) / ref.norm;
  if (!(error <= rtol)) {
    failures.push(`norm ${gpu.norm} vs ${ref.norm}: relative |Δ| ${error.toExponential(3)} > ${rtol.toExponential(3)}`);
  }
  const logOk = ref.norm === 0 ? gpu.log10Norm === -Infinity : Math.abs(gpu.log10Norm - ref.log10Norm) <= rtol / Math.LN10;
  if (!logOk) failures.push(`log10 norm ${gpu.log10Norm} vs ${ref.log10Norm} (allowed ±${(rtol / Math.LN10).toExponential(3)})`);
  return { error, failure: failures.join('; ') };
}

function reduceCase(setup: CaseSetup): ConformanceCase {
  const variantName = setup.variant === 'default' ? 'adapter default' : setup.variant;
  return {
    family: 'reduce',
    kernel: `reduce ${variantName}${setup.aligned ? ' vec4' : ''} ${setup.kernel}`,
    shape: setup.shape,
    contract: REDUCE_CONTRACT,
    async run(ctx: GpuContext): Promise<CaseResult> {
      const { data, segments } = setup.build();
      const variant = setup.variant === 'default' ? defaultReduceVariant(ctx.summary) : setup.variant;
      const kernel = await prepareSegmentReduce(ctx, { variant, maxWorkgroupsPerDimension: setup.maxWorkgroupsPerDimension });
      const outputOffset = setup.outputOffset ?? 0;
      const records = outputOffset + segments.length + 2;
      const dataBuffer = ctx.upload('reduce.data', data);
      const statsBuffer = ctx.upload('reduce.stats', new Uint32Array(records * SEGMENT_STATS_WORDS).fill(SENTINEL));
      const reduction = kernel.bind(segments, { data: dataBuffer, stats: statsBuffer }, { outputOffset });
      try {
        await ctx.run(reduction.dispatches);
        const words = await ctx.readU32(statsBuffer, records * SEGMENT_STATS_WORDS);
        const problems: string[] = [];
        // The layout must exercise the pass-1 form it is meant for.
        if (kernel.vec4Readable(segments, dataBuffer) !== setup.aligned) problems.push(`pass 1 ${setup.aligned ? 'did not read' : 'read'} these segments as vec4`);
        const written = [outputOffset * SEGMENT_STATS_WORDS, (outputOffset + segments.length) * SEGMENT_STATS_WORDS];
        const stray = words.findIndex((w, i) => (i < written[0] || i >= written[1]) && w !== SENTINEL);
        if (stray >= 0) problems.push(`stats word ${stray} outside records ${outputOffset}..${outputOffset + segments.length - 1} was overwritten`);
        const gpu = decodeSegmentStats(words, segments.length, outputOffset);
        const ref = segmentStatsReference(data, segments);
        let maxError = 0;
        segments.forEach((segment, i) => {
          const rtol = reduceNormRtol(kernel.sumDepth(segment.length));
          const { error, failure } = compareSegment(gpu[i], ref[i], rtol);
          maxError = Number.isNaN(error) || Number.isNaN(maxError) ? NaN : Math.max(maxError, error);
          if (failure) {
            problems.push(
              `segment ${i} {offset ${segment.offset}, length ${segment.length}}: ${failure}\n    gpu ${describe(gpu[i])}\n    ref ${describe(ref[i])}`,
            );
          }
        });
        const shown = problems.slice(0, 4).join('\n  ');
        const detail = problems.length === 0 ? '' : `${problems.length} problem(s):\n  ${shown}${problems.length > 4 ? '\n  …' : ''}`;
        return { ok: problems.length === 0, maxError, detail };
      } finally {
        reduction.destroy();
        dataBuffer.destroy();
        statsBuffer.destroy();
      }
    },
  };
}

// ---------------------------------------------------------------------------
// The cases

/** Single segments: 1, odd, around a workgroup (256) and a chunk (4096), 2-level pass 2, realistic. */
export const REDUCE_SINGLE_LENGTHS = [1, 7, 255, 256, 257, 4095, 4097, 65_537, 1_000_000];
/** Runs on the adapter's default variant only (seconds on SwiftShader with the wide one). */
export const REDUCE_LONG_LENGTH = 10_000_000;

function single(variant: ReduceVariant | 'default', length: number, aligned: boolean): ConformanceCase {
  return reduceCase({
    kernel: 'gaussian',
    shape: `${length}`,
    variant,
    outputOffset: 1,
    aligned,
    // One segment at an odd (or 4-aligned) offset in a buffer padded with NaN, ±Inf and ±3e38.
    build: () => layoutIn([length], length, () => gaussianData(length, length * 7 + 1), aligned),
  });
}

/** Awkward lengths (0, 1, around 256 and 4096, primes) at offsets that are multiples of nothing. */
const MIXED_LENGTHS = [1, 1, 2, 3, 5, 7, 13, 31, 0, 255, 256, 257, 1000, 4095, 4096, 4097, 1, 8191, 12_289, 65_537, 1, 100_003];

function variantCases(variant: ReduceVariant, aligned: boolean): ConformanceCase[] {
  const layout = (lengths: readonly number[], seed: number, fill: (index: number, length: number) => Float32Array) => layoutIn(lengths, seed, fill, aligned);
  const cases = REDUCE_SINGLE_LENGTHS.map((length) => single(variant, length, aligned));
  cases.push(
    reduceCase({
      kernel: 'mixed lengths, std 1e-3..1e3, 2-D grids',
      shape: `${MIXED_LENGTHS.length} segments`,
      variant,
      aligned,
      outputOffset: 5,
      // Folding at 7 workgroups a dimension runs both passes on 2-D grids with idle tails.
      maxWorkgroupsPerDimension: 7,
      build: () => layout(MIXED_LENGTHS, 11, (i, n) => gaussianData(n, 100 + i, 10 ** ((i % 7) - 3))),
    }),
    reduceCase({
      kernel: 'many segments',
      shape: '600 segments of 1..3000',
      variant,
      aligned,
      outputOffset: 2,
      build: () => {
        const next = seededRandom(12);
        const lengths = Array.from({ length: 600 }, () => 1 + Math.floor(next() ** 3 * 3000));
        return layout(lengths, 13, (i, n) => uniformData(n, 200 + i, -2, 2));
      },
    }),
    reduceCase({
      // Σx² of these overflows f32 (up to ~1e80); the norm of the last ones overflows it too.
      kernel: 'huge values (Σx² overflows f32)',
      shape: '1e25..1e30 ×100003, 1e37..3.4e38 ×4097, ±FLT_MAX',
      variant,
      aligned,
      build: () =>
        layout([100_003, 4097, 1, 3], 14, (i, n) => {
          if (i === 0) return logUniform(n, 300, 25, 30);
          if (i === 1) return logUniform(n, 301, 37, Math.log10(3.4e38));
          return new Float32Array(n).fill(3.4028234663852886e38).map((v, j) => (j % 2 ? -v : v));
        }),
    }),
    reduceCase({
      // Σx² of these underflows f32 (1e-50); scaling keeps every digit.
      kernel: 'tiny values (Σx² underflows f32)',
      shape: '1e-25..1e-20 ×65537, 1.2e-38..1e-36 ×4097',
      variant,
      aligned,
      build: () =>
        layout([65_537, 4097], 15, (i, n) => (i === 0 ? logUniform(n, 400, -25, -20) : logUniform(n, 401, -37.92, -36))),
    }),
    reduceCase({
      // 1e30 among 1e-30 and zeros: the small terms fall below the scale without harm.
      kernel: 'dynamic range 1e-30..1e30 in one segment',
      shape: '50000',
      variant,
      aligned,
      build: () =>
        layout([50_000], 16, (_i, n) => {
          const x = logUniform(n, 500, -30, -25);
          for (let j = 0; j < n; j += 997) x[j] = 1e30 * (1 + (j % 5));
          for (let j = 3; j < n; j += 101) x[j] = j % 2 ? 0 : -0;
          return x;
        }),
    }),
    reduceCase({
      // WGSL may flush subnormals to zero; the kernel scales them through their integer mantissa.
      kernel: 'subnormal values',
      shape: '1e-45..3e-39 ×1000, 1e-41..1e-37 ×5000, 1e-39 among 1',
      variant,
      aligned,
      build: () =>
        layout([1000, 5000, 300], 17, (i, n) => {
          if (i === 0) return logUniform(n, 600, -44.8, -38.5);
          if (i === 1) return logUniform(n, 601, -41, -37);
          return uniformData(n, 602).map((v, j) => (j % 3 ? 1e-39 : v));
        }),
    }),
    reduceCase({
      kernel: 'NaN and ±Inf at known positions',
      shape: '8 segments',
      variant,
      aligned,
      outputOffset: 3,
      build: () => nonfiniteWorkload(aligned),
    }),
    reduceCase({
      kernel: 'zeros and empty segments',
      shape: '0, 1, 4097 zeros, −0',
      variant,
      aligned,
      build: () => layout([0, 1, 4097, 5, 0], 18, (i, n) => new Float32Array(n).fill(i === 3 ? -0 : 0)),
    }),
  );
  return cases;
}

/**
 * Non-finite values where chunking could lose or double count them: first and
 * last element, both sides of a chunk boundary, a run, every element; NaNs
 * with payloads, negative and signalling NaNs, ±Inf. The finite rest keeps
 * its norm.
 */
function nonfiniteWorkload(aligned: boolean): Workload {
  const lengths = [1, 2, 4097, 9000, 300, 65_537, 17, 1];
  const w = layoutIn(lengths, 19, (i, n) => gaussianData(n, 700 + i, 10), aligned);
  const bits = new Uint32Array(w.data.buffer);
  const nans = [0x7fc00000, 0xffc00000, 0x7fc00001, 0x7f800001, 0xffffffff, 0x7f800000, 0xff800000];
  const mark = (segment: number, positions: readonly number[]): void => {
    const { offset, length } = w.segments[segment];
    positions.forEach((p, k) => {
      if (p < length) bits[offset + p] = nans[(segment + k) % nans.length];
    });
  };
  mark(0, [0]); // the only element
  mark(1, [1]); // the last of two
  mark(2, [0, 4095, 4096, 4097 - 1]); // first, both sides of the 4096 boundary, last
  mark(3, Array.from({ length: 90 }, (_, k) => k * 100 + (k % 13))); // spread out
  mark(4, Array.from({ length: 300 }, (_, k) => k)); // every element
  mark(5, [...Array.from({ length: 64 }, (_, k) => 8192 + k), 65_536]); // a run and the last
  mark(6, [3, 5, 7]);
  return w;
}

/**
 * Every case of the family: each variant on every shape, and the 10⁷-element
 * segment on the adapter's default variant (a few tenths of a second on
 * SwiftShader with it, several seconds with the wide one).
 */
export function reduceCases(variants: readonly ReduceVariant[] = REDUCE_VARIANTS): ConformanceCase[] {
  return [
    ...variants.flatMap((v) => [...variantCases(v, false), ...variantCases(v, true)]),
    single('default', REDUCE_LONG_LENGTH, false),
    single('default', REDUCE_LONG_LENGTH, true),
  ];
}
