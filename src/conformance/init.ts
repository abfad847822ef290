import type { GpuContext } from '../gpu/context.ts';
import {
  defaultOrthogonalVariant,
  fillAffine,
  gramError,
  isometryError,
  orthogonalGeometry,
  prepareOrthogonal,
  prepareRandomFill,
  prepareTransformProbe,
  boxMullerRef,
  randomBitsRef,
  randomFillRef,
  triangularError,
  ORTHOGONAL_VARIANTS,
  type OrthogonalVariant,
  type RandomFill,
} from '../kernels/init.ts';
import type { CaseResult, ConformanceCase } from './case.ts';
import { compareClose, describeReport } from './compare.ts';

const UNIT_ROUNDOFF = 2 ** -24;

/**
 * Normal fill vs the float64 Box–Muller of the same bits. The shader computes
 * ln and sin/cos(π·) itself from correctly rounded + − × and one division:
 * ≈ 3 ulps for ln, ≈ 2 for sin/cos, 1 for sqrt, 1 for r·cos, 2 for mean + std·z
 * (SwiftShader's worst over 2²⁰ draws: 3.4 ulps of z). 16 ulps of the
 * magnitude |mean| + |std·z| leaves room for compilers that fuse or reorder.
 */
export const NORMAL_TOLERANCE = { atol: 0, rtol: 16 * UNIT_ROUNDOFF };

/** Uniform fill with low/high: fl(low + fl(scale·u)), u exact: two roundings of the magnitude. */
export const UNIFORM_TOLERANCE = { atol: 0, rtol: 2 * UNIT_ROUNDOFF };

/**
 * Orthogonality of gain·Q from modified Gram–Schmidt run twice, for vectors
 * of length len: ‖QᵀQ − I‖_max (QQᵀ for wide W) ≤ 4(√len + 4)·2⁻²⁴. The
 * rounding errors of the length-len inner products add up like a random walk
 * (≈ √len·u per entry; the max over up to n² entries is ≈ 4 of those), the
 * second sweep keeps them there whatever the conditioning of G, and the +4
 * covers the final normalisation (WGSL's sqrt and division may be off by a few
 * ulps, squared in the Gram matrix) and the f32 rounding of gain. The same
 * bound is applied to the part of QᵀG below the diagonal (relative to ‖g_k‖)
 * and to |‖Wx‖/(gain‖x‖) − 1|. Measured on SwiftShader: 1e-7 to 3.4e-7 up to
 * 512×512 (≥ 6× inside); a single sweep gives κ(G)·u ≈ 1.4e-5 at 256×256 and
 * fails, as it should. (Higham's worst case 2(len + 2)·u would let it pass.)
 */
export function orthogonalTolerance(len: number): number {
  return 4 * (Math.sqrt(len) + 4) * UNIT_ROUNDOFF;
}

/** A word no fill writes by chance in these tests (a NaN payload). */
const SENTINEL = 0x7fc0beef;

function hex(x: number): string {
  return `0x${(x >>> 0).toString(16).padStart(8, '0')}`;
}

function compareBits(gpu: Uint32Array, ref: Uint32Array): { mismatches: number; detail: string } {
  let mismatches = 0;
  let first = -1;
  for (let i = 0; i < ref.length; i++) {
    if (gpu[i] !== ref[i]) {
      mismatches++;
      if (first < 0) first = i;
    }
  }
  const detail =
    mismatches === 0 ? '' : `${mismatches} of ${ref.length} words differ; first [${first}]: gpu ${hex(gpu[first])} vs ref ${hex(ref[first])}`;
  return { mismatches, detail };
}

function result(ok: boolean, maxError: number, detail: string): CaseResult {
  return { ok, maxError, detail: ok ? '' : detail };
}

/** Words outside [offset, offset + count) that are no longer the sentinel. */
function sentinelDamage(words: Uint32Array, offset: number, count: number): string {
  for (let i = 0; i < words.length; i++) {
    if ((i < offset || i >= offset + count) && words[i] !== SENTINEL) {
      return `word [${i}] outside the filled region [${offset}, ${offset + count}) changed to ${hex(words[i])}`;
    }
  }
  return '';
}

/** Runs `fill` of `distribution` into a sentinel-filled buffer with `pad` spare words each side; returns all words. */
async function fillPadded(
  ctx: GpuContext,
  distribution: 'bits' | 'uniform' | 'normal',
  fill: RandomFill,
  pad: number,
): Promise<{ words: Uint32Array; values: Uint32Array; damage: string }> {
  const kernel = await prepareRandomFill(ctx, distribution);
  const offset = fill.offset ?? 0;
  const total = offset + fill.count + pad;
  const buffer = ctx.upload(`init.${distribution} target`, new Uint32Array(total).fill(SENTINEL));
  try {
    await ctx.run([kernel.bind(fill, buffer)]);
    const words = await ctx.readU32(buffer, total);
    return { words, values: words.slice(offset, offset + fill.count), damage: sentinelDamage(words, offset, fill.count) };
  } finally {
    buffer.destroy();
  }
}

// ---------------------------------------------------------------------------
// Random bits, uniform and normal fills

/** |loc| + |scale·unit| per element: the scale of a fill's rounding error (loc + scale·unit may cancel). */
export function fillMagnitude(ref: ArrayLike<number>, loc: number): number[] {
  const loc32 = Math.fround(loc);
  return Array.from(ref, (v) => Math.abs(loc32) + Math.abs(v - loc32));
}

export const BITS_COUNTS: readonly number[] = [1, 3, 4, 5, 1001, 1 << 20];

/** A seed using both words, varied per count; streams likewise. */
function seedFor(count: number): number {
  return 0x1234_5678_9abc + count * 7919;
}

export function bitsCase(count: number, offset = count % 7): ConformanceCase {
  return {
    family: 'init',
    kernel: 'init bits (Philox4x32-10)',
    shape: `${count} @ ${offset}`,
    contract: 'bit-exact vs CPU Philox4x32-10 (Random123); rest of the buffer untouched',
    async run(ctx) {
      const fill: RandomFill = { seed: seedFor(count), stream: [count, 0xabcdef], count, offset };
      const { values, damage } = await fillPadded(ctx, 'bits', fill, 5);
      const { mismatches, detail } = compareBits(values, randomBitsRef(fill, count));
      return result(mismatches === 0 && damage === '', mismatches, detail || damage);
    },
  };
}

export function uniformExactCase(count: number): ConformanceCase {
  return {
    family: 'init',
    kernel: 'init uniform [0,1)',
    shape: `${count}`,
    contract: 'bit-exact: u = (x >> 8)·2⁻²⁴ of the Philox words',
    async run(ctx) {
      const fill: RandomFill = { seed: seedFor(count) + 1, stream: 3, count };
      const { values, damage } = await fillPadded(ctx, 'uniform', fill, 0);
      const ref = new Uint32Array(Float32Array.from(randomFillRef('uniform', fill)).buffer);
      const { mismatches, detail } = compareBits(values, ref);
      return result(mismatches === 0 && damage === '', mismatches, detail || damage);
    },
  };
}

function closeCase(distribution: 'uniform' | 'normal', count: number, fill: Omit<RandomFill, 'count'>): ConformanceCase {
  const tolerance = distribution === 'normal' ? NORMAL_TOLERANCE : UNIFORM_TOLERANCE;
  const params =
    distribution === 'normal' ? `mean ${fill.mean ?? 0}, std ${fill.std ?? 1}` : `low ${fill.low ?? 0}, high ${fill.high ?? 1}`;
  return {
    family: 'init',
    kernel: `init ${distribution} (${params})`,
    shape: `${count} @ ${fill.offset ?? 0}`,
    contract: `|Δ| ≤ ${tolerance.rtol / UNIT_ROUNDOFF}·2⁻²⁴·(|loc| + |scale·unit|) vs float64 from the same bits`,
    async run(ctx) {
      const full: RandomFill = { ...fill, count };
      const { values, damage } = await fillPadded(ctx, distribution, full, 3);
      const gpu = new Float32Array(values.buffer, values.byteOffset, values.length);
      const ref = randomFillRef(distribution, full);
      const report = compareClose(gpu, ref, tolerance, fillMagnitude(ref, fillAffine(distribution, full).loc));
      return result(report.ok && damage === '', report.maxAbsError, report.ok ? damage : describeReport(report));
    },
  };
}

/**
 * The shader's Box–Muller on chosen words: every 2⁴th radius word over all 2²⁴
 * (including u = 2⁻²⁴ and u = 1) against angle words that sweep s ∈ [−1, 1),
 * plus the exact angles s = −1, −½, 0, ½ and their neighbours.
 */
export function transformEdgesCase(): ConformanceCase {
  const radii = 1 << 20;
  return {
    family: 'init',
    kernel: 'init normal transform (Box–Muller edges)',
    shape: `${radii + 64} pairs`,
    contract: `|Δz| ≤ 16·2⁻²⁴·|z| vs float64 Box–Muller of the same words`,
    async run(ctx) {
      const special = [0, 1, 2, 1 << 22, (1 << 22) - 1, (1 << 22) + 1, 1 << 23, (1 << 23) - 1, (1 << 23) + 1, 3 << 22, (3 << 22) - 1, (3 << 22) + 1, (1 << 24) - 1, (1 << 24) - 2];
      const words: number[] = [];
      for (let m = 0; m < radii; m++) {
        const radius = m === radii - 1 ? (1 << 24) - 1 : m << 4;
        const angle = (m * 2654435761) >>> 8; // Weyl sequence over the 24 angle bits
        words.push(radius << 8 | (m & 0xff), (angle << 8) >>> 0);
      }
      for (const r of [0, (1 << 24) - 1, 1 << 23]) {
        for (const a of special) words.push((r << 8) >>> 0, (a << 8 | 0x5a) >>> 0);
      }
      const pairs = words.length / 2;
      const bitsData = Uint32Array.from(words, (w) => w >>> 0);
      const probe = await prepareTransformProbe(ctx);
      const bits = ctx.upload('probe bits', bitsData);
      const z = ctx.createStorage('probe z', pairs * 8);
      try {
        await ctx.run([probe.bind(pairs, { bits, z })]);
        const gpu = await ctx.readF32(z, pairs * 2);
        const ref = new Float64Array(pairs * 2);
        for (let p = 0; p < pairs; p++) {
          const [z0, z1] = boxMullerRef(bitsData[2 * p], bitsData[2 * p + 1]);
          ref[2 * p] = z0;
          ref[2 * p + 1] = z1;
        }
        const report = compareClose(gpu, ref, NORMAL_TOLERANCE);
        return result(report.ok, report.maxAbsError, describeReport(report));
      } finally {
        bits.destroy();
        z.destroy();
      }
    },
  };
}

/**
 * Moments of 10⁶ normals N(μ, σ²) at a fixed seed, each within 5 standard
 * errors of its sampling distribution: mean ±5σ/√n, variance ±5σ²√(2/n),
 * skewness ±5√(6/n), kurtosis 3 ± 5√(24/n). (The 24-bit radius truncates the
 * tails at 5.77σ and makes u discrete: both shift these moments by < 10⁻⁵.)
 */
export function normalMomentsCase(count = 1_000_000, mean = 0.5, std = 2): ConformanceCase {
  const n = count;
  const bounds = { mean: (5 * std) / Math.sqrt(n), variance: 5 * Math.sqrt(2 / n), skewness: 5 * Math.sqrt(6 / n), kurtosis: 5 * Math.sqrt(24 / n) };
  return {
    family: 'init',
    kernel: `init normal moments (mean ${mean}, std ${std})`,
    shape: `${count}`,
    contract: 'mean ±5σ/√n, var/σ² 1 ± 5√(2/n), skew ±5√(6/n), kurtosis 3 ± 5√(24/n)',
    async run(ctx) {
      const kernel = await prepareRandomFill(ctx, 'normal');
      const buffer = ctx.createStorage('moments', count * 4);
      try {
        await ctx.run([kernel.bind({ seed: 20240601, stream: 99, count, mean, std }, buffer)]);
        const x = await ctx.readF32(buffer, count);
        let sum = 0;
        for (let i = 0; i < n; i++) sum += x[i];
        const m = sum / n;
        let m2 = 0;
        let m3 = 0;
        let m4 = 0;
        for (let i = 0; i < n; i++) {
          const d = x[i] - m;
          const d2 = d * d;
          m2 += d2;
          m3 += d2 * d;
          m4 += d2 * d2;
        }
        m2 /= n;
        m3 /= n;
        m4 /= n;
        const errors = {
          mean: Math.abs(m - mean),
          variance: Math.abs(m2 / (std * std) - 1),
          skewness: Math.abs(m3 / m2 ** 1.5),
          kurtosis: Math.abs(m4 / (m2 * m2) - 3),
        };
        const failed = (Object.keys(errors) as (keyof typeof errors)[]).filter((k) => !(errors[k] <= bounds[k]));
        const detail = failed.map((k) => `${k}: |error| ${errors[k].toExponential(3)} > ${bounds[k].toExponential(3)}`).join('; ');
        const worst = Math.max(...(Object.keys(errors) as (keyof typeof errors)[]).map((k) => errors[k] / bounds[k]));
        return result(failed.length === 0, worst, detail);
      } finally {
        buffer.destroy();
      }
    },
  };
}

/**
 * Same (seed, stream) twice → identical words; another seed, another stream
 * (low or high word), or seed n vs the pair [n mod 2³², ⌊n/2³²⌋] → the
 * expected relation; different streams → uncorrelated normals (|r| ≤ 5/√n).
 */
export function determinismCase(count = 1 << 16): ConformanceCase {
  return {
    family: 'init',
    kernel: 'init determinism and independence',
    shape: `${count}`,
    contract: 'same key → same bits; other seed/stream → ≥ 99.9% words differ; |corr| ≤ 5/√n',
    async run(ctx) {
      const bits = await prepareRandomFill(ctx, 'bits');
      const normal = await prepareRandomFill(ctx, 'normal');
      const base = 2 ** 40 + 12345;
      const keys: RandomFill[] = [
        { seed: base, stream: 1, count },
        { seed: [12345, 256], stream: [1, 0], count }, // the same key written as a pair
        { seed: base + 1, stream: 1, count },
        { seed: base, stream: 2, count },
        { seed: base, stream: [1, 1], count },
      ];
      const buffers = keys.map((_, i) => ctx.createStorage(`determinism ${i}`, count * 4));
      const normals = [ctx.createStorage('normal a', count * 4), ctx.createStorage('normal b', count * 4)];
      try {
        await ctx.run([
          ...keys.map((k, i) => bits.bind(k, buffers[i])),
          normal.bind({ seed: base, stream: 1, count }, normals[0]),
          normal.bind({ seed: base, stream: 2, count }, normals[1]),
        ]);
        // Read one at a time: GpuContext.read is not safe for more concurrent reads than staging slots.
        const words: Uint32Array[] = [];
        for (const buffer of buffers) words.push(await ctx.readU32(buffer, count));
        const again = await (async () => {
          await ctx.run([bits.bind(keys[0], buffers[1])]);
          return ctx.readU32(buffers[1], count);
        })();
        const problems: string[] = [];
        const same = (a: Uint32Array, b: Uint32Array) => compareBits(a, b);
        const rerun = same(words[0], again);
        if (rerun.mismatches) problems.push(`rerun differs: ${rerun.detail}`);
        const pair = same(words[0], words[1]);
        if (pair.mismatches) problems.push(`seed ${base} and its [lo, hi] pair differ: ${pair.detail}`);
        let worstShare = 0;
        for (const [i, what] of [[2, 'seed + 1'], [3, 'stream 2'], [4, 'stream high word']] as const) {
          const { mismatches } = same(words[0], words[i]);
          worstShare = Math.max(worstShare, 1 - mismatches / count);
          if (mismatches < 0.999 * count) problems.push(`${what}: only ${mismatches} of ${count} words differ`);
        }
        const a = await ctx.readF32(normals[0], count);
        const b = await ctx.readF32(normals[1], count);
        let ab = 0;
        let aa = 0;
        let bb = 0;
        for (let i = 0; i < count; i++) {
          ab += a[i] * b[i];
          aa += a[i] * a[i];
          bb += b[i] * b[i];
        }
        const corr = ab / Math.sqrt(aa * bb);
        if (!(Math.abs(corr) <= 5 / Math.sqrt(count))) problems.push(`streams 1 and 2 correlate: r = ${corr.toFixed(5)}`);
        return result(problems.length === 0, Math.max(worstShare, Math.abs(corr)), problems.join('; '));
      } finally {
        for (const buffer of [...buffers, ...normals]) buffer.destroy();
      }
    },
  };
}

/**
 * Two tensors filled side by side in one arena buffer (one through a binding
 * window at a 256-byte offset): each gets exactly its own numbers, which do
 * not depend on where it sits; the words around them stay untouched.
 */
export function arenaCase(): ConformanceCase {
  return {
    family: 'init',
    kernel: 'init arena (fills at offsets, binding windows)',
    shape: '1001 @ 37 + 513 @ 64+1101',
    contract: 'each region bit-exact (normal: ≤ 16 ulps) vs its reference; every other word untouched',
    async run(ctx) {
      const bits = await prepareRandomFill(ctx, 'bits');
      const normal = await prepareRandomFill(ctx, 'normal');
      const total = 2048 + 64;
      const arena = ctx.upload('arena', new Uint32Array(total).fill(SENTINEL));
      try {
        const first: RandomFill = { seed: 7, stream: 1, count: 1001, offset: 37 };
        const second: RandomFill = { seed: 7, stream: 2, count: 513, offset: 1101 - 64, std: 0.1 };
        await ctx.run([
          bits.bind(first, arena),
          normal.bind(second, { buffer: arena, offset: 256, size: (total - 64) * 4 }),
        ]);
        const words = await ctx.readU32(arena, total);
        const problems: string[] = [];
        const a = compareBits(words.slice(37, 37 + 1001), randomBitsRef(first, 1001));
        if (a.mismatches) problems.push(`bits region: ${a.detail}`);
        const gpu = new Float32Array(words.slice(1101, 1101 + 513).buffer);
        const ref = randomFillRef('normal', second);
        const report = compareClose(gpu, ref, NORMAL_TOLERANCE, fillMagnitude(ref, 0));
        if (!report.ok) problems.push(`normal region: ${describeReport(report)}`);
        for (let i = 0; i < total; i++) {
          const inside = (i >= 37 && i < 1038) || (i >= 1101 && i < 1614);
          if (!inside && words[i] !== SENTINEL) {
            problems.push(`word [${i}] outside both regions changed to ${hex(words[i])}`);
            break;
          }
        }
        return result(problems.length === 0, a.mismatches + report.maxAbsError, problems.join('; '));
      } finally {
        arena.destroy();
      }
    },
  };
}

// ---------------------------------------------------------------------------
// Orthogonal

export interface OrthogonalShape {
  rows: number;
  cols: number;
}

export const ORTHOGONAL_SHAPES: readonly OrthogonalShape[] = [
  { rows: 1, cols: 1 },
  { rows: 1, cols: 33 },
  { rows: 33, cols: 1 },
  { rows: 7, cols: 13 },
  { rows: 13, cols: 7 },
  { rows: 64, cols: 64 },
  { rows: 129, cols: 65 },
  { rows: 256, cols: 256 },
];
export const ORTHOGONAL_GAINS: readonly number[] = [1, 1.7];

/**
 * W = gain·Q at an offset in a sentinel-filled buffer, checked in float64
 * against the gaussian G drawn with the same (seed, stream): Q's vectors are
 * orthonormal (Gram error), QᵀG is upper triangular with a positive diagonal
 * (so Q is G's QR factor, Haar-distributed), ‖Wx‖ = gain‖x‖, and the words
 * around W are untouched.
 */
export function orthogonalCase(shape: OrthogonalShape, gain: number, variant?: OrthogonalVariant): ConformanceCase {
  const { rows, cols } = shape;
  const { len } = orthogonalGeometry(rows, cols);
  const tol = orthogonalTolerance(len);
  return {
    family: 'init',
    kernel: `init orthogonal ${variant ?? 'default'} gain ${gain}`,
    shape: `${rows}×${cols}`,
    contract: `‖${rows <= cols ? 'QQᵀ' : 'QᵀQ'} − I‖_max, |tril(QᵀG)|/‖g‖, |‖Wx‖/gain‖x‖ − 1| ≤ 4(√len+4)·2⁻²⁴ = ${tol.toExponential(2)}; diag(R) > 0`,
    async run(ctx) {
      const kernel = await prepareOrthogonal(ctx, { variant: variant ?? defaultOrthogonalVariant(ctx.summary) });
      const normal = await prepareRandomFill(ctx, 'normal');
      const count = rows * cols;
      const offset = 5;
      const total = offset + count + 3;
      const w = ctx.upload('orthogonal W', new Uint32Array(total).fill(SENTINEL));
      const g = ctx.createStorage('orthogonal G', count * 4);
      const key = { seed: 1000 + rows * 31 + cols, stream: 42 };
      try {
        await ctx.run([...kernel.bind({ ...key, rows, cols, gain, offset }, w), normal.bind({ ...key, count }, g)]);
        const words = await ctx.readU32(w, total);
        const W = new Float32Array(words.slice(offset, offset + count).buffer);
        const G = await ctx.readF32(g, count);
        const problems: string[] = [];
        const damage = sentinelDamage(words, offset, count);
        if (damage) problems.push(damage);
        const nonFinite = W.findIndex((v) => !Number.isFinite(v));
        if (nonFinite >= 0) problems.push(`W[${nonFinite}] = ${W[nonFinite]}`);
        const gram = gramError(W, rows, cols, gain);
        const tri = triangularError(W, G, rows, cols, gain);
        const iso = isometryError(W, rows, cols, gain);
        if (!(gram <= tol)) problems.push(`Gram error ${gram.toExponential(3)} > ${tol.toExponential(3)}`);
        if (!(tri.offTriangle <= tol)) problems.push(`QᵀG below the diagonal ${tri.offTriangle.toExponential(3)} > ${tol.toExponential(3)}`);
        if (!(tri.minDiagonal > 0)) problems.push(`diag(R) not positive: min r_kk/‖g_k‖ = ${tri.minDiagonal}`);
        if (!(iso <= tol)) problems.push(`‖Wx‖/(gain‖x‖) off by ${iso.toExponential(3)} > ${tol.toExponential(3)}`);
        return result(problems.length === 0, Math.max(gram, tri.offTriangle, iso), problems.join('; '));
      } finally {
        w.destroy();
        g.destroy();
      }
    },
  };
}

export function orthogonalCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  // The adapter's own variant on every shape and gain.
  for (const shape of ORTHOGONAL_SHAPES) for (const gain of ORTHOGONAL_GAINS) cases.push(orthogonalCase(shape, gain));
  // Every variant explicitly on the small and non-square shapes (`workgroup` is slow on SwiftShader).
  const small = ORTHOGONAL_SHAPES.filter((s) => s.rows * s.cols <= 129 * 65 && (s.rows !== s.cols || s.rows === 1) && s.rows * s.cols !== 33);
  for (const variant of ORTHOGONAL_VARIANTS) for (const shape of small) cases.push(orthogonalCase(shape, 1.7, variant));
  return cases;
}

export function initCases(): ConformanceCase[] {
  return [
    ...BITS_COUNTS.map((count) => bitsCase(count)),
    determinismCase(),
    uniformExactCase(1001),
    uniformExactCase(1 << 16),
    closeCase('uniform', 1001, { seed: 11, stream: 4, low: -0.25, high: 0.75, offset: 3 }),
    ...[1, 3, 5, 1001, 1 << 16].map((count) => closeCase('normal', count, { seed: seedFor(count), stream: 5, mean: 0.25, std: 3, offset: count % 5 })),
    transformEdgesCase(),
    normalMomentsCase(),
    arenaCase(),
    ...orthogonalCases(),
  ];
}
