import { describe, expect, it } from 'vitest';
import { fillMagnitude, initCases, NORMAL_TOLERANCE, orthogonalTolerance } from '../../src/conformance/init.ts';
import { compareClose, describeReport } from '../../src/conformance/compare.ts';
import {
  fillSpec,
  gramError,
  RandomFillKernel,
  orthogonalDispatchCount,
  orthogonalRef,
  prepareInit,
  prepareOrthogonal,
  prepareRandomFill,
  randomBitsRef,
  randomFillRef,
} from '../../src/kernels/init.ts';
import { testGpu } from '../support/gpu.ts';
import { itPassesEachCase } from '../support/conformance.ts';

// Philox bits bit-exact for counts 1, 3, 4, 5, 1001, 2²⁰; uniform [0,1) bit-exact;
// normal within 16 ulps of float64 from the same bits; moments of 10⁶ normals;
// determinism and stream independence; fills at offsets; orthogonal 1×1 … 256×256
// with gains 1 and 1.7 (Gram error, QR triangularity, isometry).
describe('init on the GPU: Philox bit-exact, normal ≤ 16 ulps, orthogonal ‖QᵀQ − I‖ ≤ 4(√len+4)·2⁻²⁴', () => {
  itPassesEachCase(initCases());
});

describe('init API', () => {
  it('prepareInit compiles each pipeline once and the dispatches can be rerun', async () => {
    const ctx = await testGpu();
    const init = await prepareInit(ctx);
    const before = ctx.pipelineCount;
    await prepareInit(ctx);
    expect(ctx.pipelineCount).toBe(before);
    const w = ctx.createStorage('w', 9 * 4 * 4);
    const dispatches = init.orthogonal.bind({ seed: 3, stream: 9, rows: 9, cols: 4, gain: 2 }, w);
    expect(dispatches).toHaveLength(orthogonalDispatchCount(9, 4));
    await ctx.run(dispatches);
    const first = await ctx.readU32(w, 36);
    await ctx.run(dispatches);
    expect(await ctx.readU32(w, 36)).toEqual(first);
    w.destroy();
    expect(ctx.takeUncapturedErrors()).toEqual([]);
  });

  it('orthogonal W matches the float64 QR of the same gaussian (well-conditioned 40×12, 12×40)', async () => {
    const ctx = await testGpu();
    const orthogonal = await prepareOrthogonal(ctx);
    const normal = await prepareRandomFill(ctx, 'normal');
    for (const [rows, cols] of [[40, 12], [12, 40]] as const) {
      const w = ctx.createStorage('w', rows * cols * 4);
      const g = ctx.createStorage('g', rows * cols * 4);
      await ctx.run([...orthogonal.bind({ seed: 77, rows, cols, gain: 1.3 }, w), normal.bind({ seed: 77, count: rows * cols }, g)]);
      const W = await ctx.readF32(w, rows * cols);
      const ref = orthogonalRef(rows, cols, await ctx.readF32(g, rows * cols), 1.3);
      // A tall/wide gaussian is well conditioned (κ ≈ 3 here): Q moves by ~κ·ε.
      const report = compareClose(W, ref, { atol: 1e-5, rtol: 0 });
      expect(describeReport(report), `${rows}×${cols}`).toContain('0 element(s)');
      expect(gramError(W, rows, cols, 1.3)).toBeLessThanOrEqual(orthogonalTolerance(Math.max(rows, cols)));
      w.destroy();
      g.destroy();
    }
  });

  it('a normal fill is the same numbers at any offset and with any other stream beside it', async () => {
    const ctx = await testGpu();
    const normal = await prepareRandomFill(ctx, 'normal');
    const bits = await prepareRandomFill(ctx, 'bits');
    const buffer = ctx.createStorage('arena', 4096 * 4);
    const fills = [0, 1, 2, 3, 5].map((offset, stream) => ({ seed: 5, stream, count: 601, offset: offset + stream * 700 }));
    await ctx.run(fills.map((f) => normal.bind({ ...f, mean: -1, std: 0.5 }, buffer)));
    for (const f of fills) {
      const gpu = await ctx.readF32(buffer, f.count, f.offset);
      const ref = randomFillRef('normal', { ...f, mean: -1, std: 0.5 });
      const report = compareClose(gpu, ref, NORMAL_TOLERANCE, fillMagnitude(ref, -1));
      expect(report.ok, describeReport(report)).toBe(true);
    }
    // The bits of element i are those of i's block whatever the count: a prefix is a prefix.
    await ctx.run([bits.bind({ seed: 5, count: 10 }, buffer)]);
    expect(await ctx.readU32(buffer, 10)).toEqual(randomBitsRef({ seed: 5 }, 13).slice(0, 10));
    buffer.destroy();
  });

  it('a fill folded into a 2-D grid covers every block exactly once', async () => {
    const ctx = await testGpu();
    // 16 workgroups per dimension at most: 100 003 elements = 25 001 blocks = 391 groups → 25 × 16.
    const kernel = new RandomFillKernel('bits', await ctx.prepare(fillSpec({ distribution: 'bits' })), 16);
    const fill = { seed: 8, stream: 8, count: 100_003, offset: 1 };
    const buffer = ctx.upload('fold', new Uint32Array(fill.count + 2));
    const dispatch = kernel.bind(fill, buffer);
    expect(dispatch.workgroups[1]).toBeGreaterThan(1);
    await ctx.run([dispatch]);
    const words = await ctx.readU32(buffer, fill.count + 2);
    expect(words[0]).toBe(0);
    expect(words[fill.count + 1]).toBe(0);
    expect(words.slice(1, fill.count + 1)).toEqual(randomBitsRef(fill, fill.count));
    buffer.destroy();
  });

  it('rejects bad regions, seeds and parameters before touching the GPU', async () => {
    const ctx = await testGpu();
    const normal = await prepareRandomFill(ctx, 'normal');
    const orthogonal = await prepareOrthogonal(ctx);
    const buffer = ctx.createStorage('small', 64);
    expect(() => normal.bind({ seed: 1, count: 0 }, buffer)).toThrow(/count 0/);
    expect(() => normal.bind({ seed: 1, count: 17 }, buffer)).toThrow(/do not fit/);
    expect(() => normal.bind({ seed: 1, count: 4, offset: 13 }, buffer)).toThrow(/do not fit/);
    expect(() => normal.bind({ seed: -1, count: 4 }, buffer)).toThrow(/seed -1/);
    expect(() => normal.bind({ seed: 2 ** 53, count: 4 }, buffer)).toThrow(/seed/);
    expect(() => normal.bind({ seed: [1, 2 ** 32], count: 4 }, buffer)).toThrow(/u32/);
    expect(() => normal.bind({ seed: 1, count: 4, low: 0 }, buffer)).toThrow(/low do not apply/);
    expect(() => orthogonal.bind({ seed: 1, rows: 0, cols: 3 }, buffer)).toThrow(/rows = 0/);
    expect(() => orthogonal.bind({ seed: 1, rows: 5, cols: 4 }, buffer)).toThrow(/do not fit/);
    buffer.destroy();
    expect(ctx.takeUncapturedErrors()).toEqual([]);
  });
});
