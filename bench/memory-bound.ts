import type { GpuContext } from '../src/gpu/context.ts';
import { releaseDispatches } from '../src/gpu/context.ts';
import { timeDispatches } from '../src/gpu/timer.ts';
import { prepareElementwise } from '../src/kernels/elementwise.ts';
import { decodeSegmentStats, prepareSegmentReduce, SEGMENT_STATS_BYTES } from '../src/kernels/reduce.ts';
import { gaussianData } from '../src/conformance/data.ts';
import { summarize, type TimingSummary } from './stats.ts';

export interface BandwidthEntry extends TimingSummary {
  kernel: string;
  shape: string;
  variant: string;
  ms: number;
  /** Bytes the kernel must move (read + write, once each) per ms → GB/s. */
  gbps: number;
  /** |gpu − float64| of the checked quantity (relu: sampled outputs; reduce: the norm, relative). */
  maxError: number;
  timing: 'gpu-timestamps' | 'wall-clock';
}

async function timed(ctx: GpuContext, run: () => Promise<{ ms: number; source: BandwidthEntry['timing'] }>, runs: number) {
  await run();
  const samples: number[] = [];
  let source: BandwidthEntry['timing'] = 'wall-clock';
  for (let r = 0; r < runs; r++) {
    const t = await run();
    samples.push(t.ms);
    source = t.source;
  }
  return { summary: summarize(samples), source };
}

/** relu forward (read 4 + write 4 bytes an element) and the segment norm (read 4 bytes an element). */
export async function benchMemoryBound(ctx: GpuContext, counts: number[], kernels: ('relu' | 'reduce')[], runs: number): Promise<BandwidthEntry[]> {
  const entries: BandwidthEntry[] = [];
  for (const count of counts) {
    const data = gaussianData(count, count);
    const x = ctx.upload('bench.x', data);
    const y = ctx.createStorage('bench.y', count * 4);
    const stats = ctx.createStorage('bench.stats', SEGMENT_STATS_BYTES);
    try {
      if (kernels.includes('relu')) {
        const relu = await prepareElementwise(ctx, { activation: 'relu', direction: 'forward' });
        const d = relu.bind(count, { x, y });
        const { summary, source } = await timed(ctx, () => timeDispatches(ctx, [d]), runs);
        const out = await ctx.readF32(y, count);
        let maxError = 0;
        for (let i = 0; i < count; i += Math.max(1, Math.floor(count / 4096))) maxError = Math.max(maxError, Math.abs(out[i] - Math.max(data[i], 0)));
        releaseDispatches([d]);
        entries.push({ kernel: 'relu.forward', shape: `${count}`, variant: 'elementwise', ms: summary.medianMs, gbps: (8 * count) / (summary.medianMs * 1e6), maxError, timing: source, ...summary });
      }
      if (kernels.includes('reduce')) {
        const reduce = await prepareSegmentReduce(ctx);
        const r = reduce.bind([{ offset: 0, length: count }], { data: x, stats });
        const { summary, source } = await timed(ctx, () => timeDispatches(ctx, r.dispatches), runs);
        const [gpu] = decodeSegmentStats(await ctx.readU32(stats), 1);
        let sum = 0;
        for (let i = 0; i < count; i++) sum += data[i] * data[i];
        releaseDispatches(r.dispatches);
        r.destroy();
        entries.push({ kernel: 'reduce.norm', shape: `${count}`, variant: `${reduce.options.workgroupSize}×${reduce.options.elementsPerThread}`, ms: summary.medianMs, gbps: (4 * count) / (summary.medianMs * 1e6), maxError: Math.abs(gpu.norm - Math.sqrt(sum)) / Math.sqrt(sum), timing: source, ...summary });
      }
    } finally {
      x.destroy();
      y.destroy();
      stats.destroy();
    }
  }
  return entries;
}
