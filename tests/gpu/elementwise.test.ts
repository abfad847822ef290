import { describe, expect, it } from 'vitest';
import { elementwiseCases } from '../../src/conformance/elementwise.ts';
import { prepareElementwise } from '../../src/kernels/elementwise.ts';
import { ELEMENTWISE_ITEMS_PER_INVOCATION } from '../../shaders/elementwise.wgsl.ts';
import { testGpu } from '../support/gpu.ts';
import { itPassesEachCase } from '../support/conformance.ts';

describe('activations on the GPU match float64 (relu, linear exact; tanh within 4e-7 + 8 ulp)', () => {
  itPassesEachCase(elementwiseCases());

  it('uses a 2-D grid past 65535 workgroups and covers every element once', async () => {
    const ctx = await testGpu();
    const kernel = await prepareElementwise(ctx, { activation: 'linear', direction: 'forward' });
    // Each invocation takes ELEMENTWISE_ITEMS_PER_INVOCATION elements (grid-strided).
    const count = 65535 * 256 * ELEMENTWISE_ITEMS_PER_INVOCATION + 3;
    const dispatch = kernel.bind(count, { x: ctx.createStorage('x', 16), y: ctx.createStorage('y', 16) });
    expect(dispatch.workgroups[1]).toBeGreaterThan(1);
    expect(dispatch.workgroups[0] * dispatch.workgroups[1] * 256 * ELEMENTWISE_ITEMS_PER_INVOCATION).toBeGreaterThanOrEqual(count);
  });

  it('binds the vec4 form only for counts that are multiples of 4 on 16-byte aligned bindings, and both forms agree exactly', async () => {
    const ctx = await testGpu();
    const kernel = await prepareElementwise(ctx, { activation: 'relu', direction: 'backward' });
    const scalarOnly = await prepareElementwise(ctx, { activation: 'relu', direction: 'backward', vector: false });
    const count = 4 * 1031;
    const dy = ctx.upload('dy', Float32Array.from({ length: count + 8 }, (_, i) => Math.sin(i)));
    const z = ctx.upload('z', Float32Array.from({ length: count + 8 }, (_, i) => Math.cos(1.7 * i) * (i % 5 === 0 ? 0 : 1)));
    const whole = { dy, z };
    expect(kernel.usesVec4(count, whole)).toBe(true);
    expect(kernel.usesVec4(count - 1, whole)).toBe(false);
    expect(kernel.usesVec4(count, { ...whole, z: { buffer: z, offset: 256 + 4 } })).toBe(false);
    expect(kernel.usesVec4(count, { ...whole, z: { buffer: z, offset: 256 } })).toBe(true);
    expect(scalarOnly.usesVec4(count, whole)).toBe(false);
    const vecOut = ctx.createStorage('dx4', count * 4);
    const scalarOut = ctx.createStorage('dx1', count * 4);
    await ctx.run([kernel.bind(count, { ...whole, dx: vecOut }), scalarOnly.bind(count, { ...whole, dx: scalarOut })]);
    const [a, b] = [await ctx.readF32(vecOut, count), await ctx.readF32(scalarOut, count)];
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(a.some((v) => v !== 0)).toBe(true);
  });
});
