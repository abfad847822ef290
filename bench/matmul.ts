import type { GpuContext } from '../src/gpu/context.ts';
import { timeDispatches } from '../src/gpu/timer.ts';
import { MATMUL_LAYOUTS, prepareMatmul, type MatmulDims, type MatmulLayout, type MatmulVariant } from '../src/kernels/matmul.ts';
import { uniformData } from '../src/conformance/data.ts';
import { matmulGflops, summarize, type TimingSummary } from './stats.ts';

export interface BenchEntry extends TimingSummary {
  kernel: string;
  shape: string;
  variant: string;
  ms: number;
  gflops: number;
  /** Largest |gpu − float64| over sampled elements of C, checked once per shape. */
  maxError: number;
  timing: 'gpu-timestamps' | 'wall-clock';
}

/** float64 values of C at `count` sampled positions: a check that costs O(count·K), not O(M·N·K). */
function sampledReference(layout: MatmulLayout, d: MatmulDims, a: Float32Array, b: Float32Array, count: number) {
  const picks: { index: number; value: number }[] = [];
  let state = 12345;
  for (let s = 0; s < count; s++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    const index = state % (d.m * d.n);
    const m = Math.floor(index / d.n);
    const n = index % d.n;
    let sum = 0;
    for (let k = 0; k < d.k; k++) {
      const av = layout === 'tn' ? a[k * d.m + m] : a[m * d.k + k];
      const bv = layout === 'nt' ? b[n * d.k + k] : b[k * d.n + n];
      sum += av * bv;
    }
    picks.push({ index, value: sum });
  }
  return picks;
}

export interface MatmulBenchOptions {
  sizes: number[];
  variants: MatmulVariant[];
  layouts?: MatmulLayout[];
  runs: number;
  onEntry?: (entry: BenchEntry) => void;
}

export async function benchMatmul(ctx: GpuContext, options: MatmulBenchOptions): Promise<BenchEntry[]> {
  const entries: BenchEntry[] = [];
  for (const size of options.sizes) {
    const dims = { m: size, n: size, k: size };
    const a = uniformData(size * size, size);
    const b = uniformData(size * size, size + 1);
    const buffers = { a: ctx.upload('bench.a', a), b: ctx.upload('bench.b', b), c: ctx.createStorage('bench.c', size * size * 4) };
    try {
      for (const variant of options.variants) {
        for (const layout of options.layouts ?? MATMUL_LAYOUTS) {
          const kernel = await prepareMatmul(ctx, { layout, variant });
          const dispatch = kernel.bind(dims, buffers);
          // Warm-up (first dispatch pays for JIT and memory first-touch), then the check.
          await ctx.run([dispatch]);
          const c = await ctx.readF32(buffers.c, size * size);
          let maxError = 0;
          for (const { index, value } of sampledReference(layout, dims, a, b, 256)) {
            maxError = Math.max(maxError, Math.abs(c[index] - value));
          }
          const samples: number[] = [];
          let source: BenchEntry['timing'] = 'wall-clock';
          for (let r = 0; r < options.runs; r++) {
            const t = await timeDispatches(ctx, [dispatch]);
            samples.push(t.ms);
            source = t.source;
          }
          const summary = summarize(samples);
          const entry: BenchEntry = {
            kernel: `matmul.${layout}`,
            shape: `${size}×${size}×${size}`,
            variant,
            ms: summary.medianMs,
            gflops: matmulGflops(size, size, size, summary.medianMs),
            maxError,
            timing: source,
            ...summary,
          };
          entries.push(entry);
          options.onEntry?.(entry);
        }
      }
    } finally {
      for (const buffer of Object.values(buffers)) buffer.destroy();
    }
  }
  return entries;
}
