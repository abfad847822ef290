import { describe, expect, it } from 'vitest';
import { testGpu } from '../support/gpu.ts';
import { GpuContext } from '../../src/gpu/context.ts';
import { acquireNodeAdapter } from '../../src/gpu/node.ts';
import { GpuLimitError } from '../../src/gpu/errors.ts';
import { REGISTER_LARGE_TILING, SUBGROUP_LARGE_TILING, SUBGROUP_SCALAR_TILING, matmulReference, matmulShapeClass, matmulTilingName, prepareMatmul, type MatmulDims, type MatmulLayout } from '../../src/kernels/matmul.ts';
import { matmulCases, matmulTolerance } from '../../src/conformance/matmul.ts';
import { compareClose, describeReport } from '../../src/conformance/compare.ts';
import { uniformData } from '../../src/conformance/data.ts';
import { emptyTable, ensureTuned, type TuningTable } from '../../src/tune/tuner.ts';

/** Runs one matmul (plain epilogue) at `dims` and checks it against float64 within the f32 error bound. */
async function expectMatmul(ctx: GpuContext, layout: MatmulLayout, variant: string | undefined, dims: MatmulDims): Promise<string> {
  const a = uniformData(dims.m * dims.k, dims.m + 3 * dims.k);
  const b = uniformData(dims.k * dims.n, dims.n + 5 * dims.k);
  const kernel = await prepareMatmul(ctx, { layout, variant, shapes: [dims] });
  const buffers = { a: ctx.upload('a', a), b: ctx.upload('b', b), c: ctx.createStorage('c', dims.m * dims.n * 4) };
  try {
    ctx.device.queue.writeBuffer(buffers.c, 0, new Float32Array(dims.m * dims.n).fill(Number.NaN));
    await ctx.run([kernel.bind(dims, buffers)]);
    const ref = matmulReference(layout, dims, a, b);
    const report = compareClose(await ctx.readF32(buffers.c, dims.m * dims.n), ref.c, matmulTolerance(dims.k), ref.magnitude);
    expect(report.ok, describeReport(report)).toBe(true);
    return matmulTilingName(kernel.tilingFor(dims));
  } finally {
    for (const buffer of Object.values(buffers)) buffer.destroy();
  }
}

describe('the subgroup matmul tilings (A shared across a four-lane subgroup)', () => {
  it('run on this adapter: SwiftShader offers subgroups of four lanes, so the conformance suite tests them here rather than leaving them out', async () => {
    const ctx = await testGpu();
    if (ctx.summary.software) expect(ctx.subgroupSizes).toEqual({ min: 4, max: 4 });
    expect(ctx.subgroupSizes, "this adapter has no 'subgroups' feature: the subgroup tilings cannot be tested on it").not.toBeNull();
    expect(matmulCases(undefined, ctx).length).toBe(matmulCases().length);
    expect(matmulCases().some((c) => c.kernel.includes(matmulTilingName(SUBGROUP_LARGE_TILING)))).toBe(true);
  });

  it('tn with vec4 loads reads any K: the last K mod 4 rows of A and B in a tail loop (K = 1, 7, 45)', async () => {
    const ctx = await testGpu();
    const variant = matmulTilingName(SUBGROUP_LARGE_TILING);
    for (const dims of [{ m: 36, n: 20, k: 1 }, { m: 68, n: 36, k: 7 }, { m: 4, n: 40, k: 45 }]) {
      expect(await expectMatmul(ctx, 'tn', variant, dims)).toBe(variant);
    }
  });

  it('falls back to its scalar-load twin where vec4 loads cannot read the sizes or quad stores cannot write them (nt with K = 45, nt with N = 38, nn with N = 37)', async () => {
    const ctx = await testGpu();
    const variant = matmulTilingName(SUBGROUP_LARGE_TILING);
    expect(await expectMatmul(ctx, 'nt', variant, { m: 33, n: 40, k: 45 })).toBe(matmulTilingName(SUBGROUP_SCALAR_TILING));
    expect(await expectMatmul(ctx, 'nt', variant, { m: 33, n: 38, k: 48 })).toBe(matmulTilingName(SUBGROUP_SCALAR_TILING));
    expect(await expectMatmul(ctx, 'nn', variant, { m: 40, n: 37, k: 12 })).toBe(matmulTilingName(SUBGROUP_SCALAR_TILING));
  });

  it('a class tuned to the subgroup vec4 tiling runs the default at a size of that class whose N is not a multiple of 4', async () => {
    const ctx = await testGpu();
    const variant = matmulTilingName(SUBGROUP_LARGE_TILING);
    const fits = { m: 64, n: 132, k: 128 };
    const odd = { m: 64, n: 130, k: 128 }; // the same class (K a multiple of 4), but quads of C would straddle rows
    expect(matmulShapeClass('nt', odd)).toBe(matmulShapeClass('nt', fits));
    ctx.tunedVariants.clear();
    ctx.tunedVariants.set(matmulShapeClass('nt', fits), variant);
    try {
      const a = uniformData(odd.m * odd.k, 5);
      const b = uniformData(odd.n * odd.k, 6);
      const kernel = await prepareMatmul(ctx, { layout: 'nt', shapes: [fits] });
      expect(matmulTilingName(kernel.tilingFor(fits))).toBe(variant);
      expect(matmulTilingName(kernel.tilingFor(odd))).not.toMatch(/^subgroup-.*-v4$/);
      const buffers = { a: ctx.upload('a', a), b: ctx.upload('b', b), c: ctx.createStorage('c', odd.m * odd.n * 4) };
      try {
        await ctx.run([kernel.bind(odd, buffers)]);
        const ref = matmulReference('nt', odd, a, b);
        const report = compareClose(await ctx.readF32(buffers.c, odd.m * odd.n), ref.c, matmulTolerance(odd.k), ref.magnitude);
        expect(report.ok, describeReport(report)).toBe(true);
      } finally {
        for (const buffer of Object.values(buffers)) buffer.destroy();
      }
    } finally {
      ctx.tunedVariants.clear();
    }
  });

  it('is the untuned default on SwiftShader for products of ≥ 2²⁰ multiply-adds (the MLP step has 2²²)', async () => {
    const ctx = await testGpu();
    if (!ctx.summary.software) return expect(ctx.summary.software).toBe(false); // real GPUs keep the tiled family
    ctx.tunedVariants.clear();
    expect(await expectMatmul(ctx, 'nt', undefined, { m: 64, n: 132, k: 128 })).toBe(matmulTilingName(SUBGROUP_LARGE_TILING));
    expect(await expectMatmul(ctx, 'tn', undefined, { m: 132, n: 128, k: 64 })).toBe(matmulTilingName(SUBGROUP_LARGE_TILING));
    expect(await expectMatmul(ctx, 'nt', undefined, { m: 64, n: 96, k: 48 })).toBe(matmulTilingName(REGISTER_LARGE_TILING)); // small: not worth compiling
  });

  it('on a device without the subgroups feature: the untuned default is the register tiling, a forced subgroup tiling is refused by name, and check leaves the family out', async () => {
    const shared = await testGpu();
    // A second adapter of the same kind (an adapter makes one device), whose device is asked for no features.
    const { adapter } = await acquireNodeAdapter({ forceSwiftShader: shared.summary.software });
    const device = await adapter.requestDevice({ label: 'no subgroups' });
    const ctx = new GpuContext({ adapter, device, summary: shared.summary });
    try {
      expect(ctx.subgroupSizes).toBeNull();
      const name = await expectMatmul(ctx, 'nt', undefined, { m: 64, n: 132, k: 128 });
      expect(name).not.toMatch(/^subgroup/);
      const refused = prepareMatmul(ctx, { layout: 'nt', variant: matmulTilingName(SUBGROUP_LARGE_TILING) });
      await expect(refused).rejects.toBeInstanceOf(GpuLimitError);
      await expect(prepareMatmul(ctx, { layout: 'nt', variant: matmulTilingName(SUBGROUP_LARGE_TILING) })).rejects.toThrow(/needs the WebGPU feature subgroups/);
      const cases = matmulCases(undefined, ctx);
      expect(cases.length).toBeGreaterThan(0);
      expect(cases.some((c) => c.kernel.includes('subgroup'))).toBe(false);
      // A stored table whose winner is a subgroup tiling (measured where the device had them): that class is measured again here.
      const dims = { m: 36, n: 20, k: 44 };
      const shapeClass = matmulShapeClass('nt', dims);
      const table = emptyTable(ctx);
      table.entries[shapeClass] = { kernel: 'matmul', layout: 'nt', shapeClass, proxy: dims, variant: matmulTilingName(SUBGROUP_LARGE_TILING), ms: 0.1, candidates: [], timing: 'wall-clock' };
      let stored: unknown = structuredClone(table);
      const store = { load: () => stored, save: (t: TuningTable) => ((stored = structuredClone(t)), true), where: () => 'memory' };
      const result = await ensureTuned(ctx, [{ layout: 'nt', shapes: [dims] }], { store, runs: 1 });
      expect(result.tuned.map((e) => e.shapeClass)).toEqual([shapeClass]);
      expect(result.table.entries[shapeClass].variant).not.toMatch(/^subgroup/);
      expect(ctx.tunedVariants.get(shapeClass)).toBe(result.table.entries[shapeClass].variant);
    } finally {
      ctx.destroy();
    }
  });
});
