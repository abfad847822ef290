import { describe, expect, it } from 'vitest';
import { testGpu } from '../support/gpu.ts';
import { runRnnStress } from '../../src/scheduler/rnn-run.ts';
import { RnnTrainer } from '../../src/scheduler/rnn-trainer.ts';
import { RNN_DEFAULTS, type RnnConfig } from '../../src/models/rnn.ts';
import type { RnnVariant } from '../../src/kernels/rnn.ts';

const U = 2 ** -24;

function linearOrthogonal(gain: number, overrides: Partial<RnnConfig> = {}): RnnConfig {
  return { ...RNN_DEFAULTS, seqLen: 256, width: 16, input: 4, output: 4, batch: 2, activation: 'linear', init: 'orthogonal', gain, task: 'probe', loss: 'probe', seed: 3, ...overrides };
}

describe('exact: linear RNN, W_hh = a·Q, loss at the last step: ‖∂L/∂h_t‖ = a^(T−t)·‖∂L/∂h_T‖', () => {
  it.each([
    { a: 0.97, H: 16, batch: 2, variant: 'step' as RnnVariant, status: 'vanishing' },
    { a: 1, H: 16, batch: 2, variant: 'persistent' as RnnVariant, status: 'stable' },
    { a: 1.03, H: 16, batch: 2, variant: 'step' as RnnVariant, status: 'exploding' },
    { a: 1.03, H: 32, batch: 4, variant: 'persistent' as RnnVariant, status: 'exploding' },
  ])('a = $a, T = 256, H = $H, batch $batch ($variant): every step ×a within 8 ulps; a^(T−t) within (T−t+8) ulps; verdict $status', async ({ a, H, batch, variant, status }) => {
    const ctx = await testGpu();
    const config = linearOrthogonal(a, { width: H, batch });
    const { report } = await runRnnStress(ctx, config, { variant });
    expect(report.variant).toBe(variant);
    const T = config.seqLen;
    const norms = report.steps[0].timesteps.map((s) => s.hiddenGradNorm);
    // The GPU's gain is the f32 uniform: W_hh = f32(a)·Q.
    const a32 = Math.fround(a);
    for (let t = 1; t < T; t++) {
      expect(Math.abs(norms[t - 1] / norms[t] / a32 - 1), `step ${t + 1} → ${t}`).toBeLessThanOrEqual(8 * U);
      expect(Math.abs(norms[t - 1] / norms[T - 1] / a32 ** (T - t) - 1), `t = ${t}`).toBeLessThanOrEqual((T - t + 8) * U);
    }
    expect(report.verdict.predictedGrowthPerStep).toBe(Math.log10(a));
    expect(Math.abs(report.verdict.growthPerStep! - Math.log10(a))).toBeLessThan(1e-7);
    expect(report.verdict.status).toBe(status);
    expect(report.verdict.predictionMethod).toBe('exact-orthogonal');
  });

  it('T 500, H 128, batch 8, gain 1.02 (the issue\'s acceptance run): growth per step = log10(1.02) to three significant digits', async () => {
    const ctx = await testGpu();
    const config = linearOrthogonal(1.02, { seqLen: 500, width: 128, input: 128, output: 128, batch: 8, seed: 1 });
    const { report } = await runRnnStress(ctx, config);
    expect(report.steps[0].timesteps).toHaveLength(500);
    expect(Math.abs(report.verdict.growthPerStep! / Math.log10(1.02) - 1)).toBeLessThan(5e-4);
    expect(report.verdict.status).toBe('exploding');
  });

  it('tanh with σ_max(W_hh) = 0.9 < 1 (orthogonal gain 0.9): every step shrinks ‖∂L/∂h‖ by at least 0.9, the vanishing Pascanu\'s condition guarantees', async () => {
    const ctx = await testGpu();
    const config: RnnConfig = { ...linearOrthogonal(0.9), activation: 'tanh', seqLen: 120, biasStd: 0.5 };
    const { report } = await runRnnStress(ctx, config);
    const norms = report.steps[0].timesteps.map((s) => s.hiddenGradNorm);
    // ‖dh_{t−1}‖ = ‖(dh_t ⊙ tanh'(z_t)) W_hh‖ ≤ 0.9·‖dh_t‖ since |tanh'| ≤ 1 and ‖W_hh‖₂ = 0.9.
    for (let t = 1; t < config.seqLen; t++) expect(norms[t - 1]).toBeLessThanOrEqual(norms[t] * Math.fround(0.9) * (1 + 8 * U));
    expect(report.verdict.status).toBe('vanishing');
    expect(report.verdict.predictedGrowthPerStep).toBeNull();
    expect(report.verdict.predictionNote).toMatch(/must vanish/);
  });
});

describe('the persistent and step-per-dispatch variants give the same numbers', () => {
  it('tanh, gaussian gain 1.3, T 200, loss at every step, bptt 50: h, ∂L/∂h, gradients and updated parameters bit for bit', async () => {
    const ctx = await testGpu();
    const config: RnnConfig = { ...RNN_DEFAULTS, seqLen: 200, width: 24, input: 5, output: 3, batch: 3, activation: 'tanh', init: 'gaussian', gain: 1.3, biasStd: 0.1, lossAt: 'all', bptt: 50, seed: 4 };
    const results: { tensors: Float32Array[]; stats: string }[] = [];
    for (const variant of ['step', 'persistent'] as const) {
      const trainer = await RnnTrainer.create(ctx, config, { variant });
      try {
        expect(trainer.variant).toBe(variant);
        const stats = await trainer.submitStep();
        results.push({ tensors: [await trainer.readHidden(), await trainer.readHiddenGrads(), await trainer.readGrads(), await trainer.readParams()], stats: JSON.stringify(stats) });
      } finally {
        trainer.destroy();
      }
    }
    const [step, persistent] = results;
    ['h', 'dh', 'grads', 'params'].forEach((name, i) => {
      const a = step.tensors[i];
      const b = persistent.tensors[i];
      let differ = 0;
      for (let j = 0; j < a.length; j++) if (!Object.is(a[j], b[j])) differ++;
      expect(differ, `${name}: ${differ} of ${a.length} values differ`).toBe(0);
    });
    expect(persistent.stats).toBe(step.stats);
  });
});

describe('clipping as Pascanu et al.: the adding problem at T = 100', () => {
  it('relu, orthogonal gain 1.6, sgd lr 0.01: diverges without clipping, stays finite (and learns) with norm:1', async () => {
    const ctx = await testGpu();
    const base: RnnConfig = { ...RNN_DEFAULTS, seqLen: 100, width: 16, input: 2, output: 1, batch: 4, activation: 'relu', init: 'orthogonal', gain: 1.6, task: 'adding', loss: 'mse', steps: 8, lr: 0.01, seed: 2 };
    const wild = (await runRnnStress(ctx, base)).report;
    expect(wild.verdict.status).toBe('diverged');
    expect(wild.verdict.firstNonfiniteStep).not.toBeNull();
    const tamed = (await runRnnStress(ctx, { ...base, clip: { kind: 'norm', threshold: 1 } })).report;
    expect(tamed.verdict.firstNonfiniteStep).toBeNull();
    expect(tamed.steps.every((s) => Number.isFinite(s.loss) && s.nonfinite === 0)).toBe(true);
    expect(tamed.steps.every((s) => s.clipScale < 1)).toBe(true);
    // Identical first step (clipping acts on the update), then the clipped run learns.
    expect(tamed.steps[0].loss).toBe(wild.steps[0].loss);
    expect(tamed.steps[tamed.steps.length - 1].loss).toBeLessThan(tamed.steps[0].loss / 100);
  });
});
