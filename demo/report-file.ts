/**
 * What the charts show: a run, live from the engine or read from a JSON
 * report the CLI wrote (`gradstorm stress --json FILE`, schema gradstorm.run/1).
 * A report file is checked field by field; a malformed one yields a list of
 * messages naming the field, and nothing else on the page changes.
 */
import { RUN_SCHEMA, predictionFor, validateMlpConfig, type MlpConfig, type RunReport, type StepStats } from './engine.ts';

export interface RunView {
  /** Where it came from: 'this page', a file name, 'without clipping'… */
  label: string;
  config: MlpConfig;
  steps: StepStats[];
  /** Predicted log10 ‖δ_l‖ − log10 ‖δ_{L−1}‖, l = 1..L−1. */
  prediction: { layer: number; log10DeltaRelative: number }[];
  verdict: RunReport['verdict'] | null;
  adapter: string;
  medianStepMs: number | null;
}

export function predictionCurve(config: MlpConfig): RunView['prediction'] {
  return predictionFor(config).curve.map((c, i) => ({ layer: i + 1, log10DeltaRelative: c.log10Delta }));
}

export function viewOfReport(report: RunReport, label: string): RunView {
  return {
    label,
    config: report.config,
    steps: report.steps,
    prediction: report.prediction,
    verdict: report.verdict,
    adapter: [report.adapter.vendor, report.adapter.architecture, report.adapter.description].filter(Boolean).join(' '),
    medianStepMs: report.timing?.medianStepMs ?? null,
  };
}

export type ParsedReport = { ok: true; view: RunView; report: RunReport } | { ok: false; errors: string[] };

const STATUSES = ['stable', 'exploding', 'vanishing', 'diverged'] as const;
const MAX_ERRORS = 8;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(v: Json | undefined): v is { [key: string]: Json } {
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
 * Reads a report file's text. Non-finite numbers, which JSON cannot hold,
 * arrive as null (JSON.stringify writes NaN and ±Infinity as null) and become NaN.
 */
export function parseRunReport(text: string, label: string): ParsedReport {
  let root: Json;
  try {
    root = JSON.parse(text) as Json;
  } catch (error) {
    return { ok: false, errors: [`not JSON: ${(error as Error).message}`] };
  }
  const errors: string[] = [];
  const fail = (path: string, expected: string, got: Json | undefined) => {
    if (errors.length < MAX_ERRORS) errors.push(`${path}: expected ${expected}, got ${describe(got)}`);
  };
  if (!isObject(root)) return { ok: false, errors: [`expected a JSON object (a run report), got ${describe(root)}`] };
  if (root.schema !== RUN_SCHEMA) {
    const hint = typeof root.schema === 'string' && root.schema.startsWith('gradstorm.')
      ? `this is a ${root.schema} file; the page reads run reports (${RUN_SCHEMA}), written by \`gradstorm stress --json FILE\``
      : `schema: expected "${RUN_SCHEMA}" (a run report written by \`gradstorm stress --json FILE\`), got ${describe(root.schema)}`;
    return { ok: false, errors: [hint] };
  }

  const num = (obj: { [key: string]: Json }, key: string, path: string, nullable: boolean): number => {
    const v = obj[key];
    if (typeof v === 'number') return v;
    if (v === null && nullable) return NaN;
    fail(`${path}.${key}`, nullable ? 'a number or null' : 'a number', v);
    return NaN;
  };
  const int = (obj: { [key: string]: Json }, key: string, path: string): number => {
    const v = obj[key];
    if (typeof v === 'number' && Number.isInteger(v)) return v;
    fail(`${path}.${key}`, 'an integer', v);
    return 0;
  };
  const str = (obj: { [key: string]: Json }, key: string, path: string): string => {
    const v = obj[key];
    if (typeof v === 'string') return v;
    fail(`${path}.${key}`, 'a string', v);
    return '';
  };

  // config
  const c = root.config;
  if (!isObject(c)) return { ok: false, errors: [`config: expected an object, got ${describe(c)}`] };
  if (c.model === 'rnn') return { ok: false, errors: ['config.model is "rnn": RNN reports are shown by the RNN view, which comes with the RNN engine'] };
  if (c.model !== 'mlp') fail('config.model', '"mlp"', c.model);
  const clipJson = c.clip;
  let clip: MlpConfig['clip'] = { kind: 'none' };
  if (isObject(clipJson) && clipJson.kind === 'none') clip = { kind: 'none' };
  else if (isObject(clipJson) && (clipJson.kind === 'norm' || clipJson.kind === 'value') && typeof clipJson.threshold === 'number') clip = { kind: clipJson.kind, threshold: clipJson.threshold };
  else fail('config.clip', '{kind: "none"} or {kind: "norm"|"value", threshold}', clipJson);
  const config = {
    model: 'mlp',
    depth: int(c, 'depth', 'config'),
    width: int(c, 'width', 'config'),
    input: int(c, 'input', 'config'),
    output: int(c, 'output', 'config'),
    batch: int(c, 'batch', 'config'),
    activation: str(c, 'activation', 'config'),
    init: str(c, 'init', 'config'),
    gain: num(c, 'gain', 'config', false),
    biasStd: num(c, 'biasStd', 'config', false),
    loss: str(c, 'loss', 'config'),
    steps: int(c, 'steps', 'config'),
    lr: num(c, 'lr', 'config', false),
    optimizer: str(c, 'optimizer', 'config'),
    clip,
    seed: int(c, 'seed', 'config'),
  } as MlpConfig;
  if (errors.length > 0) return { ok: false, errors };
  try {
    validateMlpConfig(config);
  } catch (error) {
    return { ok: false, errors: [`config: ${(error as Error).message}`] };
  }

  // steps
  const stepsJson = root.steps;
  if (!Array.isArray(stepsJson) || stepsJson.length === 0) return { ok: false, errors: [`steps: expected a non-empty array, got ${describe(stepsJson)}`] };
  const steps: StepStats[] = [];
  stepsJson.forEach((s, i) => {
    const path = `steps[${i}]`;
    if (!isObject(s)) return fail(path, 'an object', s);
    const layersJson = s.layers;
    const layers: StepStats['layers'] = [];
    // The CLI keeps per-layer rows for a bounded number of steps: the others have `layers: []`.
    if (!Array.isArray(layersJson) || (layersJson.length !== config.depth && layersJson.length !== 0)) {
      fail(`${path}.layers`, `an array of ${config.depth} layers (config.depth), or [] for a step without per-layer rows`, Array.isArray(layersJson) ? `${layersJson.length} layers` : layersJson);
    } else {
      layersJson.forEach((l, j) => {
        const lp = `${path}.layers[${j}]`;
        if (!isObject(l)) return fail(lp, 'an object', l);
        const index = int(l, 'index', lp);
        if (index !== j + 1 && errors.length < MAX_ERRORS) errors.push(`${lp}.index: expected ${j + 1} (layers run 1..L from the input), got ${index}`);
        layers.push({
          index,
          weightGradNorm: num(l, 'weightGradNorm', lp, true),
          biasGradNorm: num(l, 'biasGradNorm', lp, true),
          deltaNorm: num(l, 'deltaNorm', lp, true),
          activationNorm: num(l, 'activationNorm', lp, true),
          weightNorm: num(l, 'weightNorm', lp, true),
          maxAbsGrad: num(l, 'maxAbsGrad', lp, true),
          nonfinite: typeof l.nonfinite === 'number' ? l.nonfinite : 0,
        });
      });
    }
    const nonfiniteLayer = s.nonfiniteLayer;
    steps.push({
      step: int(s, 'step', path),
      loss: num(s, 'loss', path, true),
      gradNorm: num(s, 'gradNorm', path, true),
      clipScale: num(s, 'clipScale', path, true),
      nonfinite: num(s, 'nonfinite', path, false),
      nonfiniteLayer: typeof nonfiniteLayer === 'number' ? nonfiniteLayer : null,
      layers,
    });
  });

  if (errors.length === 0 && steps.every((s) => s.layers.length === 0)) errors.push('steps: no step has per-layer statistics (layers), so there is nothing to chart');

  // verdict (required by the schema) and prediction (computed from the config when absent)
  const v = root.verdict;
  if (!isObject(v)) fail('verdict', 'an object', v);
  else if (!(STATUSES as readonly Json[]).includes(v.status)) fail('verdict.status', STATUSES.join(' | '), v.status);
  let prediction = predictionCurve(config);
  const p = root.prediction;
  if (Array.isArray(p)) {
    const parsed = p.map((x) => (isObject(x) && typeof x.layer === 'number' && typeof x.log10DeltaRelative === 'number' ? { layer: x.layer, log10DeltaRelative: x.log10DeltaRelative } : null));
    if (parsed.every((x) => x !== null)) prediction = parsed as RunView['prediction'];
    else fail('prediction', 'an array of {layer, log10DeltaRelative}', 'malformed entries');
  }
  if (errors.length > 0) return { ok: false, errors };

  const verdict = root.verdict as unknown as RunReport['verdict'];
  const adapterJson = root.adapter;
  const adapter = isObject(adapterJson)
    ? { vendor: String(adapterJson.vendor ?? ''), architecture: String(adapterJson.architecture ?? ''), description: String(adapterJson.description ?? '') }
    : { vendor: 'unknown', architecture: '', description: '' };
  const timing = root.timing;
  const medianStepMs = isObject(timing) && typeof timing.medianStepMs === 'number' ? timing.medianStepMs : undefined;
  const report: RunReport = {
    schema: RUN_SCHEMA,
    config,
    adapter,
    steps: steps.map((s) => ({ ...s, timesteps: [] })),
    verdict,
    prediction,
    ...(medianStepMs !== undefined ? { timing: { stepMs: [], medianStepMs } } : {}),
  };
  return { ok: true, report, view: viewOfReport(report, label) };
}
