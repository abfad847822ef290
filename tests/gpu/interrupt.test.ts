import { describe, expect, it } from 'vitest';
import { testGpu } from '../support/gpu.ts';
import { acquireGpu } from '../../src/gpu/acquire.ts';
import { runStress } from '../../src/scheduler/run.ts';
import { runRnnStress } from '../../src/scheduler/rnn-run.ts';
import { RunInterruptedError } from '../../src/scheduler/interruption.ts';
import { MLP_DEFAULTS, type MlpConfig } from '../../src/models/config.ts';
import { RNN_DEFAULTS, type RnnConfig } from '../../src/models/rnn.ts';
import { describeGradNorm } from '../../src/report/run-report.ts';

// Tiny, awkward shapes: input 5 → width 7 → output 3, batch 6.
const mlp = (overrides: Partial<MlpConfig> = {}): MlpConfig => ({ ...MLP_DEFAULTS, depth: 3, width: 7, input: 5, output: 3, batch: 6, steps: 50, ...overrides });
const rnn = (overrides: Partial<RnnConfig> = {}): RnnConfig => ({ ...RNN_DEFAULTS, seqLen: 5, width: 7, input: 3, output: 2, batch: 3, steps: 40, ...overrides });

describe('interrupted runs return the report of the steps done (contract: stop after the step in flight)', () => {
  it('runStress: an AbortSignal aborted at step 3 of 50 stops after the step in flight; the partial report says why and where', async () => {
    const ctx = await testGpu();
    const controller = new AbortController();
    const { report } = await runStress(ctx, mlp({ loss: 'mse' }), {
      signal: controller.signal,
      onStep: (done) => {
        if (done === 3) controller.abort('SIGTERM');
      },
    });
    // Step 4 was already submitted (one in flight while step 3 was read back); nothing after it.
    expect(report.steps.map((s) => s.step)).toEqual([1, 2, 3, 4]);
    expect(report.interrupted).toBe(true);
    expect(report.interruption).toEqual({ reason: 'SIGTERM', stepReached: 4, message: 'interrupted (SIGTERM) after step 4 of 50' });
    expect(report.steps[3].layers).toHaveLength(3); // the last step keeps its per-layer rows
    expect(report.timing?.stepMs).toHaveLength(4);
  });

  it('a complete run has neither field; an unknown abort reason reads "aborted"; aborted before the first step throws', async () => {
    const ctx = await testGpu();
    const complete = (await runStress(ctx, mlp({ steps: 2 }))).report;
    expect('interrupted' in complete || 'interruption' in complete).toBe(false);
    const controller = new AbortController();
    const { report } = await runStress(ctx, mlp({ loss: 'mse' }), { signal: controller.signal, onStep: () => controller.abort(new Error('user')) });
    expect(report.interruption?.reason).toBe('aborted');
    expect(report.steps.length).toBeLessThanOrEqual(2);
    await expect(runStress(ctx, mlp(), { signal: AbortSignal.abort('SIGINT') })).rejects.toThrow(RunInterruptedError);
  });

  it('runRnnStress stops the same way and its steps record gradNorm null with finiteGradNorm once gradients overflow', async () => {
    const ctx = await testGpu();
    const controller = new AbortController();
    // Probe loss, lr 10: diverges within a few steps.
    const { report } = await runRnnStress(ctx, rnn({ lr: 10, activation: 'relu', gain: 3 }), {
      signal: controller.signal,
      onStep: (done) => {
        if (done === 12) controller.abort('SIGINT');
      },
    });
    expect(report.steps).toHaveLength(13);
    expect(report.interruption).toMatchObject({ reason: 'SIGINT', stepReached: 13 });
    const bad = report.steps.filter((s) => s.nonfinite > 0);
    expect(bad.length).toBeGreaterThan(0);
    for (const s of bad) {
      expect(s.gradNorm).toBeNull();
      expect(Number.isFinite(s.finiteGradNorm)).toBe(true);
      expect(describeGradNorm(s)).toMatch(/^non-finite \(\d+ entries(, first at timestep \d+|, in the loss)?\)$/);
    }
    for (const s of report.steps.filter((x) => x.nonfinite === 0)) expect(s.gradNorm).toBe(s.finiteGradNorm);
  });

  it('a device lost after the first step gives a partial report (reason device-lost), not an exception', async () => {
    const ctx = await acquireGpu();
    try {
      const { report } = await runStress(ctx, mlp({ loss: 'mse', steps: 200 }), {
        onStep: (done) => {
          if (done === 2) ctx.device.destroy();
        },
      });
      expect(report.interrupted).toBe(true);
      expect(report.interruption?.reason).toBe('device-lost');
      expect(report.interruption?.stepReached).toBe(report.steps.length);
      expect(report.steps.length).toBeGreaterThanOrEqual(2);
      expect(report.steps.length).toBeLessThan(200);
    } finally {
      ctx.destroy();
    }
  });
});
