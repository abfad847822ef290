import { describe, expect, it } from 'vitest';
import { elementwiseCases } from '../../src/conformance/elementwise.ts';
import { prepareElementwise } from '../../src/kernels/elementwise.ts';
import { testGpu } from '../support/gpu.ts';
import { itPassesEachCase } from '../support/conformance.ts';

describe('activations on the GPU match float64 (relu, linear exact; tanh within 4e-7 + 8 ulp)', () => {
  itPassesEachCase(elementwiseCases());

  it('uses a 2-D grid past 65535 workgroups and covers every element once', async () => {
    const ctx = await testGpu();
    const kernel = await prepareElementwise(ctx, { activation: 'linear', direction: 'forward' });
    const count = 65535 * 256 + 3;
    const dispatch = kernel.bind(count, { x: ctx.createStorage('x', 16), y: ctx.createStorage('y', 16) });
    expect(dispatch.workgroups[1]).toBeGreaterThan(1);
    expect(dispatch.workgroups[0] * dispatch.workgroups[1] * 256).toBeGreaterThanOrEqual(count);
  });
});
