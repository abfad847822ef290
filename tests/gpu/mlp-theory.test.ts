import { describe, expect, it } from 'vitest';
import { testGpu } from '../support/gpu.ts';
import { runStress } from '../../src/scheduler/run.ts';
import { MLP_DEFAULTS, type MlpConfig } from '../../src/models/config.ts';
import { reluGrowthTolerance } from '../../src/analysis/index.ts';
import { MlpTrainer } from '../../src/scheduler/mlp-trainer.ts';

function config(overrides: Partial<MlpConfig>): MlpConfig {
  return { ...MLP_DEFAULTS, depth: 40, width: 128, input: 128, output: 128, batch: 16, loss: 'probe', steps: 1, ...overrides };
}

describe('measured gradient growth agrees with the theory', () => {
  it.each([1.2, Math.SQRT2, 1.8])('relu, gaussian gain %f, depth 40, width 128: growth per layer within the finite-width tolerance of ½·log10(gain²/2)', async (gain) => {
    const ctx = await testGpu();
    const c = config({ activation: 'relu', init: 'gaussian', gain, seed: 3 });
    const { report } = await runStress(ctx, c);
    const measured = report.verdict.growthPerLayer!;
    const predicted = report.verdict.predictedGrowthPerLayer!;
    expect(predicted).toBeCloseTo(0.5 * Math.log10((gain * gain) / 2), 10);
    const tolerance = reluGrowthTolerance(c.width, c.depth);
    expect(report.verdict.status).toBe(gain < 1.3 ? 'vanishing' : gain > 1.5 ? 'exploding' : 'stable');
    expect(Math.abs(measured - (predicted + tolerance.bias)), `measured ${measured}, predicted ${predicted}`).toBeLessThanOrEqual(tolerance.halfWidth);
    // Over 38 fitted layers: gain 1.2 loses 2.7 decades (vanishing), √2 keeps them, 1.8 gains 4.
  });

  it('linear, orthogonal gain 1.05, depth 40, width 128: growth is log10(1.05) per layer to float32 precision', async () => {
    const ctx = await testGpu();
    const { report } = await runStress(ctx, config({ activation: 'linear', init: 'orthogonal', gain: 1.05, seed: 4 }));
    expect(report.verdict.predictedGrowthPerLayer).toBeCloseTo(Math.log10(1.05), 12);
    expect(Math.abs(report.verdict.growthPerLayer! - Math.log10(1.05))).toBeLessThan(2e-5);
    // Every layer, not just the fit: ‖δ_l‖ = 1.05·‖δ_{l+1}‖ exactly, up to rounding.
    const layers = report.steps[0].layers;
    for (let l = 1; l < layers.length - 1; l++) {
      expect(layers[l - 1].deltaNorm / layers[l].deltaNorm).toBeCloseTo(1.05, 4);
    }
  });

  it.each([
    { phase: 'ordered', gain: 1.0, biasStd: 0.3 },
    { phase: 'chaotic', gain: 2.5, biasStd: 0.3 },
  ])('tanh, $phase phase (gain $gain, bias std $biasStd), width 256: growth within 15% + 0.004 of the mean-field recursion', async ({ gain, biasStd }) => {
    const ctx = await testGpu();
    const { report } = await runStress(ctx, config({ activation: 'tanh', init: 'gaussian', gain, biasStd, width: 256, input: 256, output: 256, depth: 30, seed: 5 }));
    const measured = report.verdict.growthPerLayer!;
    const predicted = report.verdict.predictedGrowthPerLayer!;
    expect(report.verdict.predictionMethod).toBe('meanfield');
    expect(Math.abs(measured - predicted), `measured ${measured}, predicted ${predicted}`).toBeLessThanOrEqual(0.15 * Math.abs(predicted) + 0.004);
    expect(Math.sign(measured)).toBe(gain > 1.5 ? 1 : -1);
  });
});

describe('clipping, divergence and determinism', () => {
  it('norm clipping: the applied gradient (Δparams / lr under sgd) has norm ≤ C', async () => {
    const ctx = await testGpu();
    const C = 0.5;
    const trainer = await MlpTrainer.create(ctx, config({ depth: 8, width: 32, input: 32, output: 32, activation: 'relu', gain: 1.8, loss: 'mse', optimizer: 'sgd', lr: 1, clip: { kind: 'norm', threshold: C } }));
    try {
      const before = await trainer.readParams();
      const stats = await trainer.submitStep();
      const after = await trainer.readParams();
      let sq = 0;
      for (let i = 0; i < before.length; i++) sq += (after[i] - before[i]) ** 2;
      expect(stats.finiteGradNorm).toBeGreaterThan(C);
      expect(stats.clipScale).toBeCloseTo(C / (stats.finiteGradNorm + 1e-6), 5);
      expect(Math.sqrt(sq)).toBeLessThanOrEqual(C * (1 + 1e-4));
      expect(Math.sqrt(sq)).toBeGreaterThan(C * 0.999);
    } finally {
      trainer.destroy();
    }
  });

  it('a run that diverges without clipping stays finite with norm clipping', async () => {
    const ctx = await testGpu();
    const base = config({ depth: 12, width: 32, input: 32, output: 32, activation: 'relu', gain: 2.2, loss: 'mse', optimizer: 'sgd', lr: 0.5, steps: 20, seed: 9 });
    const wild = (await runStress(ctx, base)).report;
    expect(wild.verdict.status).toBe('diverged');
    expect(wild.verdict.firstNonfiniteStep).not.toBeNull();
    const tamed = (await runStress(ctx, { ...base, clip: { kind: 'norm', threshold: 1 } })).report;
    expect(tamed.verdict.firstNonfiniteStep).toBeNull();
    expect(tamed.steps.every((s) => Number.isFinite(s.loss) && s.nonfinite === 0)).toBe(true);
    expect(tamed.steps.some((s) => s.clipScale < 1)).toBe(true);
  });

  it('the same seed on the same adapter gives an identical report', async () => {
    const ctx = await testGpu();
    const c = config({ depth: 6, width: 24, input: 10, output: 4, loss: 'mse', optimizer: 'adam', steps: 3, activation: 'tanh', biasStd: 0.1, seed: 21 });
    const strip = (r: Awaited<ReturnType<typeof runStress>>['report']) => JSON.stringify({ ...r, timing: undefined });
    const a = (await runStress(ctx, c)).report;
    const b = (await runStress(ctx, c)).report;
    expect(strip(b)).toBe(strip(a));
    const other = (await runStress(ctx, { ...c, seed: 22 })).report;
    expect(strip(other)).not.toBe(strip(a));
  });
});
