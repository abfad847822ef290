/**
 * The LayerNorm float64 reference against central differences of a scalar
 * loss L = Σ w ⊙ y (w fixed, so ∂L/∂y = w), at awkward shapes, and its
 * forward against the definition (each row of x̂ has mean 0 and variance 1 − ε·r²).
 */
import { describe, expect, it } from 'vitest';
import { layerNormBackwardRef, layerNormForwardRef } from '../../src/kernels/layernorm.ts';
import { gaussianData } from '../../src/conformance/data.ts';
import { expectCentralDifferences } from '../support/tensors.ts';

describe('LayerNorm float64 reference', () => {
  it.each([
    [1, 5],
    [3, 7],
    [2, 13],
  ])('%i×%i: ∂L/∂x, ∂L/∂γ and ∂L/∂β match central differences within 1e-7 relative', (rows, n) => {
    const x = Float64Array.from(gaussianData(rows * n, 3 * rows + n, 2), (v) => v + 1.5);
    const gamma = Float64Array.from(gaussianData(n, n + 1));
    const beta = Float64Array.from(gaussianData(n, n + 2));
    const w = gaussianData(rows * n, n + 9);
    const lossAt = () => layerNormForwardRef(x, gamma, beta, rows, n).y.reduce((s, v, i) => s + v * w[i], 0);
    const grads = layerNormBackwardRef(w, x, gamma, rows, n);
    expectCentralDifferences('dx', x, grads.dx, lossAt, { rtol: 1e-7 });
    expectCentralDifferences('dgamma', gamma, grads.dgamma, lossAt, { rtol: 1e-7 });
    expectCentralDifferences('dbeta', beta, grads.dbeta, lossAt, { rtol: 1e-7 });
  });

  it('forward: with γ = 1, β = 0 every row has mean 0 and mean square n·var/(n·var + n·ε)', () => {
    const [rows, n] = [4, 9];
    const x = gaussianData(rows * n, 77, 3);
    const { y, rstd } = layerNormForwardRef(x, new Float64Array(n).fill(1), new Float64Array(n), rows, n);
    for (let r = 0; r < rows; r++) {
      const row = y.slice(r * n, (r + 1) * n);
      expect(row.reduce((s, v) => s + v, 0) / n).toBeCloseTo(0, 12);
      expect(row.reduce((s, v) => s + v * v, 0) / n).toBeCloseTo(1 - 1e-5 * rstd[r] ** 2, 12);
    }
  });
});
