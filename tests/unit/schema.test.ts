import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import {
  benchReportSchema,
  checkReportSchema,
  dumpSchema,
  mlpRunReportSchema,
  rnnRunReportSchema,
  sweepReportSchema,
  validateReport,
  type MlpRunReportJson,
} from '../../src/report/schema.ts';
import { buildRunReport, type RunReport } from '../../src/report/run-report.ts';
import { buildRnnRunReport, type RnnRunReport } from '../../src/scheduler/rnn-run.ts';
import type { StepStats } from '../../src/scheduler/mlp-trainer.ts';
import type { RnnStepStats } from '../../src/scheduler/rnn-trainer.ts';
import { MLP_DEFAULTS, type MlpConfig } from '../../src/models/config.ts';
import { RNN_DEFAULTS, buildRnnDump, planRnn, type RnnConfig, type RnnDump } from '../../src/models/rnn.ts';
import { buildMlpDump, type MlpDump } from '../../src/models/dump.ts';
import { planMlp } from '../../src/models/mlp.ts';
import type { BenchReport } from '../../bench/report.ts';
import { schemaFiles } from '../../src/report/schema-files.ts';
import * as library from '../../src/index.ts';

const SCHEMAS_DIR = fileURLToPath(new URL('../../schemas', import.meta.url));

// The writers' types fit the schemas' (a field a writer adds without a schema entry is fine; a wrong type is not).
type Fits<Writer, Schema extends z.ZodType> = Writer extends z.input<Schema> ? true : false;
const typesFit: [
  Fits<RunReport, typeof mlpRunReportSchema>,
  Fits<RnnRunReport, typeof rnnRunReportSchema>,
  Fits<BenchReport, typeof benchReportSchema>,
  Fits<MlpDump, typeof dumpSchema>,
  Fits<RnnDump, typeof dumpSchema>,
] = [true, true, true, true, true];
void typesFit;
void checkReportSchema;
void sweepReportSchema;

const adapter = { vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader', device: 'd', software: true, backend: 'dawn-node', features: [], limits: {} } as unknown as Parameters<typeof buildRunReport>[1];

function mlpSteps(config: MlpConfig, nonfiniteAt: number | null = null): StepStats[] {
  return Array.from({ length: config.steps }, (_, i) => {
    const bad = nonfiniteAt !== null && i + 1 >= nonfiniteAt;
    return {
      step: i + 1,
      loss: bad ? NaN : 1 / (i + 1),
      gradNorm: bad ? (null as unknown as number) : 2,
      finiteGradNorm: 2,
      clipScale: 1,
      nonfinite: bad ? 3 : 0,
      nonfiniteLayer: bad ? 2 : null,
      layers: Array.from({ length: config.depth }, (_, l) => ({
        index: l + 1,
        weightGradNorm: 1,
        biasGradNorm: 0.5,
        deltaNorm: bad && l === 0 ? Infinity : 1.5 ** (config.depth - l),
        activationNorm: 3,
        weightNorm: 4,
        maxAbsGrad: 0.1,
        nonfinite: 0,
      })),
    } as StepStats;
  });
}

const mlpConfig: MlpConfig = { ...MLP_DEFAULTS, depth: 6, width: 4, input: 3, output: 2, batch: 2, steps: 3 };
const rnnConfig: RnnConfig = { ...RNN_DEFAULTS, seqLen: 5, width: 3, input: 3, output: 3, batch: 2, steps: 2 };

function rnnSteps(config: RnnConfig): RnnStepStats[] {
  return Array.from({ length: config.steps }, (_, i) => ({
    step: i + 1,
    loss: 0.5,
    gradNorm: 1,
    finiteGradNorm: 1,
    clipScale: 1,
    nonfinite: 0,
    nonfiniteTimestep: null,
    layers: [],
    tensors: [{ name: 'Whh', gradNorm: 1, norm: 2, maxAbsGrad: 0.3, nonfinite: 0 }],
    timesteps: Array.from({ length: config.seqLen }, (_, t) => ({ t: t + 1, hiddenGradNorm: 0.9 ** (config.seqLen - t - 1), log10HiddenGradNorm: (config.seqLen - t - 1) * Math.log10(0.9), hiddenNorm: 1 })),
  }));
}

/** What a reader gets: the file the writer wrote, parsed. */
const throughJson = (x: unknown): unknown => JSON.parse(JSON.stringify(x));

describe('report schemas (src/report/schema.ts, zod): every writer’s output validates', () => {
  it('an MLP run report (finite, and one that went non-finite: NaN and Infinity arrive as null)', () => {
    for (const steps of [mlpSteps(mlpConfig), mlpSteps(mlpConfig, 2)]) {
      const result = validateReport(throughJson(buildRunReport(mlpConfig, adapter, steps, [3, 1, 2])));
      expect(result.ok ? result.kind : result.errors).toBe('run-mlp');
    }
  });

  it('an interrupted MLP report (shared contract 1 fields)', () => {
    const report = { ...buildRunReport(mlpConfig, adapter, mlpSteps(mlpConfig).slice(0, 1)), interrupted: true, interruption: { reason: 'SIGINT', stepReached: 1, message: 'stopped' } };
    expect(validateReport(throughJson(report)).ok).toBe(true);
    expect(validateReport(throughJson({ ...report, interruption: { ...report.interruption, reason: 'bored' } }))).toMatchObject({ ok: false, errors: [expect.stringMatching(/^interruption\.reason: expected "SIGINT" \| /)] });
  });

  it('an RNN run report', () => {
    const result = validateReport(throughJson(buildRnnRunReport(rnnConfig, adapter, 'step', rnnSteps(rnnConfig))));
    expect(result.ok ? result.kind : result.errors).toBe('run-rnn');
  });

  it('MLP and RNN dumps', () => {
    const plan = planMlp(mlpConfig);
    const f = (n: number) => new Float32Array(n).map((_, i) => i / 7);
    const mlp = buildMlpDump(mlpConfig, plan, { loss: 0.5, params: f(plan.paramElements), grads: f(plan.paramElements), input: f(2 * 3), target: f(2 * 2) });
    expect(validateReport(throughJson(mlp))).toMatchObject({ ok: true, kind: 'dump' });
    const rplan = planRnn(rnnConfig);
    const rnn = buildRnnDump(rnnConfig, rplan, { loss: NaN, params: f(rplan.paramElements), grads: f(rplan.paramElements), input: f(5 * 2 * 3), target: f(2 * 3) });
    expect(validateReport(throughJson(rnn))).toMatchObject({ ok: true, kind: 'dump' });
    const short = throughJson(mlp) as { params: { data: number[] }[] };
    short.params[0].data.pop();
    expect(validateReport(short)).toMatchObject({ ok: false, errors: [expect.stringMatching(/^params\[0\]\.data: expected 12 values \(shape \[4, 3\]\), got 11$/)] });
  });

  it('the library exports validateReport and the schemas', () => {
    expect(library.validateReport).toBe(validateReport);
    expect(library.mlpRunReportSchema).toBe(mlpRunReportSchema);
    expect(typeof library.describeVerdicts).toBe('function');
  });
});

describe('report schemas: a wrongly typed or missing field is refused with its path', () => {
  const good = () => throughJson(buildRunReport(mlpConfig, adapter, mlpSteps(mlpConfig))) as MlpRunReportJson & Record<string, unknown>;

  it.each<[string, (r: Record<string, any>) => void, RegExp]>([
    ['a verdict number as a string', (r) => (r.verdict.growthPerLayer = '0.17'), /^verdict\.growthPerLayer: expected number, got string "0\.17"$/],
    ['a missing verdict field', (r) => delete r.verdict.predictionMethod, /^verdict\.predictionMethod: expected string, got nothing \(missing\)$/],
    ['a layer norm as a string', (r) => (r.steps[1].layers[2].deltaNorm = 'big'), /^steps\[1\]\.layers\[2\]\.deltaNorm: expected number, got string "big"$/],
    ['an unknown status', (r) => (r.verdict.status = 'meh'), /^verdict\.status: expected "stable" \| "exploding" \| "vanishing" \| "diverged", got string "meh"$/],
    ['a non-integer depth', (r) => (r.config.depth = 5.5), /^config\.depth: expected an integer, got number 5\.5$/],
    ['a training verdict with a string step', (r) => (r.verdict.training.divergedAtStep = '2'), /^verdict\.training\.divergedAtStep: expected number, got string "2"$/],
    ['the wrong number of layers', (r) => r.steps[0].layers.pop(), /^steps\[0\]\.layers: expected an array of 6 layers \(config\.depth\), or \[\] for a step without per-layer rows, got 5$/],
    ['layers out of order', (r) => (r.steps[0].layers[1].index = 9), /^steps\[0\]\.layers\[1\]\.index: expected 2/],
    ['gradNorm as a string (null is allowed: shared contract 2)', (r) => (r.steps[0].gradNorm = 'NaN'), /^steps\[0\]\.gradNorm: expected number, got string "NaN"$/],
  ])('%s', (_, spoil, message) => {
    const r = good();
    spoil(r);
    const result = validateReport(r);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors[0]).toMatch(message);
  });

  it('accepts fields it does not know (reports gain fields, never lose them) and gradNorm null', () => {
    const r = good() as Record<string, any>;
    r.futureField = { x: 1 };
    r.steps[0].layers[0].futureNorm = 3;
    r.steps[0].gradNorm = null;
    expect(validateReport(r).ok).toBe(true);
  });

  it('says which schema it expected for an unknown one, and what a non-object is', () => {
    expect(validateReport({ schema: 'gradstorm.nope/1' })).toEqual({ ok: false, errors: [expect.stringMatching(/^schema: expected one of gradstorm\.run\/1, gradstorm\.bench\/1, gradstorm\.dump\/1, gradstorm\.sweep\/1, gradstorm\.check\/1, gradstorm\.gpu-report\/1, got string "gradstorm\.nope\/1"$/)] });
    expect(validateReport([1])).toEqual({ ok: false, errors: ['(report): expected a JSON object, got an array'] });
    expect(validateReport({ schema: 'gradstorm.run/1', config: { model: 'cnn' } })).toEqual({ ok: false, errors: ['config.model: expected "mlp" | "rnn" | "lstm", got string "cnn"'] });
  });
});

describe('JSON Schema files (schemas/*.schema.json, generated by `npm run gen-schemas`)', () => {
  it('the committed files are what the script generates from the zod schemas (run `npm run gen-schemas`)', () => {
    const files = schemaFiles();
    expect(files.map((f) => f.file).sort()).toEqual(['gradstorm.bench.schema.json', 'gradstorm.check.schema.json', 'gradstorm.dump.schema.json', 'gradstorm.gpu-report.schema.json', 'gradstorm.run.schema.json', 'gradstorm.sweep.schema.json']);
    for (const { file, text } of files) expect(readFileSync(join(SCHEMAS_DIR, file), 'utf8'), `schemas/${file} is stale`).toBe(text);
  });

  it('the run schema requires what DESIGN.md names and types gradNorm as number | null', () => {
    const run = JSON.parse(readFileSync(join(SCHEMAS_DIR, 'gradstorm.run.schema.json'), 'utf8'));
    const mlp = run.anyOf[0];
    expect(mlp.required).toEqual(expect.arrayContaining(['schema', 'config', 'adapter', 'steps', 'verdict']));
    expect(mlp.properties.steps.items.properties.gradNorm.anyOf ?? mlp.properties.steps.items.properties.gradNorm.type).toEqual(['number', 'null']);
  });
});
