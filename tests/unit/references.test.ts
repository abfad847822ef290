import { describe, expect, it } from 'vitest';
import { ACTIVATIONS, activationGradFromOutputRef, activationGradRef, activationRef } from '../../src/kernels/elementwise.ts';
import { matmulReference, type MatmulDims } from '../../src/kernels/matmul.ts';
import { linearGrid } from '../../src/kernels/spec.ts';
import { compareClose } from '../../src/conformance/compare.ts';
import { gaussianData } from '../../src/conformance/data.ts';

function transpose(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c];
  return out;
}

describe('float64 references (CPU)', () => {
  it('the three matmul layouts compute the same product of transposed operands exactly', () => {
    const dims: MatmulDims = { m: 5, n: 3, k: 4 };
    const a = gaussianData(dims.m * dims.k, 1); // [M,K]
    const bT = gaussianData(dims.n * dims.k, 2); // [N,K]
    const nt = matmulReference('nt', dims, a, bT).c;
    const nn = matmulReference('nn', dims, a, transpose(bT, dims.n, dims.k)).c;
    const tn = matmulReference('tn', dims, transpose(a, dims.m, dims.k), transpose(bT, dims.n, dims.k)).c;
    expect(Array.from(nn)).toEqual(Array.from(nt));
    expect(Array.from(tn)).toEqual(Array.from(nt));
  });

  it('nn and tn layouts give the gradients of a dense layer, checked by central finite differences', () => {
    // Layer z = x Wᵀ + b (x [B,in], W [out,in]), loss L = Σ g ⊙ tanh(z).
    const B = 3, inp = 4, out = 2;
    const x = gaussianData(B * inp, 3);
    const W = gaussianData(out * inp, 4);
    const bias = gaussianData(out, 5);
    const g = gaussianData(B * out, 6);
    const loss = (xs: ArrayLike<number>, ws: ArrayLike<number>) => {
      const h = matmulReference('nt', { m: B, n: out, k: inp }, xs, ws, { bias, activation: 'tanh' }).c;
      return h.reduce((s, v, i) => s + g[i] * v, 0);
    };
    const h = matmulReference('nt', { m: B, n: out, k: inp }, x, W, { bias, activation: 'tanh' }).c;
    // dZ = g ⊙ φ'(z) from the output, as the fused backward epilogue does.
    const dz = Float64Array.from(g, (v, i) => v * activationGradFromOutputRef('tanh', h[i]));
    const dx = matmulReference('nn', { m: B, n: inp, k: out }, dz, W).c; // dZ[B,out]·W[out,in]
    const dW = matmulReference('tn', { m: out, n: inp, k: B }, dz, x).c; // dZᵀ[out,B]·x[B,in]
    const eps = 1e-6;
    const fd = (params: Float64Array, i: number, f: (p: Float64Array) => number) => {
      const plus = params.slice(); plus[i] += eps;
      const minus = params.slice(); minus[i] -= eps;
      return (f(plus) - f(minus)) / (2 * eps);
    };
    const x64 = Float64Array.from(x), W64 = Float64Array.from(W);
    for (let i = 0; i < x64.length; i++) expect(dx[i]).toBeCloseTo(fd(x64, i, (p) => loss(p, W64)), 7);
    for (let i = 0; i < W64.length; i++) expect(dW[i]).toBeCloseTo(fd(W64, i, (p) => loss(x64, p)), 7);
  });

  it.each(ACTIVATIONS)('%s derivative matches central finite differences away from kinks; relu\'(0) = 0', (activation) => {
    for (const z of [-3.1, -0.7, -1e-3, 0.2, 1.3, 4.5]) {
      const eps = 1e-6;
      const fd = (activationRef(activation, z + eps) - activationRef(activation, z - eps)) / (2 * eps);
      expect(activationGradRef(activation, z)).toBeCloseTo(fd, 8);
      expect(activationGradFromOutputRef(activation, activationRef(activation, z))).toBeCloseTo(fd, 8);
    }
    if (activation === 'relu') expect(activationGradRef('relu', 0)).toBe(0);
  });

  it('folds a 1-D launch into 2-D only past the per-dimension limit, covering every item', () => {
    expect(linearGrid(1, 256)).toEqual([1, 1]);
    expect(linearGrid(256 * 65535, 256)).toEqual([65535, 1]);
    const [x, y] = linearGrid(256 * 65535 + 1, 256);
    expect(y).toBe(2);
    expect(x).toBeLessThanOrEqual(65535);
    expect(x * y * 256).toBeGreaterThanOrEqual(256 * 65535 + 1);
  });

  it('compareClose reports the worst element and fails on NaN', () => {
    expect(compareClose([1, 2], [1, 2.5], { atol: 0.1, rtol: 0 }).worst?.index).toBe(1);
    expect(compareClose([NaN], [1], { atol: 1, rtol: 1 }).ok).toBe(false);
    expect(compareClose([1.05], [1], { atol: 0.1, rtol: 0 }).ok).toBe(true);
  });
});
