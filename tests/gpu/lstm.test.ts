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

import { LstmTrainer, runLstmStress } from '../../src/scheduler/lstm-run.ts';
import { LSTM_DEFAULTS, LSTM_TENSORS, type LstmConfig } from '../../src/models/lstm.ts';
import { lstmLossReference, lstmStepReference, type LstmReferenceParams } from '../../src/models/lstm-reference.ts';
import type { RnnTask } from '../../src/models/rnn.ts';
import { expectTensorClose, maxAbs } from '../support/tensors.ts';
import { validateReport } from '../../src/report/schema.ts';

function smallLstm(overrides: Partial<LstmConfig> & { task?: RnnTask } = {}): LstmConfig {
  const task = overrides.task ?? 'probe';
  // Off every tile: T 7, H 6, in 3 → out 2, batch 3 (slabs padded to 32 rows); gain 1 so the hidden path matters.
  return {
    ...LSTM_DEFAULTS,
    seqLen: 7,
    width: 6,
    input: task === 'adding' ? 2 : 3,
    output: task === 'adding' ? 1 : 2,
    batch: 3,
    gain: 1,
    task,
    loss: task === 'adding' ? 'mse' : 'probe',
    ...overrides,
  };
}

function paramsOf(d: { params: readonly { name: string; data: readonly number[] }[] }): Record<keyof LstmReferenceParams, Float64Array> {
  const get = (name: string) => Float64Array.from(d.params.find((p) => p.name === name)!.data);
  return { W_ih: get('W_ih'), W_hh: get('W_hh'), b: get('b'), W_hy: get('W_hy'), b_y: get('b_y') };
}

function dimsOf(c: LstmConfig) {
  return { seqLen: c.seqLen, batch: c.batch, input: c.input, hidden: c.width, output: c.output };
}

const norm = (a: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, v) => s + v * v, 0));

describe('LSTM gradients on the GPU: float64 reference and finite differences agree', () => {
  it.each([
    { task: 'probe' as const, forgetBias: 1, seed: 3 },
    { task: 'adding' as const, forgetBias: -0.5, seed: 4 },
  ])('$task, forget bias $forgetBias: every ∂L/∂param, h_t, c_t, ∂L/∂h_t, ∂L/∂c_t within 2e-5 of float64; step stats match', async ({ task, forgetBias, seed }) => {
    const ctx = await testGpu();
    const config = smallLstm({ task, forgetBias, seed });
    const trainer = await LstmTrainer.create(ctx, config);
    try {
      const [params, input, target] = [await trainer.readParams(), await trainer.readInput(), await trainer.readTarget()];
      const stats = await trainer.submitStep();
      const grads = await trainer.readGrads();
      const arena = { params: trainer.plan.tensors.map((t) => ({ name: t.name, data: Array.from(params.subarray(t.offset, t.offset + t.length)) })) };
      const p = paramsOf(arena);
      // The forget block of b holds the forget bias, the rest zeros.
      expect(Array.from(p.b)).toEqual(Array.from({ length: 24 }, (_, i) => (i >= 6 && i < 12 ? Math.fround(forgetBias) : 0)));
      const ref = lstmStepReference(p, dimsOf(config), config.loss, input, target);
      expect(Math.abs(stats.loss - ref.loss)).toBeLessThanOrEqual(1e-5 * Math.abs(ref.loss) + 1e-6);
      for (const t of trainer.plan.tensors) expectTensorClose(`d${t.name}`, grads.subarray(t.offset, t.offset + t.length), ref.grads[t.name]);
      const [h, c, dh, dc, dcf] = [await trainer.readState('h'), await trainer.readState('c'), await trainer.readStateGrads('dh'), await trainer.readStateGrads('dc'), await trainer.readStateGrads('dcf')];
      const n = config.batch * config.width;
      for (let t = 1; t <= config.seqLen; t++) {
        const at = (x: Float32Array) => x.subarray((t - 1) * n, t * n);
        expectTensorClose(`h_${t}`, at(h), ref.hidden[t], 1e-5);
        expectTensorClose(`c_${t}`, at(c), ref.cell[t], 1e-5);
        expectTensorClose(`dh_${t}`, at(dh), ref.dh[t - 1]);
        expectTensorClose(`dc_${t}`, at(dc), ref.dc[t - 1]);
        expectTensorClose(`dcf_${t}`, at(dcf), ref.dcf[t - 1]);
        const s = stats.timesteps[t - 1];
        for (const [name, got, want] of [
          ['‖dh‖', s.hiddenGradNorm, norm(ref.dh[t - 1])],
          ['‖dc‖', s.cellGradNorm, norm(ref.dc[t - 1])],
          ['‖f⊙dc‖', s.cellPathGradNorm, norm(ref.dcf[t - 1])],
          ['rms f', s.forgetRms, norm(ref.gates[t - 1].subarray(n, 2 * n)) / Math.sqrt(n)],
          ['max f', s.forgetMax, Math.max(...ref.gates[t - 1].subarray(n, 2 * n))],
        ] as const) expect(Math.abs(got - want), `${name} at t = ${t}`).toBeLessThanOrEqual(2e-5 * want + 1e-30);
      }
      expect(stats.tensors.map((x) => x.name)).toEqual([...LSTM_TENSORS]);
      expect(stats.nonfinite).toBe(0);
      expect(ctx.takeUncapturedErrors()).toEqual([]);
    } finally {
      trainer.destroy();
    }
  });

  it('adding task: the dump\'s GPU gradients of every tensor (W_ih, W_hh, b, W_hy, b_y) match central differences of the float64 loss (1e-4 of max|g|)', async () => {
    const ctx = await testGpu();
    const config = smallLstm({ task: 'adding', seqLen: 5, width: 3, batch: 2, seed: 9 });
    const { dump } = await runLstmStress(ctx, config, { dump: true });
    const d = dump!;
    expect(d.params.map((x) => [x.name, x.shape])).toEqual([['W_ih', [12, 2]], ['W_hh', [12, 3]], ['b', [12]], ['W_hy', [1, 3]], ['b_y', [1]]]);
    expect(d.input.shape).toEqual([5, 2, 2]);
    expect(d.target!.shape).toEqual([2, 1]);
    const tensors = paramsOf(d);
    const loss = () => lstmLossReference(tensors, dimsOf(config), config.loss, d.input.data, d.target!.data);
    expect(Math.abs(loss() - d.loss)).toBeLessThanOrEqual(1e-5 * Math.abs(d.loss) + 1e-6);
    let checked = 0;
    for (const g of d.grads) {
      const tensor = tensors[g.name as keyof LstmReferenceParams];
      const scale = Math.max(maxAbs(g.data), 1e-12);
      for (let i = 0; i < tensor.length; i++) {
        const saved = tensor[i];
        tensor[i] = saved + 1e-6;
        const plus = loss();
        tensor[i] = saved - 1e-6;
        const minus = loss();
        tensor[i] = saved;
        const fd = (plus - minus) / 2e-6;
        expect(Math.abs(g.data[i] - fd) / scale, `${g.name}[${i}]: gpu ${g.data[i]} vs fd ${fd}`).toBeLessThanOrEqual(1e-4);
        checked++;
      }
    }
    expect(checked).toBe(24 + 36 + 12 + 3 + 1);
    const validated = validateReport(JSON.parse(JSON.stringify(d)));
    expect(validated.ok && validated.kind).toBe('dump');
  });
});

describe('LSTM theory: the forget gates predict the per-step decay of ‖∂L/∂c_t‖', () => {
  it('adding, H 8, T 20, B 16, default gain: measured within 0.025 + 20% of the cell-path prediction at forget bias 0 and 3; the bias moves both by more than that', async () => {
    const ctx = await testGpu();
    const theories = [];
    for (const forgetBias of [0, 3]) {
      const config: LstmConfig = { ...LSTM_DEFAULTS, task: 'adding', loss: 'mse', seqLen: 20, width: 8, input: 2, output: 1, batch: 16, forgetBias, seed: 2 };
      const { report } = await runLstmStress(ctx, config);
      const theory = report.verdict.cellTheory;
      theories.push(theory);
      expect(theory.fittedTimesteps).toEqual([1, 20]);
      expect(theory.tolerance).toBeCloseTo(0.025 + 0.2 * Math.abs(theory.predictedGrowthPerStep!), 12);
      expect(theory.agrees, JSON.stringify(theory)).toBe(true);
      expect(Math.abs(theory.measuredGrowthPerStep! - theory.predictedGrowthPerStep!)).toBeLessThanOrEqual(theory.tolerance!);
      expect(report.verdict.growthPerStep).toBeCloseTo(theory.measuredGrowthPerStep!, 12);
      expect(report.verdict.predictedGrowthPerStep).toBe(theory.predictedGrowthPerStep);
      expect(report.verdict.predictionNote).toContain('cell path');
      const validated = validateReport(JSON.parse(JSON.stringify(report)));
      expect(validated.ok ? validated.kind : validated.errors).toBe('run-lstm');
    }
    const [zero, three] = theories;
    // σ(0) = 0.5 vs σ(3) ≈ 0.95: the decay per step differs by far more than the tolerances, in both measurement and prediction.
    const both = zero.tolerance! + three.tolerance!;
    expect(zero.predictedGrowthPerStep! - three.predictedGrowthPerStep!).toBeLessThan(-both);
    expect(zero.measuredGrowthPerStep! - three.measuredGrowthPerStep!).toBeLessThan(-both);
    // The tolerance discriminates: the unweighted log10 rms f misses the measurement at forget bias 0.
    expect(Math.abs(zero.measuredGrowthPerStep! - zero.forgetRmsGrowthPerStep!)).toBeGreaterThan(zero.tolerance!);
    // The statistics are of the measured gates: rms f sits near σ(b_f).
    expect(zero.meanForgetRms!).toBeGreaterThan(0.4);
    expect(zero.meanForgetRms!).toBeLessThan(0.7);
    expect(three.meanForgetRms!).toBeGreaterThan(0.9);
  });

  it('W_hh = 0 (no hidden path): the cell path is the whole gradient, measured = predicted (the same curve) to 1e-4 decades per step', async () => {
    const ctx = await testGpu();
    const config: LstmConfig = { ...LSTM_DEFAULTS, task: 'probe', loss: 'probe', seqLen: 16, width: 5, input: 3, output: 2, batch: 4, gain: 0, seed: 5 };
    const { report } = await runLstmStress(ctx, config);
    const theory = report.verdict.cellTheory;
    expect(Math.abs(theory.measuredGrowthPerStep! - theory.predictedGrowthPerStep!), JSON.stringify(theory)).toBeLessThanOrEqual(1e-4);
    // Every step along the cell path alone: ∂c_{t−1} = f_t ⊙ ∂c_t exactly, so ‖∂c_{t−1}‖ = ‖f_t ⊙ ∂c_t‖.
    const ts = report.steps[0].timesteps;
    for (let t = 2; t <= 16; t++) expect(ts[t - 2].cellGradNorm).toBeCloseTo(ts[t - 1].cellPathGradNorm, 6);
  });
});
