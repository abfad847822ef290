import { describe, expect, it } from 'vitest';
import { matmulCases } from '../../src/conformance/matmul.ts';
import { itPassesEachCase } from '../support/conformance.ts';

// Every variant × layout × epilogue on awkward shapes (1, 7×13×5, 63, 65,
// 129×65×33) and realistic ones (257, 512), against the float64 reference.
describe('matmul on the GPU matches float64: |Δ| ≤ 1e-6 + (K+2)·2⁻²⁴·Σ|a||b|', () => {
  itPassesEachCase(matmulCases());
});
