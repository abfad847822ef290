import { describe, expect, it } from 'vitest';
import { lstmBackwardStepReference, lstmForwardStepReference, type LstmCarry } from '../../src/kernels/lstm.ts';
import { gaussianData } from '../../src/conformance/data.ts';
import { expectCentralDifferences } from '../support/tensors.ts';

/** T steps of the step references chained: L = Σ a ⊙ h_T. */
function chain(B: number, H: number, T: number, w: Float64Array, zx: Float64Array, h0: Float64Array, c0: Float64Array, a: Float64Array) {
  const hs = [h0];
  const cs = [c0];
  const gates: Float64Array[] = [];
  for (let t = 1; t <= T; t++) {
    const r = lstmForwardStepReference(B, H, w, zx.subarray((t - 1) * B * 4 * H, t * B * 4 * H), hs[t - 1], cs[t - 1]);
    hs.push(r.h);
    cs.push(r.c);
    gates.push(r.gates);
  }
  const loss = hs[T].reduce((s, v, i) => s + v * a[i], 0);
  return { hs, cs, gates, loss };
}

describe('LSTM step references: the backward step is the vector–Jacobian product of the forward step', () => {
  it('∂L/∂zx_t, ∂L/∂W_hh, ∂L/∂h_0, ∂L/∂c_0 from the backward chain match central differences (rtol 1e-6)', () => {
    const [B, H, T] = [2, 3, 4];
    const w = Float64Array.from(gaussianData(4 * H * H, 11, 0.8));
    const zx = Float64Array.from(gaussianData(T * B * 4 * H, 12));
    const h0 = Float64Array.from(gaussianData(B * H, 13, 0.5));
    const c0 = Float64Array.from(gaussianData(B * H, 14));
    const a = Float64Array.from(gaussianData(B * H, 15));
    const f = chain(B, H, T, w, zx, h0, c0, a);
    const n = B * H;
    const dzAll = new Float64Array(T * B * 4 * H);
    const dW = new Float64Array(4 * H * H);
    let carry: LstmCarry | null = null;
    let dh0 = new Float64Array(n);
    let dc0 = new Float64Array(n);
    for (let t = T; t >= 1; t--) {
      const r = lstmBackwardStepReference(B, H, w, f.gates[t - 1], f.cs[t], f.cs[t - 1], t === T ? a : null, carry);
      dzAll.set(r.dz, (t - 1) * B * 4 * H);
      for (let b = 0; b < B; b++) for (let k = 0; k < 4 * H; k++) for (let j = 0; j < H; j++) dW[k * H + j] += r.dz[b * 4 * H + k] * f.hs[t - 1][b * H + j];
      carry = { dz: r.dz, dcf: r.dcf };
      if (t === 1) {
        // What a step 0 would receive: dh_0 = dz_1 W_hh, dc_0 = dc_1 ⊙ f_1.
        dh0 = new Float64Array(n);
        for (let b = 0; b < B; b++) for (let j = 0; j < H; j++) for (let k = 0; k < 4 * H; k++) dh0[b * H + j] += r.dz[b * 4 * H + k] * w[k * H + j];
        dc0 = Float64Array.from(r.dcf);
        expect(Array.from(r.dcf)).toEqual(Array.from(r.dc, (v, u) => v * f.gates[0][n + u]));
      }
    }
    const loss = () => chain(B, H, T, w, zx, h0, c0, a).loss;
    expect(expectCentralDifferences('zx', zx, dzAll, loss, { rtol: 1e-6 })).toBe(zx.length);
    expectCentralDifferences('W_hh', w, dW, loss, { rtol: 1e-6 });
    expectCentralDifferences('h_0', h0, dh0, loss, { rtol: 1e-6 });
    expectCentralDifferences('c_0', c0, dc0, loss, { rtol: 1e-6 });
    // Not vacuous: the gradient reaches back to step 1.
    expect(Math.max(...dzAll.subarray(0, B * 4 * H).map(Math.abs))).toBeGreaterThan(1e-4);
  });
});
