import { describe, expect, it } from 'vitest';
import { benchMlpStep } from '../../bench/mlp-step.ts';
import { defaultBenchPlan, parseMatmulShape, TUNED_VARIANT, type MatmulShape } from '../../bench/plan.ts';
import { tuningKey, type TuningStore, type TuningTable } from '../../src/tune/tuner.ts';
import { validateBenchReport } from '../../bench/report.ts';
import { benchRnnStep } from '../../bench/rnn-step.ts';
import { runBenchSuite, type BenchEvent } from '../../bench/suite.ts';
import { benchTables } from '../../bench/table.ts';
import { defaultMatmulVariant, MATMUL_LAYOUTS, MATMUL_VARIANTS } from '../../src/kernels/matmul.ts';
import { testGpu } from '../support/gpu.ts';

const UNIT_ROUNDOFF = 2 ** -24;

describe('bench suite on the GPU: structure, schema and correctness (never speed)', () => {
  it('times every variant × layout at awkward sizes, checks each against float64 within |Δ| ≤ 1e-6 + (K+2)·2⁻²⁴·Σ|a||b|, with plain-JS ratios', async () => {
    const ctx = await testGpu();
    const skinny = parseMatmulShape('tn:20x30x70') as MatmulShape;
    const events: BenchEvent[] = [];
    const report = await runBenchSuite(
      ctx,
      { ...defaultBenchPlan('test'), kernels: ['matmul', 'relu', 'reduce'], sizes: [33, 64], shapes: [skinny], variants: MATMUL_VARIANTS, tuning: null, runs: 2, maxSeconds: 600, elementCounts: [4099], loadTfjs: null, plainJs: true },
      (event) => events.push(event),
    );
    expect(validateBenchReport(JSON.parse(JSON.stringify(report)))).toBeNull();
    expect(report.skipped).toEqual([]);

    const matmuls = report.entries.filter((e) => e.kernel.startsWith('matmul.'));
    const expected = [
      ...MATMUL_VARIANTS.map((v) => `matmul.tn 20×30×70 ${v}`),
      ...[33, 64].flatMap((n) => MATMUL_LAYOUTS.flatMap((l) => MATMUL_VARIANTS.map((v) => `matmul.${l} ${n}×${n}×${n} ${v}`))),
    ];
    expect(matmuls.map((e) => `${e.kernel} ${e.shape} ${e.variant}`)).toEqual(expected);
    for (const e of matmuls) {
      const k = Number(e.shape.split('×')[2]);
      // Uniform data in [-1, 1): Σ|a||b| ≤ K.
      expect(e.withinTolerance, `${e.kernel} ${e.shape} ${e.variant}`).toBe(true);
      expect(e.maxError).toBeLessThanOrEqual(1e-6 + (k + 2) * UNIT_ROUNDOFF * k);
      expect(e.gflops).toBeGreaterThan(0);
      expect(e.runs).toBe(2);
      expect(e.minMs).toBeLessThanOrEqual(e.ms);
      expect(e.ms).toBeLessThanOrEqual(e.maxMs);
    }
    // One plain-JS baseline per matmul shape and layout, none from TF.js, and a ratio for every entry.
    expect(report.baselines.map((b) => b.variant)).toEqual(Array(1 + 2 * MATMUL_LAYOUTS.length).fill('plain-js'));
    expect(report.ratios).toHaveLength(matmuls.length);
    expect(report.ratios.every((r) => r.baseline === 'plain-js' && r.speedup > 0)).toBe(true);

    expect(report.entries.filter((e) => !e.kernel.startsWith('matmul.')).map((e) => `${e.kernel} ${e.shape}`)).toEqual(['relu.forward 4099', 'relu.backward 4099', 'reduce.norm 4099']);
    for (const e of report.entries.filter((x) => x.gbps !== undefined)) expect(e.withinTolerance, e.kernel).toBe(true);

    expect(events.filter((e) => e.type === 'entry')).toHaveLength(report.entries.length);
    expect(benchTables(report).map((t) => t.title)).toEqual(['matmul (GFLOP/s)', 'bandwidth (GB/s)']);
  });

  it('skips, and says why, the cells a tiny time budget cannot afford', async () => {
    const ctx = await testGpu();
    const report = await runBenchSuite(ctx, {
      ...defaultBenchPlan('test'), kernels: ['matmul'], sizes: [16, 256], shapes: [], layouts: ['nn'], variants: [MATMUL_VARIANTS[0]], tuning: null, runs: 1, maxSeconds: 0.001, loadTfjs: null, plainJs: false,
    });
    expect(report.entries.map((e) => e.shape)).toEqual(['16×16×16']); // a runner's first cell always runs
    expect(report.skipped).toEqual([{ kernel: 'matmul.nn', shape: '256×256×256', variant: MATMUL_VARIANTS[0], reason: expect.stringMatching(/^over the time budget: ~\d+ s estimated at .* GFLOP\/s, 0 s of 0.001 s left$/) }]);
    expect(validateBenchReport(JSON.parse(JSON.stringify(report)))).toBeNull();
  });

  it('tunes the classes the plan times as "tuned", saves them, reports the choice per class, and runs the chosen tiling', async () => {
    const ctx = await testGpu();
    const skinny = parseMatmulShape('tn:20x30x70') as MatmulShape;
    const saved: TuningTable[] = [];
    const store: TuningStore = { load: () => null, save: (t) => saved.push(structuredClone(t)) > 0, where: () => 'memory' };
    const events: BenchEvent[] = [];
    const plan = { ...defaultBenchPlan('test'), kernels: ['matmul'] as const, sizes: [], shapes: [skinny], variants: [TUNED_VARIANT], tuning: { store, retune: false }, runs: 1, loadTfjs: null, plainJs: false };
    const report = await runBenchSuite(ctx, plan, (event) => events.push(event));
    expect(validateBenchReport(JSON.parse(JSON.stringify(report)))).toBeNull();
    const tuned = events.filter((e) => e.type === 'tuned').map((e) => e.entry);
    expect(tuned.map((e) => e.shapeClass)).toEqual(['matmul/tn/ssl/any']);
    expect(saved).toHaveLength(1);
    const winner = tuned[0].variant;
    expect(report.tuning).toEqual({ key: tuningKey(ctx.summary), where: 'memory', classes: [{ shapeClass: 'matmul/tn/ssl/any', variant: winner, ms: tuned[0].ms, measured: true }] });
    expect(report.entries).toHaveLength(1);
    expect(report.entries[0]).toMatchObject({ kernel: 'matmul.tn', shape: '20×30×70', variant: TUNED_VARIANT, withinTolerance: true });
    expect(report.entries[0].note).toBe(winner);
  });

  it('names the tiling that ran when a forced vec4 tiling cannot read the sizes', async () => {
    const ctx = await testGpu();
    const report = await runBenchSuite(ctx, {
      ...defaultBenchPlan('test'), kernels: ['matmul'], sizes: [12, 13], shapes: [], layouts: ['nt'], variants: ['register-8x8-wg8x8-v4'], tuning: null, runs: 1, loadTfjs: null, plainJs: false,
    });
    expect(report.entries.map((e) => [e.shape, e.note, e.withinTolerance])).toEqual([
      ['12×12×12', undefined, true],
      ['13×13×13', 'ran register-8x8-wg8x8: vec4 loads do not fit these sizes', true],
    ]);
  });

  it('stops at the next cell when its signal aborts, throwing the reason', async () => {
    const ctx = await testGpu();
    const abort = new AbortController();
    const reason = new Error('cancelled by the test');
    const entries: string[] = [];
    const run = runBenchSuite(
      ctx,
      { ...defaultBenchPlan('test'), kernels: ['matmul', 'relu'], sizes: [8, 16, 24], shapes: [], layouts: ['nt'], variants: ['register'], tuning: null, runs: 1, elementCounts: [64], loadTfjs: null, plainJs: false },
      (event) => {
        if (event.type !== 'entry') return;
        entries.push(event.entry.shape);
        abort.abort(reason);
      },
      { signal: abort.signal },
    );
    await expect(run).rejects.toBe(reason);
    expect(entries).toEqual(['8×8×8']);
  });

  it('times small MLP and RNN training steps (one submit each) and their recurrences', async () => {
    const ctx = await testGpu();
    const variant = defaultMatmulVariant(ctx.summary);
    const mlp = await benchMlpStep(ctx, { depth: 3, width: 16, batch: 4 }, variant, 2);
    expect(mlp).toMatchObject({ kernel: 'mlp.step', shape: 'depth 3, width 16, batch 4', variant, runs: 2, maxError: null, timing: 'wall-clock' });
    expect(mlp.note).toMatch(/^one submit, \d+ dispatches$/);
    // The engine's own choice per shape class (here: whatever ctx holds), as gradstorm stress runs it.
    const tunedStep = await benchMlpStep(ctx, { depth: 3, width: 16, batch: 4 }, TUNED_VARIANT, 1);
    expect(tunedStep).toMatchObject({ kernel: 'mlp.step', variant: TUNED_VARIANT, runs: 1 });
    const rnn = await benchRnnStep(ctx, { seqLen: 5, width: 8, batch: 2 }, 'step', 2);
    expect(rnn.map((e) => e.kernel)).toEqual(['rnn.step', 'rnn.recurrence.forward', 'rnn.recurrence.backward']);
    expect(rnn.every((e) => e.ms > 0 && e.runs === 2)).toBe(true);
  });
});
