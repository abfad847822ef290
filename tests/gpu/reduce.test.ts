import { describe, expect, it } from 'vitest';
import { REDUCE_CONTRACT, reduceCases } from '../../src/conformance/reduce.ts';
import { decodeSegmentStats, prepareSegmentReduce, SEGMENT_STATS_WORDS } from '../../src/kernels/reduce.ts';
import { testGpu } from '../support/gpu.ts';
import { itPassesEachCase } from '../support/conformance.ts';

// Both variants on single segments (1 … 10⁶, and 10⁷ on the adapter's default
// variant), mixed awkward segments in one dispatch pair (2-D grids forced),
// huge, tiny, subnormal, non-finite and zero inputs, against float64.
describe(`segment reduce on the GPU matches float64: ${REDUCE_CONTRACT}`, () => {
  itPassesEachCase(reduceCases());

  it('is bound once and rerun each step with new data, into a caller-chosen record', async () => {
    const ctx = await testGpu();
    const reduce = await prepareSegmentReduce(ctx);
    const data = ctx.createStorage('data', 10 * 4);
    const stats = ctx.createStorage('stats', 4 * SEGMENT_STATS_WORDS * 4);
    const r = reduce.bind([{ offset: 1, length: 2 }, { offset: 4, length: 5 }], { data, stats }, { outputOffset: 2 });
    try {
      for (const k of [1, 2, 3]) {
        ctx.device.queue.writeBuffer(data, 0, Float32Array.from({ length: 10 }, (_, i) => (i === 9 ? NaN : k * i)));
        await ctx.run(r.dispatches);
        const [a, b] = decodeSegmentStats(await ctx.readU32(stats), 2, 2);
        expect(a.norm).toBeCloseTo(k * Math.hypot(1, 2), 5);
        expect(a.maxAbs).toBe(2 * k);
        expect(b.norm).toBeCloseTo(k * Math.hypot(4, 5, 6, 7, 8), 4);
        expect(b.nonfinite).toBe(0);
      }
      expect(() => reduce.bind([{ offset: 10, length: 3 }], { data, stats })).toThrow(/runs past/);
      expect(() => reduce.bind([{ offset: 0, length: 1 }], { data, stats }, { outputOffset: 4 })).toThrow(/do not fit/);
    } finally {
      r.destroy();
      data.destroy();
      stats.destroy();
    }
    expect(ctx.takeUncapturedErrors()).toEqual([]);
  });
});
