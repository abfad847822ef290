/**
 * Residual MLPs on the GPU (--residual A): the residual kernels against
 * float64, a whole step's gradients against the float64 reference and
 * finite differences at tiny awkward shapes, A = 0 is the plain MLP to the
 * bit, and the measured growth of ‖δ_l‖ against the residual mean field.
 */
import { describe, expect, it } from 'vitest';
import { testGpu } from '../support/gpu.ts';
import { runStress } from '../../src/scheduler/run.ts';
import { MLP_DEFAULTS, type MlpConfig } from '../../src/models/config.ts';
import { mlpLossReference, mlpStepReference, type ReferenceLayer } from '../../src/models/mlp-reference.ts';
import type { MlpDump } from '../../src/models/dump.ts';
import { ACTIVATIONS } from '../../src/kernels/elementwise.ts';
import { residualCases } from '../../src/conformance/residual.ts';
import { itPassesEachCase } from '../support/conformance.ts';
import { randomWalkSlopeStd } from '../../src/analysis/meanfield.ts';
import { expectCentralDifferences, expectTensorClose } from '../support/tensors.ts';

function smallConfig(overrides: Partial<MlpConfig>): MlpConfig {
  // Non-square on purpose: input 5 → width 7 → … → output 3, batch 6; layers 2..4 are blocks.
  return { ...MLP_DEFAULTS, depth: 5, width: 7, input: 5, output: 3, batch: 6, steps: 1, residual: 0.6, ...overrides };
}

function referenceLayers(dump: MlpDump): ReferenceLayer[] {
  const layers: ReferenceLayer[] = [];
  for (let i = 0; i < dump.params.length; i += 2) {
    const W = dump.params[i];
    layers.push({ W: Float64Array.from(W.data), b: Float64Array.from(dump.params[i + 1].data), fanOut: W.shape[0], fanIn: W.shape[1] });
  }
  return layers;
}

const norm = (x: ArrayLike<number>) => Math.sqrt(Array.from(x).reduce((s, v) => s + v * v, 0));


describe('residual kernels on the GPU match float64 (add: 2⁻²³ of |x| + |a·f|; branch: 4·2⁻²⁴ of |a·dh|)', () => {
  itPassesEachCase(residualCases());
});

describe('residual MLP step on the GPU: float64 reference and finite differences agree', () => {
  it.each(ACTIVATIONS)('%s, A = 0.6, depth 5 (3 blocks), 5→7→3, batch 6: every ∂L/∂param within 2e-5 of float64; ‖δ_l‖ and ‖h_l‖ as float64', async (activation) => {
    const ctx = await testGpu();
    const config = smallConfig({ activation, loss: 'mse', biasStd: 0.2, seed: 9 });
    const { report, dump } = await runStress(ctx, config, { dump: true });
    const d = dump!;
    const ref = mlpStepReference(referenceLayers(d), activation, 'mse', d.input.data, d.target!.data, config.batch, true, 0.6);
    expect(Math.abs(report.steps[0].loss - ref.loss)).toBeLessThanOrEqual(1e-5 * Math.abs(ref.loss) + 1e-6);
    ref.dW.forEach((g, l) => expectTensorClose(`dW${l + 1}`, d.grads[2 * l].data, g));
    ref.db.forEach((g, l) => expectTensorClose(`db${l + 1}`, d.grads[2 * l + 1].data, g));
    report.steps[0].layers.forEach((layer, l) => {
      expect(layer.deltaNorm / norm(ref.delta[l]), `δ_${l + 1}`).toBeCloseTo(1, 4);
      expect(layer.activationNorm / norm(ref.hidden[l]), `h_${l + 1}`).toBeCloseTo(1, 4);
    });
  });

  it('relu, A = 0.45, depth 4: GPU gradients match central finite differences of the float64 loss (1e-4 of the tensor)', async () => {
    const ctx = await testGpu();
    const config = smallConfig({ activation: 'relu', depth: 4, loss: 'mse', biasStd: 0.2, seed: 13, residual: 0.45 });
    const { dump } = await runStress(ctx, config, { dump: true });
    const layers = referenceLayers(dump!);
    const lossAt = () => mlpLossReference(layers, 'relu', 'mse', dump!.input.data, dump!.target!.data, config.batch, 0.45);
    let checked = 0;
    for (let l = 0; l < layers.length; l++) {
      checked += expectCentralDifferences(`dW${l + 1}`, layers[l].W as Float64Array, dump!.grads[2 * l].data, lossAt, { rtol: 1e-4, stride: 3 });
      checked += expectCentralDifferences(`db${l + 1}`, layers[l].b as Float64Array, dump!.grads[2 * l + 1].data, lossAt, { rtol: 1e-4, stride: 3 });
    }
    expect(checked).toBeGreaterThan(20);
  });

  it('A = 0 is the plain MLP to the bit (same loss, gradients and norms as a config without residual)', async () => {
    const ctx = await testGpu();
    const plain = smallConfig({ activation: 'tanh', loss: 'mse', seed: 3 });
    delete plain.residual;
    const zero = { ...plain, residual: 0 };
    const a = await runStress(ctx, plain, { dump: true });
    const b = await runStress(ctx, zero, { dump: true });
    expect(b.report.steps[0].loss).toBe(a.report.steps[0].loss);
    expect(b.report.steps[0].layers).toEqual(a.report.steps[0].layers);
    expect(b.dump!.grads).toEqual(a.dump!.grads);
    expect(b.report.verdict.predictionMethod).toBe(a.report.verdict.predictionMethod);
  });
});

describe('residual MLP growth against the residual mean field', () => {
  it('relu, gain 1.8, depth 48, width 64, A = 1/√48: measured growth of ‖δ_l‖ per layer within 4σ (+15%) of the residual mean field; stable where the plain net explodes', async () => {
    const ctx = await testGpu();
    const L = 48;
    const A = 1 / Math.sqrt(L);
    const config = { ...MLP_DEFAULTS, depth: L, width: 64, input: 64, output: 64, batch: 16, gain: 1.8, residual: A, seed: 21 };
    const { report } = await runStress(ctx, config);
    const v = report.verdict;
    expect(v.predictionMethod).toBe('residual-meanfield');
    // Per block, ln of the ‖∂L/∂h‖² factor fluctuates by ≈ 2A·gain·√(D/(n·B)) (the cross term); the fit's spread follows.
    const stepStd = (2 * A * 1.8 * Math.sqrt(0.75 / (64 * 16))) / (2 * Math.LN10);
    const tolerance = 0.15 * v.predictedGrowthPerLayer! + 4 * randomWalkSlopeStd(L - 1, stepStd);
    expect(Math.abs(v.growthPerLayer! - v.predictedGrowthPerLayer!), `measured ${v.growthPerLayer}, predicted ${v.predictedGrowthPerLayer}, tolerance ${tolerance}`).toBeLessThanOrEqual(tolerance);
    // ≈ 0.01 decades a layer against 0.105 for the plain net: within a decade over the whole depth.
    expect(v.init!.status).toBe('stable');
    expect(v.status).toBe('stable');
  });
});
