/**
 * LayerNorm in the residual MLP on the GPU (--norm layer --norm-place pre|post):
 * a whole step's gradients (W, b, γ, β) against the float64 reference and its
 * finite differences at tiny awkward shapes, γ = 1 and β = 0 at init, the
 * dump's tensor names, and the LayerNorm mean field beside the measured per-layer norms.
 */
import { describe, expect, it } from 'vitest';
import { testGpu } from '../support/gpu.ts';
import { runStress } from '../../src/scheduler/run.ts';
import { MLP_DEFAULTS, type MlpConfig, type NormPlace } from '../../src/models/config.ts';
import { mlpLossReference, mlpStepReference, type ReferenceLayer, type ReferenceNorm } from '../../src/models/mlp-reference.ts';
import type { MlpDump } from '../../src/models/dump.ts';
import { validateReport } from '../../src/report/schema.ts';
import { expectCentralDifferences, expectTensorClose } from '../support/tensors.ts';

/** 5 → 7 → 7 → 7 → 3, batch 3: layers 2 and 3 are blocks with a LayerNorm each. */
function tinyConfig(place: NormPlace, overrides: Partial<MlpConfig> = {}): MlpConfig {
  return { ...MLP_DEFAULTS, depth: 4, width: 7, input: 5, output: 3, batch: 3, steps: 1, residual: 0.8, norm: 'layer', normPlace: place, loss: 'mse', biasStd: 0.2, ...overrides };
}

function fromDump(dump: MlpDump, place: NormPlace): { layers: ReferenceLayer[]; norm: ReferenceNorm } {
  const byName = new Map(dump.params.map((t) => [t.name, t]));
  const L = dump.config.depth;
  const layers: ReferenceLayer[] = [];
  for (let l = 1; l <= L; l++) {
    const W = byName.get(`W${l}`)!;
    layers.push({ W: Float64Array.from(W.data), b: Float64Array.from(byName.get(`b${l}`)!.data), fanOut: W.shape[0], fanIn: W.shape[1] });
  }
  const empty = new Float64Array(0);
  const gamma = Array.from({ length: L }, (_, i) => (byName.has(`ln${i + 1}.gamma`) ? Float64Array.from(byName.get(`ln${i + 1}.gamma`)!.data) : empty));
  const beta = Array.from({ length: L }, (_, i) => (byName.has(`ln${i + 1}.beta`) ? Float64Array.from(byName.get(`ln${i + 1}.beta`)!.data) : empty));
  return { layers, norm: { place, gamma, beta } };
}

describe('LayerNorm residual MLP step on the GPU: float64 reference and finite differences agree', () => {
  it.each([
    ['pre', 'tanh'],
    ['post', 'relu'],
  ] as const)('%s-norm, %s, A = 0.8, 5→7→7→7→3, batch 3: every ∂L/∂param (γ, β included) within 2e-5 of float64 and of central differences', async (place, activation) => {
    const ctx = await testGpu();
    const config = tinyConfig(place, { activation, seed: 11 });
    const { report, dump } = await runStress(ctx, config, { dump: true });
    const d = dump!;
    // Pre-norm also has the final LayerNorm before the readout: ln4.
    const norms = place === 'pre' ? [2, 3, 4] : [2, 3];
    expect(d.params.map((t) => t.name)).toEqual(['W1', 'b1', 'W2', 'b2', 'W3', 'b3', 'W4', 'b4', ...norms.flatMap((l) => [`ln${l}.gamma`, `ln${l}.beta`])]);
    expect(d.grads.map((t) => t.name)).toEqual(d.params.map((t) => t.name));
    const { layers, norm } = fromDump(d, place);
    // Initialized as nn.LayerNorm: γ = 1, β = 0.
    expect(Array.from(norm.gamma[1])).toEqual(Array(7).fill(1));
    expect(Array.from(norm.beta[2])).toEqual(Array(7).fill(0));
    const ref = mlpStepReference(layers, activation, 'mse', d.input.data, d.target!.data, config.batch, true, 0.8, norm);
    expect(Math.abs(report.steps[0].loss - ref.loss)).toBeLessThanOrEqual(1e-5 * Math.abs(ref.loss) + 1e-6);
    const grad = (name: string) => d.grads.find((t) => t.name === name)!.data;
    ref.dW.forEach((g, l) => expectTensorClose(`dW${l + 1}`, grad(`W${l + 1}`), g));
    ref.db.forEach((g, l) => expectTensorClose(`db${l + 1}`, grad(`b${l + 1}`), g));
    for (const l of norms) {
      expectTensorClose(`ln${l}.gamma`, grad(`ln${l}.gamma`), ref.dGamma[l - 1]);
      expectTensorClose(`ln${l}.beta`, grad(`ln${l}.beta`), ref.dBeta[l - 1]);
      const layer = report.steps[0].layers[l - 1];
      expect(layer.normGradNorm! / Math.hypot(...ref.dGamma[l - 1], ...ref.dBeta[l - 1]), `‖∂(γ,β)_${l}‖`).toBeCloseTo(1, 4);
    }
    report.steps[0].layers.forEach((layer, l) => {
      expect(layer.deltaNorm / Math.hypot(...ref.delta[l]), `δ_${l + 1}`).toBeCloseTo(1, 4);
      expect(layer.activationNorm / Math.hypot(...ref.hidden[l]), `h_${l + 1}`).toBeCloseTo(1, 4);
    });
    // The global norm covers γ and β: ‖g‖² = Σ over every gradient tensor of the dump.
    const total = Math.hypot(...d.grads.flatMap((t) => t.data));
    expect(report.steps[0].gradNorm! / total).toBeCloseTo(1, 4);
    // Finite differences of the float64 loss at the GPU's parameters: the GPU's gradients, not just the reference's.
    const lossAt = () => mlpLossReference(layers, activation, 'mse', d.input.data, d.target!.data, config.batch, 0.8, norm);
    for (const l of norms) {
      expectCentralDifferences(`ln${l}.gamma`, norm.gamma[l - 1] as Float64Array, grad(`ln${l}.gamma`), lossAt, { rtol: 1e-4 });
      expectCentralDifferences(`ln${l}.beta`, norm.beta[l - 1] as Float64Array, grad(`ln${l}.beta`), lossAt, { rtol: 1e-4 });
      expectCentralDifferences(`W${l}`, layers[l - 1].W as Float64Array, grad(`W${l}`), lossAt, { rtol: 1e-4, stride: 3 });
    }
    expect(report.verdict.predictionMethod).toBe(`layernorm-${place}-meanfield`);
    expect(report.config.normPlace).toBe(place);
    const checked = validateReport(JSON.parse(JSON.stringify(report)));
    expect(checked.ok, checked.ok ? '' : checked.errors.join('\n')).toBe(true);
  });
});

describe('LayerNorm residual MLP on the GPU: the contrast at initialization (Xiong et al. 2020)', () => {
  it('relu, A = 1, depth 24, width 32, batch 8, probe: post-norm ‖δ_{L−1}‖ exceeds pre-norm ‖δ_{L−1}‖ by ≥ 0.25 decade at the output end; at the input end (‖δ_2‖) within 0.3 decade', async () => {
    const ctx = await testGpu();
    const run = async (place: NormPlace) => {
      const config: MlpConfig = { ...MLP_DEFAULTS, depth: 24, width: 32, input: 32, output: 32, batch: 8, residual: 1, norm: 'layer', normPlace: place, seed: 5 };
      const layers = (await runStress(ctx, config)).report.steps[0].layers;
      return { output: Math.log10(layers[22].deltaNorm), input: Math.log10(layers[1].deltaNorm) };
    };
    const post = await run('post');
    const pre = await run('pre');
    // Same seed, so the same weights and input: only the placement differs (float64 simulations: +0.41 and 0.01 decade).
    expect(post.output - pre.output, `log10 ‖δ_23‖: post ${post.output.toFixed(3)}, pre ${pre.output.toFixed(3)}`).toBeGreaterThanOrEqual(0.25);
    expect(Math.abs(post.input - pre.input), `log10 ‖δ_2‖: post ${post.input.toFixed(3)}, pre ${pre.input.toFixed(3)}`).toBeLessThanOrEqual(0.3);
  });
});

describe('LayerNorm residual MLP on the GPU: the mean field beside the measurement', () => {
  // One network at width 32: float64 simulations of 12 networks at this shape put the largest
  // per-layer gap at ≤ 0.22 (pre) and ≤ 0.39 (post) decade, the output-end ratio within 0.12.
  it.each(['pre', 'post'] as const)('%s-norm, relu, A = 1, gain 1.8, depth 12, width 32, batch 8, probe: every log10 ‖δ_l‖/‖δ_11‖ within 0.5 decade of the theory, log10 ‖δ_11‖/‖δ_12‖ within 0.2', async (place) => {
    const ctx = await testGpu();
    const config: MlpConfig = { ...MLP_DEFAULTS, depth: 12, width: 32, input: 32, output: 32, batch: 8, gain: 1.8, residual: 1, norm: 'layer', normPlace: place, seed: 3 };
    const { report } = await runStress(ctx, config);
    const v = report.verdict;
    expect(v.predictionMethod).toBe(`layernorm-${place}-meanfield`);
    expect(report.prediction).toHaveLength(11);
    const profile = v.profile!;
    const log10 = report.steps[0].layers.map((l) => Math.log10(l.deltaNorm));
    expect(profile.measuredLog10OutputRatio).toBeCloseTo(log10[10] - log10[11], 10);
    report.prediction.forEach((p, i) => expect(Math.abs(log10[i] - log10[10] - p.log10DeltaMeanField), `layer ${p.layer}`).toBeLessThanOrEqual(0.5));
    expect(profile.maxGapDecades).toBeLessThanOrEqual(0.5);
    expect(Math.abs(profile.measuredLog10OutputRatio - profile.predictedLog10OutputRatio)).toBeLessThanOrEqual(0.2);
    const checked = validateReport(JSON.parse(JSON.stringify(report)));
    expect(checked.ok, checked.ok ? '' : checked.errors.join('\n')).toBe(true);
  });
});
