import { describe, expect, it } from 'vitest';
import { LOSS_GRADIENT_CONTRACT, LOSS_VALUE_CONTRACT, lossCases } from '../../src/conformance/loss.ts';
import { prepareLossGradient, prepareLossValue } from '../../src/kernels/loss.ts';
import { testGpu } from '../support/gpu.ts';
import { itPassesEachCase } from '../support/conformance.ts';

// mse and probe: gradients on 1 … 10⁶ elements (2-D grids included), values
// on 1 … 10⁶ elements with sums past f32, subnormal terms and non-finite
// inputs, written into one word of a buffer of sentinels; against float64.
describe(`loss kernels on the GPU match float64 (gradient: ${LOSS_GRADIENT_CONTRACT}; value: ${LOSS_VALUE_CONTRACT})`, () => {
  itPassesEachCase(lossCases());

  it('refuses counts and output words its buffers cannot hold', async () => {
    const ctx = await testGpu();
    const y = ctx.createStorage('y', 16 * 4);
    const t = ctx.createStorage('t', 16 * 4);
    const out = ctx.createStorage('out', 16);
    try {
      const value = await prepareLossValue(ctx, { loss: 'mse' });
      const gradient = await prepareLossGradient(ctx, { loss: 'probe' });
      expect(() => value.bind({ count: 17, outputWord: 0 }, { y, target: t, out })).toThrow(/holds 16 elements/);
      expect(() => value.bind({ count: 16, outputWord: 4 }, { y, target: t, out })).toThrow(/outside the 'out' binding/);
      expect(() => gradient.bind({ count: 0 }, { y, target: t, dy: out })).toThrow(/count 0/);
      expect(() => gradient.bind({ count: 16 }, { y, target: t, dy: out })).toThrow(/'dy' holds 4 elements/);
    } finally {
      y.destroy();
      t.destroy();
      out.destroy();
    }
  });
});
