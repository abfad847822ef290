import { describe, expect, it } from 'vitest';
import { testGpu } from '../support/gpu.ts';
import { lstmCases } from '../../src/conformance/lstm.ts';
import { runConformance } from '../../src/conformance/index.ts';

describe('LSTM kernel conformance (every step against float64 at awkward shapes)', () => {
  it('forward and backward steps, H 1/7/13/65/128, B 1/3/5/9/32, padded slabs, T 1..4: per step |Δ| ≤ atol + (terms+8)·2⁻²⁴·S + σ/tanh error', async () => {
    const ctx = await testGpu();
    const cases = lstmCases();
    const results = await runConformance(ctx, cases);
    const failed = results.filter((r) => !r.ok).map((r) => `${r.kernel} ${r.shape}: ${r.detail}`);
    expect(failed).toEqual([]);
    expect(results.length).toBe(cases.length);
    expect(results.length).toBeGreaterThanOrEqual(18);
    // The sizes ran (not a vacuous pass): the realistic shape is among them.
    expect(results.some((r) => r.shape.includes('B32×H128'))).toBe(true);
  });
});
