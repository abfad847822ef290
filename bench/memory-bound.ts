/**
 * Bandwidth-bound kernels in GB/s: relu forward (read x, write y: 8 bytes an
 * element), relu backward (read dy and z, write dx: 12 bytes) and the
 * segment norm (read x: 4 bytes). Each is checked once against float64.
 * relu runs in both forms where the count is a multiple of 4: `vec4` (four
 * elements per invocation, what the engine binds there) and `scalar`.
 */
import type { GpuContext } from '../src/gpu/context.ts';
import { releaseDispatches } from '../src/gpu/context.ts';
import { timeDispatches } from '../src/gpu/timer.ts';
import { prepareElementwise } from '../src/kernels/elementwise.ts';
import { decodeSegmentStats, prepareSegmentReduce, segmentStatsReference, SEGMENT_STATS_BYTES } from '../src/kernels/reduce.ts';
import { reduceNormRtol } from '../src/conformance/reduce.ts';
import { gaussianData } from '../src/conformance/data.ts';
import { measure, type Measurement } from './measure.ts';
import { timedFields, type BenchEntry } from './report.ts';
import { gbps } from './stats.ts';

export type BandwidthKernel = 'relu' | 'reduce';

/** Bytes each kernel must move per element. */
export const BYTES_PER_ELEMENT = { 'relu.forward': 8, 'relu.backward': 12, 'reduce.norm': 4 } as const;

/** The data of a bandwidth run (the TF.js relu baseline runs on the same values). */
export function bandwidthData(count: number): { x: Float32Array; dy: Float32Array } {
  return { x: gaussianData(count, count), dy: gaussianData(count, count + 1) };
}

function entry(kernel: keyof typeof BYTES_PER_ELEMENT, count: number, variant: string, m: Measurement, maxError: number, withinTolerance: boolean): BenchEntry {
  return {
    kernel,
    shape: `${count}`,
    variant,
    ...timedFields(m),
    gbps: gbps(BYTES_PER_ELEMENT[kernel] * count, m.medianMs),
    maxError: Number.isNaN(maxError) ? null : maxError,
    withinTolerance,
  };
}

/** Largest |out − expected| over a strided sample of about 4096 elements (relu is exact: expected is f32 too). */
function sampledMaxError(out: Float32Array, expected: (i: number) => number): number {
  let maxError = 0;
  const stride = Math.max(1, Math.floor(out.length / 4096));
  for (let i = 0; i < out.length; i += stride) {
    const error = Math.abs(out[i] - expected(i));
    if (!(error <= maxError)) maxError = error; // NaN sticks
  }
  return maxError;
}

export async function benchBandwidth(ctx: GpuContext, kernels: readonly BandwidthKernel[], data: { x: Float32Array; dy: Float32Array }, runs: number): Promise<BenchEntry[]> {
  const count = data.x.length;
  const entries: BenchEntry[] = [];
  const x = ctx.upload('bench.x', data.x);
  const dy = ctx.upload('bench.dy', data.dy);
  const y = ctx.createStorage('bench.y', count * 4);
  const stats = ctx.createStorage('bench.stats', SEGMENT_STATS_BYTES);
  try {
    if (kernels.includes('relu')) {
      // The vec4 form (four elements per invocation) where the count allows it, and one element per invocation.
      const forms = count % 4 === 0 ? [true, false] : [false];
      for (const vector of forms) {
        const variant = vector ? 'vec4' : 'scalar';
        const forward = (await prepareElementwise(ctx, { activation: 'relu', direction: 'forward', vector })).bind(count, { x, y });
        const backward = (await prepareElementwise(ctx, { activation: 'relu', direction: 'backward', vector })).bind(count, { dy, z: x, dx: y });
        try {
          const f = await measure((repeat) => timeDispatches(ctx, [forward], repeat), runs);
          const fError = sampledMaxError(await ctx.readF32(y, count), (i) => Math.max(data.x[i], 0));
          entries.push(entry('relu.forward', count, variant, f, fError, fError === 0));
          const b = await measure((repeat) => timeDispatches(ctx, [backward], repeat), runs);
          // relu′(0) = 0, as PyTorch.
          const bError = sampledMaxError(await ctx.readF32(y, count), (i) => (data.x[i] > 0 ? data.dy[i] : 0));
          entries.push(entry('relu.backward', count, variant, b, bError, bError === 0));
        } finally {
          releaseDispatches([forward, backward]);
        }
      }
    }
    if (kernels.includes('reduce')) {
      const reduce = await prepareSegmentReduce(ctx);
      const segment = { offset: 0, length: count };
      const r = reduce.bind([segment], { data: x, stats });
      try {
        const m = await measure((repeat) => timeDispatches(ctx, r.dispatches, repeat), runs);
        const [gpu] = decodeSegmentStats(await ctx.readU32(stats), 1);
        const [ref] = segmentStatsReference(data.x, [segment]);
        const error = Math.abs(gpu.norm - ref.norm) / ref.norm;
        const variant = `${reduce.options.workgroupSize}×${reduce.options.elementsPerThread}`;
        entries.push(entry('reduce.norm', count, variant, m, error, error <= reduceNormRtol(reduce.sumDepth(count))));
      } finally {
        releaseDispatches(r.dispatches);
        r.destroy();
      }
    }
  } finally {
    for (const buffer of [x, dy, y, stats]) buffer.destroy();
  }
  return entries;
}
