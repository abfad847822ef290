import { describe } from 'vitest';
import { layerNormCases } from '../../src/conformance/layernorm.ts';
import { itPassesEachCase } from '../support/conformance.ts';

describe('LayerNorm on the GPU matches float64 (forward, dx, dγ, dβ within 4·(n + rows + 8)·2⁻²⁴ of the terms)', () => {
  itPassesEachCase(layerNormCases());
});
