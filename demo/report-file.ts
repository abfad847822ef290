/**
 * Reads a run report the CLI wrote (`gradstorm stress --json FILE`, schema
 * gradstorm.run/1) for the charts: MLP reports with per-layer rows, RNN
 * reports (`--model rnn`) with per-timestep rows. A report file is checked
 * field by field; a malformed one yields a list of messages naming the field,
 * and nothing else on the page changes.
 */
import {
  RNN_VARIANTS,
  RUN_SCHEMA,
  validateBenchReport,
  type BenchReport,
  validateMlpConfig,
  validateRnnConfig,
  type MlpConfig,
  type RnnConfig,
  type RnnRunReport,
  type RnnStepStats,
  type RunReport,
  type StepStats,
} from './engine.ts';
import { predictionCurve, viewOfReport, type AnyRunReport, type RunView } from './run-view.ts';

export type ParsedReport = { ok: true; view: RunView; report: AnyRunReport } | { ok: false; errors: string[] };

const STATUSES = ['stable', 'exploding', 'vanishing', 'diverged'] as const;
const MAX_ERRORS = 8;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: Json | undefined): string {
  if (v === undefined) return 'nothing (missing)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  const text = JSON.stringify(v);
  return text.length > 40 ? `${text.slice(0, 37)}…` : text;
}

/**
 * Reads typed fields and collects what is wrong with them (at most
 * MAX_ERRORS messages). Non-finite numbers, which JSON cannot hold, arrive
 * as null (JSON.stringify writes NaN and ±Infinity as null) and become NaN
 * where a field may be non-finite.
 */
class FieldReader {
  readonly errors: string[] = [];

  fail(path: string, expected: string, got: Json | undefined): void {
    this.message(`${path}: expected ${expected}, got ${describe(got)}`);
  }

  message(text: string): void {
    if (this.errors.length < MAX_ERRORS) this.errors.push(text);
  }

  num(obj: JsonObject, key: string, path: string, nullable: boolean): number {
    const v = obj[key];
    if (typeof v === 'number') return v;
    if (v === null && nullable) return NaN;
    this.fail(`${path}.${key}`, nullable ? 'a number or null' : 'a number', v);
    return NaN;
  }

  int(obj: JsonObject, key: string, path: string): number {
    const v = obj[key];
    if (typeof v === 'number' && Number.isInteger(v)) return v;
    this.fail(`${path}.${key}`, 'an integer', v);
    return 0;
  }

  str(obj: JsonObject, key: string, path: string): string {
    const v = obj[key];
    if (typeof v === 'string') return v;
    this.fail(`${path}.${key}`, 'a string', v);
    return '';
  }

  clip(c: JsonObject): MlpConfig['clip'] {
    const v = c.clip;
    if (isObject(v) && v.kind === 'none') return { kind: 'none' };
    if (isObject(v) && (v.kind === 'norm' || v.kind === 'value') && typeof v.threshold === 'number') return { kind: v.kind, threshold: v.threshold };
    this.fail('config.clip', '{kind: "none"} or {kind: "norm"|"value", threshold}', v);
    return { kind: 'none' };
  }

  /** The fields every step record has, whatever the model. */
  step(s: JsonObject, path: string): Omit<StepStats, 'layers' | 'nonfiniteLayer'> {
    return {
      step: this.int(s, 'step', path),
      loss: this.num(s, 'loss', path, true),
      gradNorm: s.gradNorm === null ? null : this.num(s, 'gradNorm', path, true),
      // Reports before finiteGradNorm existed held the finite part's norm in gradNorm.
      finiteGradNorm: s.finiteGradNorm === undefined ? this.num(s, 'gradNorm', path, true) : this.num(s, 'finiteGradNorm', path, false),
      clipScale: this.num(s, 'clipScale', path, true),
      nonfinite: this.num(s, 'nonfinite', path, false),
    };
  }
}

export type ParsedBenchFile = { ok: true; report: BenchReport } | { ok: false; errors: string[] };

/**
 * A benchmark report (`gradstorm bench --json FILE`, schema
 * gradstorm.bench/1), checked by the engine's own validator, whose message
 * names the field. null when the text is not a gradstorm.bench file at all
 * (then it is read as a run report).
 */
export function parseBenchReportFile(text: string): ParsedBenchFile | null {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof root !== 'object' || root === null || Array.isArray(root)) return null;
  const schema = (root as { schema?: unknown }).schema;
  if (typeof schema !== 'string' || !schema.startsWith('gradstorm.bench/')) return null;
  const problem = validateBenchReport(root);
  return problem ? { ok: false, errors: [problem] } : { ok: true, report: root as BenchReport };
}

/** Reads a report file's text: an MLP or an RNN run report. */
export function parseRunReport(text: string, label: string): ParsedReport {
  let root: Json;
  try {
    root = JSON.parse(text) as Json;
  } catch (error) {
    return { ok: false, errors: [`not JSON: ${(error as Error).message}`] };
  }
  if (!isObject(root)) return { ok: false, errors: [`expected a JSON object (a run report), got ${describe(root)}`] };
  if (root.schema !== RUN_SCHEMA) {
    const hint = typeof root.schema === 'string' && root.schema.startsWith('gradstorm.')
      ? `this is a ${root.schema} file; the page reads run reports (${RUN_SCHEMA}), written by \`gradstorm stress --json FILE\``
      : `schema: expected "${RUN_SCHEMA}" (a run report written by \`gradstorm stress --json FILE\`), got ${describe(root.schema)}`;
    return { ok: false, errors: [hint] };
  }
  const c = root.config;
  if (!isObject(c)) return { ok: false, errors: [`config: expected an object, got ${describe(c)}`] };
  const stepsJson = root.steps;
  if (!Array.isArray(stepsJson) || stepsJson.length === 0) return { ok: false, errors: [`steps: expected a non-empty array, got ${describe(stepsJson)}`] };
  const v = root.verdict;
  if (!isObject(v)) return { ok: false, errors: [`verdict: expected an object, got ${describe(v)}`] };
  if (!(STATUSES as readonly Json[]).includes(v.status)) return { ok: false, errors: [`verdict.status: expected ${STATUSES.join(' | ')}, got ${describe(v.status)}`] };

  const reader = new FieldReader();
  let report: AnyRunReport | null;
  if (c.model === 'mlp') report = readMlpReport(reader, root, c, stepsJson);
  else if (c.model === 'rnn') report = readRnnReport(reader, root, c, stepsJson);
  else return { ok: false, errors: [`config.model: expected "mlp" or "rnn", got ${describe(c.model)}`] };
  if (!report || reader.errors.length > 0) return { ok: false, errors: reader.errors };
  return { ok: true, report, view: viewOfReport(report, label) };
}

function adapterOf(root: JsonObject): RunReport['adapter'] {
  const a = root.adapter;
  return isObject(a)
    ? { vendor: String(a.vendor ?? ''), architecture: String(a.architecture ?? ''), description: String(a.description ?? '') }
    : { vendor: 'unknown', architecture: '', description: '' };
}

function timingOf(root: JsonObject): { timing?: { stepMs: number[]; medianStepMs: number } } {
  const t = root.timing;
  return isObject(t) && typeof t.medianStepMs === 'number' ? { timing: { stepMs: [], medianStepMs: t.medianStepMs } } : {};
}

/** The config through the engine's own validation; its message names the field. */
function validated<C>(reader: FieldReader, config: C, validate: (c: C) => C): C | null {
  if (reader.errors.length > 0) return null;
  try {
    return validate(config);
  } catch (error) {
    reader.message(`config: ${(error as Error).message}`);
    return null;
  }
}

function readMlpReport(reader: FieldReader, root: JsonObject, c: JsonObject, stepsJson: Json[]): RunReport | null {
  const config = validated(
    reader,
    {
      model: 'mlp',
      depth: reader.int(c, 'depth', 'config'),
      width: reader.int(c, 'width', 'config'),
      input: reader.int(c, 'input', 'config'),
      output: reader.int(c, 'output', 'config'),
      batch: reader.int(c, 'batch', 'config'),
      activation: reader.str(c, 'activation', 'config'),
      init: reader.str(c, 'init', 'config'),
      gain: reader.num(c, 'gain', 'config', false),
      biasStd: reader.num(c, 'biasStd', 'config', false),
      loss: reader.str(c, 'loss', 'config'),
      steps: reader.int(c, 'steps', 'config'),
      lr: reader.num(c, 'lr', 'config', false),
      optimizer: reader.str(c, 'optimizer', 'config'),
      clip: reader.clip(c),
      seed: reader.int(c, 'seed', 'config'),
    } as MlpConfig,
    validateMlpConfig,
  );
  if (!config) return null;

  const steps: StepStats[] = [];
  stepsJson.forEach((s, i) => {
    const path = `steps[${i}]`;
    if (!isObject(s)) return reader.fail(path, 'an object', s);
    const layersJson = s.layers;
    const layers: StepStats['layers'] = [];
    // The CLI keeps per-layer rows for a bounded number of steps: the others have `layers: []`.
    if (!Array.isArray(layersJson) || (layersJson.length !== config.depth && layersJson.length !== 0)) {
      reader.fail(`${path}.layers`, `an array of ${config.depth} layers (config.depth), or [] for a step without per-layer rows`, Array.isArray(layersJson) ? `${layersJson.length} layers` : layersJson);
    } else {
      layersJson.forEach((l, j) => {
        const lp = `${path}.layers[${j}]`;
        if (!isObject(l)) return reader.fail(lp, 'an object', l);
        const index = reader.int(l, 'index', lp);
        if (index !== j + 1) reader.message(`${lp}.index: expected ${j + 1} (layers run 1..L from the input), got ${index}`);
        layers.push({
          index,
          weightGradNorm: reader.num(l, 'weightGradNorm', lp, true),
          biasGradNorm: reader.num(l, 'biasGradNorm', lp, true),
          deltaNorm: reader.num(l, 'deltaNorm', lp, true),
          activationNorm: reader.num(l, 'activationNorm', lp, true),
          weightNorm: reader.num(l, 'weightNorm', lp, true),
          maxAbsGrad: reader.num(l, 'maxAbsGrad', lp, true),
          nonfinite: typeof l.nonfinite === 'number' ? l.nonfinite : 0,
        });
      });
    }
    const nonfiniteLayer = s.nonfiniteLayer;
    steps.push({ ...reader.step(s, path), nonfiniteLayer: typeof nonfiniteLayer === 'number' ? nonfiniteLayer : null, layers });
  });
  if (reader.errors.length === 0 && steps.every((s) => s.layers.length === 0)) reader.message('steps: no step has per-layer statistics (layers), so there is nothing to chart');

  // The theory's curve: from the file, or computed from the config when absent.
  let prediction = predictionCurve(config);
  const p = root.prediction;
  if (Array.isArray(p)) {
    const parsed = p.map((x) => (isObject(x) && typeof x.layer === 'number' && typeof x.log10DeltaRelative === 'number' ? { layer: x.layer, log10DeltaRelative: x.log10DeltaRelative } : null));
    if (parsed.every((x) => x !== null)) prediction = parsed as RunReport['prediction'];
    else reader.fail('prediction', 'an array of {layer, log10DeltaRelative}', 'malformed entries');
  }
  if (reader.errors.length > 0) return null;
  return {
    schema: RUN_SCHEMA,
    config,
    adapter: adapterOf(root),
    steps: steps.map((s) => ({ ...s, timesteps: [] })),
    verdict: root.verdict as unknown as RunReport['verdict'],
    prediction,
    ...timingOf(root),
  };
}

function readRnnReport(reader: FieldReader, root: JsonObject, c: JsonObject, stepsJson: Json[]): RnnRunReport | null {
  const bpttJson = c.bptt;
  let bptt: RnnConfig['bptt'] = 'full';
  if (typeof bpttJson === 'number') bptt = bpttJson;
  else if (bpttJson !== 'full') reader.fail('config.bptt', 'a number of timesteps or "full"', bpttJson);
  const config = validated(
    reader,
    {
      model: 'rnn',
      seqLen: reader.int(c, 'seqLen', 'config'),
      width: reader.int(c, 'width', 'config'),
      input: reader.int(c, 'input', 'config'),
      output: reader.int(c, 'output', 'config'),
      batch: reader.int(c, 'batch', 'config'),
      activation: reader.str(c, 'activation', 'config'),
      init: reader.str(c, 'init', 'config'),
      gain: reader.num(c, 'gain', 'config', false),
      biasStd: reader.num(c, 'biasStd', 'config', false),
      task: reader.str(c, 'task', 'config'),
      loss: reader.str(c, 'loss', 'config'),
      lossAt: reader.str(c, 'lossAt', 'config'),
      bptt,
      steps: reader.int(c, 'steps', 'config'),
      lr: reader.num(c, 'lr', 'config', false),
      optimizer: reader.str(c, 'optimizer', 'config'),
      clip: reader.clip(c),
      seed: reader.int(c, 'seed', 'config'),
    } as RnnConfig,
    validateRnnConfig,
  );
  if (!config) return null;
  const T = config.seqLen;

  const steps: RnnStepStats[] = [];
  stepsJson.forEach((s, i) => {
    const path = `steps[${i}]`;
    if (!isObject(s)) return reader.fail(path, 'an object', s);
    const timestepsJson = s.timesteps;
    const timesteps: RnnStepStats['timesteps'] = [];
    if (!Array.isArray(timestepsJson) || (timestepsJson.length !== T && timestepsJson.length !== 0)) {
      reader.fail(`${path}.timesteps`, `an array of ${T} timesteps (config.seqLen), or [] for a step without per-timestep rows`, Array.isArray(timestepsJson) ? `${timestepsJson.length} timesteps` : timestepsJson);
    } else {
      timestepsJson.forEach((x, j) => {
        const tp = `${path}.timesteps[${j}]`;
        if (!isObject(x)) return reader.fail(tp, 'an object', x);
        const t = reader.int(x, 't', tp);
        if (t !== j + 1) reader.message(`${tp}.t: expected ${j + 1} (timesteps run 1..T), got ${t}`);
        const norm = reader.num(x, 'hiddenGradNorm', tp, true);
        // The log10 stays finite where the norm itself overflowed float64.
        const log10 = typeof x.log10HiddenGradNorm === 'number' ? x.log10HiddenGradNorm : Math.log10(norm);
        timesteps.push({ t, hiddenGradNorm: Number.isNaN(norm) && Number.isFinite(log10) ? 10 ** log10 : norm, log10HiddenGradNorm: log10, hiddenNorm: reader.num(x, 'hiddenNorm', tp, true) });
      });
    }
    const tensorsJson = s.tensors;
    const tensors: RnnStepStats['tensors'] = [];
    if (tensorsJson !== undefined && !Array.isArray(tensorsJson)) reader.fail(`${path}.tensors`, 'an array of per-tensor norms', tensorsJson);
    else {
      (tensorsJson ?? []).forEach((x, j) => {
        const tp = `${path}.tensors[${j}]`;
        if (!isObject(x) || !['Wxh', 'Whh', 'bh', 'Why', 'by'].includes(x.name as string)) return reader.fail(tp, 'a tensor record named Wxh, Whh, bh, Why or by', x);
        tensors.push({
          name: x.name as RnnStepStats['tensors'][number]['name'],
          gradNorm: reader.num(x, 'gradNorm', tp, true),
          norm: reader.num(x, 'norm', tp, true),
          maxAbsGrad: reader.num(x, 'maxAbsGrad', tp, true),
          nonfinite: reader.num(x, 'nonfinite', tp, false),
        });
      });
    }
    const nonfiniteTimestep = s.nonfiniteTimestep;
    steps.push({ ...reader.step(s, path), nonfiniteTimestep: typeof nonfiniteTimestep === 'number' ? nonfiniteTimestep : null, layers: [], tensors, timesteps });
  });
  if (reader.errors.length === 0 && steps.every((s) => s.timesteps.length === 0)) reader.message('steps: no step has per-timestep statistics (timesteps), so there is nothing to chart');
  const variant = root.variant;
  if (!(RNN_VARIANTS as readonly Json[]).includes(variant ?? null)) reader.fail('variant', RNN_VARIANTS.join(' | '), variant);
  if (reader.errors.length > 0) return null;
  return {
    schema: RUN_SCHEMA,
    config,
    adapter: adapterOf(root),
    variant: variant as RnnRunReport['variant'],
    steps,
    verdict: root.verdict as unknown as RnnRunReport['verdict'],
    ...timingOf(root),
  };
}
