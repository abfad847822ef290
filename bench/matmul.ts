/**
 * One matmul cell of the benchmark: a variant at a layout and shape, timed on
 * the GPU and checked once against float64 at sampled elements of C.
 */
import type { GpuContext } from '../src/gpu/context.ts';
import { releaseDispatches } from '../src/gpu/context.ts';
import { timeDispatches } from '../src/gpu/timer.ts';
import { matmulTilingName, prepareMatmul, type MatmulDims, type MatmulLayout, type MatmulVariant } from '../src/kernels/matmul.ts';
import { matmulTolerance } from '../src/conformance/matmul.ts';
import { compareClose } from '../src/conformance/compare.ts';
import { seededRandom } from '../src/conformance/data.ts';
import { measure, type Measurement } from './measure.ts';
import { TUNED_VARIANT } from './models.ts';

/** Elements of C checked against float64: all of a small C, this many of a large one (O(count·K) on the CPU). */
export const CHECKED_ELEMENTS = 512;

export interface MatmulCheck {
  /** Largest |gpu − float64| over the checked elements (NaN when one is not finite). */
  maxError: number;
  /** Every checked element within |Δ| ≤ 1e-6 + (K+2)·2⁻²⁴·Σ|a||b| (matmulTolerance). */
  withinTolerance: boolean;
}

/** Indices of C to check: every one when C has at most `count` elements, else `count` seeded random ones. */
export function checkedIndices(size: number, count: number, seed = 7): number[] {
  if (size <= count) return Array.from({ length: size }, (_, i) => i);
  const next = seededRandom(seed);
  return Array.from({ length: count }, () => Math.floor(next() * size));
}

/** C at `indices` against float64 dot products, with the matmul accuracy contract. */
export function checkMatmul(layout: MatmulLayout, d: MatmulDims, a: Float32Array, b: Float32Array, c: Float32Array, indices: readonly number[]): MatmulCheck {
  const gpu: number[] = [];
  const ref: number[] = [];
  const magnitude: number[] = [];
  for (const index of indices) {
    const m = Math.floor(index / d.n);
    const n = index % d.n;
    let sum = 0;
    let scale = 0;
    for (let k = 0; k < d.k; k++) {
      const product = (layout === 'tn' ? a[k * d.m + m] : a[m * d.k + k]) * (layout === 'nt' ? b[n * d.k + k] : b[k * d.n + n]);
      sum += product;
      scale += Math.abs(product);
    }
    gpu.push(c[index]);
    ref.push(sum);
    magnitude.push(scale);
  }
  const report = compareClose(gpu, ref, matmulTolerance(d.k), magnitude);
  return { maxError: report.maxAbsError, withinTolerance: report.ok };
}

export interface MatmulOperands {
  dims: MatmulDims;
  /** op(A)'s storage: [M,K], or [K,M] for tn. */
  a: Float32Array;
  /** op(B)'s storage: [N,K] for nt, else [K,N]. */
  b: Float32Array;
}

/**
 * Times `variant` at `layout` on the operands (timer.ts: timestamps, or wall
 * time over repeats in one submit), then checks C. TUNED_VARIANT runs the
 * kernel the engine picks for this shape class (ctx.tunedVariants); `tiling`
 * names what ran.
 */
export async function benchMatmulVariant(
  ctx: GpuContext,
  variant: MatmulVariant,
  layout: MatmulLayout,
  operands: MatmulOperands,
  runs: number,
): Promise<{ measurement: Measurement; check: MatmulCheck; tiling: string }> {
  const { dims, a, b } = operands;
  const buffers = { a: ctx.upload('bench.a', a), b: ctx.upload('bench.b', b), c: ctx.createStorage('bench.c', dims.m * dims.n * 4) };
  try {
    const kernel = await prepareMatmul(ctx, variant === TUNED_VARIANT ? { layout, shapes: [dims] } : { layout, variant });
    const dispatch = kernel.bind(dims, buffers);
    try {
      const measurement = await measure((repeat) => timeDispatches(ctx, [dispatch], repeat), runs);
      // C holds the last run's result: every run computes the same C.
      const c = await ctx.readF32(buffers.c, dims.m * dims.n);
      const check = checkMatmul(layout, dims, a, b, c, checkedIndices(dims.m * dims.n, CHECKED_ELEMENTS));
      return { measurement, check, tiling: matmulTilingName(kernel.tilingFor(dims)) };
    } finally {
      releaseDispatches([dispatch]);
    }
  } finally {
    for (const buffer of Object.values(buffers)) buffer.destroy();
  }
}
