/**
 * Reads a report file the CLI wrote (`gradstorm stress --json FILE`, schema
 * gradstorm.run/1; `gradstorm bench --json FILE`, gradstorm.bench/1) through
 * the engine's one schema (src/report/schema.ts, validateReport): a file is
 * shown only when every field has its type, else it yields the list of
 * problems, each starting with the field's path, and nothing on the page
 * changes.
 */
import {
  RUN_SCHEMA,
  validateBenchReport,
  validateLstmConfig,
  validateMlpConfig,
  validateReport,
  validateRnnConfig,
  type BenchReport,
  type LstmRunReport,
  type LstmRunReportJson,
  type MlpRunReportJson,
  type RnnRunReportJson,
  type RnnRunReport,
  type RunReport,
} from './engine.ts';
import { predictionCurve, viewOfReport, type AnyRunReport, type RunView } from './run-view.ts';

export type ParsedReport = { ok: true; view: RunView; report: AnyRunReport } | { ok: false; errors: string[] };

function describe(v: unknown): string {
  if (v === undefined) return 'nothing (missing)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  const text = JSON.stringify(v);
  return text.length > 40 ? `${text.slice(0, 37)}…` : text;
}

/** JSON carries NaN and ±Infinity as null: the charts read them back as NaN (no point drawn). */
const n = (x: number | null | undefined): number => (typeof x === 'number' ? x : NaN);

export type ParsedBenchFile = { ok: true; report: BenchReport } | { ok: false; errors: string[] };

/**
 * A benchmark report (`gradstorm bench --json FILE`, schema
 * gradstorm.bench/1), checked by the engine's schema, whose message names
 * the field. null when the text is not a gradstorm.bench file at all (then
 * it is read as a run report).
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

/** Reads a report file's text: an MLP, RNN or LSTM run report. */
export function parseRunReport(text: string, label: string): ParsedReport {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (error) {
    return { ok: false, errors: [`not JSON: ${(error as Error).message}`] };
  }
  if (typeof root !== 'object' || root === null || Array.isArray(root)) return { ok: false, errors: [`expected a JSON object (a run report), got ${describe(root)}`] };
  const schema = (root as { schema?: unknown }).schema;
  if (schema !== RUN_SCHEMA) {
    const hint = typeof schema === 'string' && schema.startsWith('gradstorm.')
      ? `this is a ${schema} file; the page reads run reports (${RUN_SCHEMA}), written by \`gradstorm stress --json FILE\``
      : `schema: expected "${RUN_SCHEMA}" (a run report written by \`gradstorm stress --json FILE\`), got ${describe(schema)}`;
    return { ok: false, errors: [hint] };
  }
  const checked = validateReport(root);
  if (!checked.ok) return { ok: false, errors: checked.errors };
  let report: AnyRunReport;
  try {
    // Ranges the engine itself enforces (its messages name the flag).
    if (checked.kind === 'run-mlp') report = mlpReport({ ...checked.report, config: validateMlpConfig(checked.report.config) });
    else if (checked.kind === 'run-rnn') report = rnnReport({ ...checked.report, config: validateRnnConfig(checked.report.config) });
    else if (checked.kind === 'run-lstm') report = lstmReport({ ...checked.report, config: validateLstmConfig(checked.report.config) });
    else return { ok: false, errors: ['schema: not a run report'] };
  } catch (error) {
    return { ok: false, errors: [`config: ${(error as Error).message}`] };
  }
  if (report.steps.length === 0) return { ok: false, errors: ['steps: the report has no step, so there is nothing to chart'] };
  const rows = report.config.model === 'mlp' ? (report as RunReport).steps.some((s) => s.layers.length > 0) : (report as RnnRunReport | LstmRunReport).steps.some((s) => s.timesteps.length > 0);
  if (!rows) return { ok: false, errors: [`steps: no step has per-${report.config.model === 'mlp' ? 'layer statistics (layers)' : 'timestep statistics (timesteps)'}, so there is nothing to chart`] };
  return { ok: true, report, view: viewOfReport(report, label) };
}

function timingOf(timing: { stepMs: number[]; medianStepMs: number } | undefined): { timing?: { stepMs: number[]; medianStepMs: number } } {
  return timing ? { timing: { stepMs: [], medianStepMs: timing.medianStepMs } } : {};
}

/** The numbers every step record has, MLP or RNN, as the engine holds them in memory. */
function stepNumbers(s: { loss: number | null; gradNorm: number | null; finiteGradNorm?: number | null; clipScale: number | null }) {
  return {
    loss: n(s.loss),
    // null: the step's gradient had non-finite entries (shared contract 2); reports before finiteGradNorm existed held the finite part's norm in gradNorm.
    gradNorm: s.gradNorm ?? null,
    finiteGradNorm: n(s.finiteGradNorm === undefined ? s.gradNorm : s.finiteGradNorm),
    clipScale: n(s.clipScale),
  };
}

/**
 * A per-timestep norm and its log10 from a report file: the log10 stays finite
 * where the norm itself overflowed float64 (the file then holds null for the
 * norm), and older RNN reports have no log10 (derived from the norm).
 */
function normWithLog10(norm: number | null | undefined, log10: number | null | undefined): { norm: number; log10: number } {
  const value = n(norm);
  const log = typeof log10 === 'number' ? log10 : Math.log10(value);
  return { norm: Number.isNaN(value) && Number.isFinite(log) ? 10 ** log : value, log10: log };
}

/** A recurrent model's parameter-tensor row (null → NaN). */
function tensorNumbers<Name extends string>(x: { name: Name; gradNorm: number | null; norm: number | null; maxAbsGrad: number | null; nonfinite: number }) {
  return { name: x.name, gradNorm: n(x.gradNorm), norm: n(x.norm), maxAbsGrad: n(x.maxAbsGrad), nonfinite: x.nonfinite };
}

/** The adapter fields the engine's report keeps. */
function adapterOf(r: { adapter: { vendor: string; architecture: string; description: string } }) {
  return { vendor: r.adapter.vendor, architecture: r.adapter.architecture, description: r.adapter.description };
}

/** The validated JSON as the engine's in-memory report (null → NaN where a number may be non-finite). */
function mlpReport(r: MlpRunReportJson): RunReport {
  return {
    ...r,
    schema: RUN_SCHEMA,
    adapter: adapterOf(r),
    steps: r.steps.map((s) => ({
      ...s,
      ...stepNumbers(s),
      nonfiniteLayer: s.nonfiniteLayer ?? null,
      timesteps: [],
      layers: s.layers.map((l) => ({
        index: l.index,
        weightGradNorm: n(l.weightGradNorm),
        biasGradNorm: n(l.biasGradNorm),
        deltaNorm: n(l.deltaNorm),
        activationNorm: n(l.activationNorm),
        weightNorm: n(l.weightNorm),
        maxAbsGrad: n(l.maxAbsGrad),
        nonfinite: l.nonfinite ?? 0,
      })),
    })),
    verdict: r.verdict as RunReport['verdict'],
    // The theory's curve: from the file, or computed from the config when absent (older reports).
    prediction: r.prediction === undefined ? predictionCurve(r.config) : r.prediction.map((p) => ({ layer: p.layer, log10DeltaRelative: n(p.log10DeltaRelative), log10DeltaMeanField: n(p.log10DeltaMeanField ?? p.log10DeltaRelative) })),
    ...timingOf(r.timing),
  };
}

function rnnReport(r: RnnRunReportJson): RnnRunReport {
  return {
    ...r,
    schema: RUN_SCHEMA,
    adapter: adapterOf(r),
    steps: r.steps.map((s) => ({
      ...s,
      ...stepNumbers(s),
      nonfiniteTimestep: s.nonfiniteTimestep ?? null,
      layers: [],
      tensors: (s.tensors ?? []).map(tensorNumbers),
      timesteps: s.timesteps.map((x) => {
        const hidden = normWithLog10(x.hiddenGradNorm, x.log10HiddenGradNorm);
        return { t: x.t, hiddenGradNorm: hidden.norm, log10HiddenGradNorm: hidden.log10, hiddenNorm: n(x.hiddenNorm) };
      }),
    })),
    verdict: r.verdict as RnnRunReport['verdict'],
    ...timingOf(r.timing),
  };
}

function lstmReport(r: LstmRunReportJson): LstmRunReport {
  return {
    ...r,
    schema: RUN_SCHEMA,
    adapter: adapterOf(r),
    steps: r.steps.map((s) => ({
      ...s,
      ...stepNumbers(s),
      nonfiniteTimestep: s.nonfiniteTimestep ?? null,
      layers: [],
      tensors: s.tensors.map(tensorNumbers),
      timesteps: s.timesteps.map((x) => {
        const hidden = normWithLog10(x.hiddenGradNorm, x.log10HiddenGradNorm);
        const cell = normWithLog10(x.cellGradNorm, x.log10CellGradNorm);
        const cellPath = normWithLog10(x.cellPathGradNorm, x.log10CellPathGradNorm);
        return {
          t: x.t,
          hiddenGradNorm: hidden.norm,
          log10HiddenGradNorm: hidden.log10,
          hiddenNorm: n(x.hiddenNorm),
          cellGradNorm: cell.norm,
          log10CellGradNorm: cell.log10,
          cellPathGradNorm: cellPath.norm,
          log10CellPathGradNorm: cellPath.log10,
          forgetRms: n(x.forgetRms),
          forgetMax: n(x.forgetMax),
        };
      }),
    })),
    verdict: r.verdict as LstmRunReport['verdict'],
    ...timingOf(r.timing),
  };
}
