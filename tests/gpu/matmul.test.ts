import { describe, expect, it } from 'vitest';
import { caseName } from '../../src/conformance/case.ts';
import { matmulCases } from '../../src/conformance/matmul.ts';
import { testGpu } from '../support/gpu.ts';

// Every variant × layout × epilogue on awkward shapes (1, 7×13×5, 63, 65,
// 129×65×33) and realistic ones (257, 512), against the float64 reference.
describe('matmul on the GPU matches float64: |Δ| ≤ 1e-6 + (K+2)·2⁻²⁴·Σ|a||b|', () => {
  it.each(matmulCases().map((c) => [caseName(c), c] as const))('%s', async (_name, c) => {
    const ctx = await testGpu();
    const result = await c.run(ctx);
    expect(result.detail).toBe('');
    expect(result.ok).toBe(true);
    expect(ctx.takeUncapturedErrors()).toEqual([]);
  });
});
