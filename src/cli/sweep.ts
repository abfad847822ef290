/**
 * `gradstorm sweep`: measured against predicted gradient growth over a grid
 * of depths × gains × activations (one probe step each by default): the data
 * of a phase diagram. `--shard i/n` runs every n-th point starting at i, so a
 * grid can be split across machines; each shard writes its own JSON and CSV
 * (with a header row: join them with `tail -n +2` on all but the first).
 *
 * Each finished point is written at once (JSON and CSV, atomically), so a
 * sweep stopped by Ctrl-C, a lost device or a crash keeps what it finished;
 * `--resume` reads the --json file back, checks it is the same sweep (grid,
 * base config, shard) and runs only the points it lacks.
 *
 * `--model lstm` sweeps an LSTM instead (src/cli/lstm-sweep.ts: seq-lens ×
 * forget-biases × gains); the functions here that take an `AnySweep…` serve both.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { GpuContext } from '../gpu/context.ts';
import { ACTIVATIONS, type Activation } from '../kernels/elementwise.ts';
import { ConfigError, parseResidual, residualPerSqrtDepth, validateMlpConfig, type MlpConfig } from '../models/config.ts';
import type { RunReport } from '../report/run-report.ts';
import type { LstmConfig } from '../models/lstm.ts';
import { runLstmStress, type LstmRunReport } from '../scheduler/lstm-run.ts';
import { isLstmStress } from './lstm-flags.ts';
import {
  LSTM_CSV_COLUMNS, LSTM_SWEEP_OPTIONS, describeLstmPoint, lstmErrorPoint, lstmPointConfig, lstmPointKey, lstmSweepFromFlags, lstmSweepGrid, lstmSweepPoint, lstmSweepTable,
  type LstmGridPoint, type LstmSweepPoint,
} from './lstm-sweep.ts';
import { STRESS_OPTIONS, mlpConfigFromFlags, retuneFlag, runStress } from './stress.ts';
import { refuseLstmFlagsElsewhere } from './lstm-flags.ts';
import { matmulVariantNames, type MatmulVariant } from '../kernels/matmul.ts';
import { formatTable } from './io.ts';
import { UsageError, intListFlag, listFlag, numberListFlag, oneOf, parse } from './flags.ts';
import { RunInterruptedError, abortReason, interruptionFields, type Interruption, type InterruptionFields } from '../scheduler/interruption.ts';

export const SWEEP_OPTIONS = {
  ...STRESS_OPTIONS,
  depths: { type: 'string' },
  gains: { type: 'string' },
  activations: { type: 'string' },
  csv: { type: 'string' },
  shard: { type: 'string' },
  resume: { type: 'boolean' },
} as const;

/** Every flag either sweep parses (the MLP's and `--model lstm`'s): what Slurm's flag handling reads. */
export const ANY_SWEEP_OPTIONS = { ...SWEEP_OPTIONS, ...LSTM_SWEEP_OPTIONS } as const;

export interface SweepPoint {
  /** Absent: MLP points never said (see {@link LstmSweepPoint} for `--model lstm`). */
  model?: 'mlp';
  index: number;
  depth: number;
  gain: number;
  activation: Activation;
  status: string;
  measuredGrowthPerLayer: number | null;
  predictedGrowthPerLayer: number | null;
  totalChangeDecades: number | null;
  /** log10 ‖δ_1‖/‖δ_{L−1}‖ measured at step 1. */
  measuredLog10Ratio: number | null;
  predictionMethod: string;
  finalLoss: number;
  ms: number;
  /** Why this point has no measurement (e.g. it does not fit the adapter); absent when it ran. */
  error?: string;
}

export interface SweepCommand {
  /** Absent: an MLP sweep. */
  model?: 'mlp';
  base: MlpConfig;
  depths: number[];
  /**
   * `--residual C/sqrt(L)`: C, resolved against each point's depth (A = C/√depth);
   * the base config then has no `residual`. Absent for a numeric `--residual` (in the base) or none.
   */
  residualPerSqrtDepth?: number;
  gains: number[];
  activations: Activation[];
  shard: { index: number; count: number };
  json?: string;
  csv?: string;
  adapter?: string;
  /** --variant: one matmul variant for every point, no autotuning. */
  matmulVariant?: MatmulVariant;
  retune: boolean;
  quiet: boolean;
  /** --resume: skip the points the --json file already holds. */
  resume: boolean;
  help: boolean;
}

/** `gradstorm sweep --model lstm`: the LSTM's base config and its grid, seq-lens × forget-biases × gains. */
export interface LstmSweepCommand extends Omit<SweepCommand, 'model' | 'base' | 'depths' | 'residualPerSqrtDepth' | 'gains' | 'activations'> {
  model: 'lstm';
  base: LstmConfig;
  seqLens: number[];
  forgetBiases: number[];
  gains: number[];
}

/** Any sweep command: the MLP's (no `model`) or the LSTM's. */
export type AnySweepCommand = SweepCommand | LstmSweepCommand;
/** A finished point of any sweep. */
export type AnySweepPoint = SweepPoint | LstmSweepPoint;
export type { LstmSweepPoint } from './lstm-sweep.ts';

export function parseShard(text: string | undefined): { index: number; count: number } {
  if (text === undefined) return { index: 0, count: 1 };
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || !(count >= 1) || !(index >= 0 && index < count)) {
    throw new UsageError(`--shard ${text}: use i/n with 0 ≤ i < n, e.g. --shard 0/4 … --shard 3/4`);
  }
  return { index, count };
}

/** The flags every sweep takes whatever its model: shard, output files, adapter, tiling, resume (each parser checks --resume's --json first, before its grid). */
function sweepRunFlags(values: { shard?: string; json?: string; csv?: string; adapter?: string; variant?: string; retune?: boolean; quiet?: boolean; resume?: boolean; help?: boolean }) {
  return {
    shard: parseShard(values.shard),
    json: values.json,
    csv: values.csv ?? (values.json ? values.json.replace(/\.json$/i, '') + '.csv' : undefined),
    adapter: values.adapter,
    matmulVariant: values.variant === undefined ? undefined : oneOf('variant', values.variant, matmulVariantNames(), 'register'),
    retune: retuneFlag(values),
    quiet: values.quiet ?? false,
    resume: values.resume ?? false,
    help: values.help ?? false,
  };
}

export function parseSweep(args: string[]): SweepCommand {
  refuseLstmFlagsElsewhere(args);
  const { values } = parse(args, SWEEP_OPTIONS);
  if (values.depth !== undefined || values.gain !== undefined || values.activation !== undefined) {
    throw new UsageError('sweep takes --depths, --gains and --activations (lists) instead of --depth, --gain and --activation');
  }
  // --residual C/sqrt(L) follows each point's depth: kept as C here, resolved in pointConfig.
  const perSqrtDepth = values.residual === undefined ? null : residualPerSqrtDepth(values.residual);
  // The base is validated with A resolved at its own depth (so --norm layer sees its residual blocks), then keeps C only.
  const base = mlpConfigFromFlags({ ...values, loss: values.loss ?? 'probe' });
  if (perSqrtDepth !== null) delete base.residual;
  if (base.init === 'he' && values.gains !== undefined) {
    throw new UsageError('--init he fixes the gain at √2, so --gains would sweep nothing; use --init gaussian (std gain/√fan_in) or orthogonal');
  }
  if (values.dump !== undefined) throw new UsageError('--dump applies to stress, not sweep');
  if (values.resume && values.json === undefined) throw new UsageError('--resume reads the finished points from the --json file: give the sweep\'s --json FILE');
  const depths = intListFlag('depths', values.depths, [10, 50, 100], 1, 100_000);
  // Every depth of the grid must give a valid config: A = C/√depth in range, and --norm layer needs
  // residual blocks (depth ≥ 3) — refused here, before any point runs, rather than a point run without them.
  for (const depth of depths) {
    try {
      if (perSqrtDepth !== null) parseResidual(values.residual!, depth);
      validateMlpConfig(pointConfig({ base, residualPerSqrtDepth: perSqrtDepth ?? undefined }, { depth, gain: base.gain, activation: base.activation }));
    } catch (error) {
      if (error instanceof ConfigError) throw new UsageError(`${error.message} (at depth ${depth})`);
      throw error;
    }
  }
  return {
    base,
    depths,
    ...(perSqrtDepth === null ? {} : { residualPerSqrtDepth: perSqrtDepth }),
    gains: values.gains === undefined ? [1, Math.SQRT2, 1.8] : numberListFlag('gains', values.gains, 1e-6, 1e6),
    activations: listFlag('activations', values.activations, ACTIVATIONS, [base.activation]),
    ...sweepRunFlags(values),
  };
}

/** The whole `gradstorm sweep …` command line: an LSTM sweep with --model lstm, an MLP sweep otherwise (--model rnn is refused by parseSweep). */
export function parseSweepCommand(args: string[]): AnySweepCommand {
  if (!isLstmStress(args)) return parseSweep(args);
  const { values } = parse(args, ANY_SWEEP_OPTIONS);
  if (values.resume && values.json === undefined) throw new UsageError('--resume reads the finished points from the --json file: give the sweep\'s --json FILE');
  const { base, seqLens, forgetBiases, gains } = lstmSweepFromFlags(values);
  return {
    model: 'lstm',
    base,
    seqLens,
    forgetBiases,
    gains,
    ...sweepRunFlags(values),
  };
}

export function sweepGrid(c: Pick<SweepCommand, 'depths' | 'gains' | 'activations' | 'shard'>): { model?: 'mlp'; index: number; depth: number; gain: number; activation: Activation }[] {
  const all = c.activations.flatMap((activation) => c.gains.flatMap((gain) => c.depths.map((depth) => ({ depth, gain, activation }))));
  return all.map((p, index) => ({ ...p, index })).filter((p) => p.index % c.shard.count === c.shard.index);
}

type GridPoint = ReturnType<typeof sweepGrid>[number];
/** A grid point of either model. */
export type AnyGridPoint = GridPoint | LstmGridPoint;

/** The grid of any sweep (its command, or the grid its report holds, with a shard). */
export function anySweepGrid(c: (Pick<SweepCommand, 'model' | 'depths' | 'gains' | 'activations'> | Pick<LstmSweepCommand, 'model' | 'seqLens' | 'forgetBiases' | 'gains'>) & { shard: SweepCommand['shard'] }): AnyGridPoint[] {
  return c.model === 'lstm' ? lstmSweepGrid(c) : sweepGrid(c);
}

/** The key of a point of either model (see pointKey). */
export function anyPointKey(p: AnyGridPoint | AnySweepPoint): string {
  return p.model === 'lstm' ? lstmPointKey(p) : pointKey(p);
}

/** The stress config of one grid point: the base with its depth, gain and activation (and A = C/√depth for --residual C/sqrt(L)). */
export function pointConfig(command: Pick<SweepCommand, 'base' | 'residualPerSqrtDepth'>, p: Pick<GridPoint, 'depth' | 'gain' | 'activation'>): MlpConfig {
  const config: MlpConfig = { ...command.base, depth: p.depth, gain: p.gain, activation: p.activation };
  if (command.residualPerSqrtDepth !== undefined) config.residual = command.residualPerSqrtDepth / Math.sqrt(p.depth);
  return config;
}

/** A point's grid coordinates as one key: what --resume (and a merge) matches on. */
export function pointKey(p: Pick<SweepPoint, 'index' | 'depth' | 'gain' | 'activation'>): string {
  return `${p.index}|${p.activation}|${p.depth}|${p.gain}`;
}

export interface SweepOutcome<P = SweepPoint> {
  /** Every finished point, in grid order (the resumed ones in their places). */
  points: P[];
  /** Why the sweep stopped early (stepReached counts finished points); null when every point ran. */
  interruption: Interruption | null;
}

/**
 * Runs the grid's points in order, skipping those in `resumed`: on `ctx` in
 * Node, or through `runPoint` (the Chrome runtime passes the page's stress
 * run, and a crash it throws ends the sweep). The signal
 * stops the sweep after the step in flight; a point it cut short is dropped
 * (--resume runs it again). A lost device ends the sweep the same way; a
 * point that cannot run (too big for the adapter, a kernel error) is recorded
 * as an error and the sweep goes on.
 */
export async function runSweep(
  ctx: GpuContext | null,
  command: AnySweepCommand,
  /** After each point run: the point, its position in the grid, the grid's size, and every finished point so far (what to save). */
  onPoint?: (p: AnySweepPoint, done: number, total: number, finished: readonly AnySweepPoint[]) => void,
  options: {
    signal?: AbortSignal;
    resumed?: readonly AnySweepPoint[];
    runPoint?: (config: MlpConfig, signal?: AbortSignal) => Promise<RunReport>;
    /** The LSTM's point runner (default: runLstmStress on ctx). */
    runLstmPoint?: (config: LstmConfig, signal?: AbortSignal) => Promise<LstmRunReport>;
  } = {},
): Promise<SweepOutcome<AnySweepPoint>> {
  const needCtx = (): GpuContext => {
    if (!ctx) throw new Error('runSweep needs a GPU context or a runPoint (a bug)');
    return ctx;
  };
  const runPoint = options.runPoint ?? (async (config: MlpConfig, signal?: AbortSignal) => (await runStress(needCtx(), config, { matmulVariant: command.matmulVariant, signal })).report);
  const runLstmPoint =
    options.runLstmPoint ?? (async (config: LstmConfig, signal?: AbortSignal) => (await runLstmStress(needCtx(), config, { matmulVariant: command.matmulVariant, signal })).report);
  // One point: its run's interruption (if any) and the point it gives.
  const measure = async (p: AnyGridPoint, start: number): Promise<{ cut?: Interruption; point: () => AnySweepPoint }> => {
    if (p.model === 'lstm') {
      if (command.model !== 'lstm') throw new Error('an LSTM point in an MLP sweep (a bug)');
      const report = await runLstmPoint(lstmPointConfig(command.base, p), options.signal);
      return { cut: report.interruption, point: () => lstmSweepPoint(p, report, performance.now() - start) };
    }
    if (command.model === 'lstm') throw new Error('an MLP point in an LSTM sweep (a bug)');
    const report = await runPoint(pointConfig(command, p), options.signal);
    return { cut: report.interruption, point: () => mlpSweepPoint(p, report, performance.now() - start) };
  };
  const grid = anySweepGrid(command);
  const resumed = new Map((options.resumed ?? []).map((p) => [anyPointKey(p), p]));
  const points: AnySweepPoint[] = [];
  // Every finished point: those run or resumed so far, and the resumed ones further on in the grid.
  const finished = () => points.concat(grid.slice(points.length).flatMap((g) => resumed.get(anyPointKey(g)) ?? []));
  const stopped = (reason: Interruption['reason'], why: string): SweepOutcome<AnySweepPoint> => {
    const kept = finished();
    return { points: kept, interruption: { reason, stepReached: kept.length, message: `${why}: ${kept.length} of ${grid.length} point(s) finished` } };
  };
  for (const p of grid) {
    const previous = resumed.get(anyPointKey(p));
    if (previous) {
      points.push(previous);
      continue;
    }
    if (options.signal?.aborted) return stopped(abortReason(options.signal), `sweep interrupted (${abortReason(options.signal)})`);
    const start = performance.now();
    let point: AnySweepPoint;
    try {
      const { cut, point: made } = await measure(p, start);
      if (cut && cut.reason !== 'kernel-error') {
        return stopped(cut.reason, `sweep stopped at ${describeAnyPoint(p)} (${cut.message})`);
      }
      if (cut) throw new Error(cut.message);
      point = made();
    } catch (error) {
      if (error instanceof RunInterruptedError) return stopped(error.reason, `sweep interrupted (${error.reason}) at ${describeAnyPoint(p)}`);
      // A lost device ends the sweep (its finished points are kept); a point that cannot run (too big for the adapter) is recorded and skipped.
      if (ctx?.lostError) return stopped('device-lost', `sweep stopped at ${describeAnyPoint(p)}: ${ctx.lostError.message}`);
      // The Chrome runtime: a crashed browser or page, or a lost device there, ends the sweep the same way.
      const name = (error as Error).name;
      if (name === 'RuntimeCrashError') {
        const reason = (error as { reason?: unknown }).reason === 'page-crash' ? 'page-crash' : 'browser-crash';
        return stopped(reason, `sweep stopped at ${describeAnyPoint(p)}: ${(error as Error).message}`);
      }
      if (name === 'DeviceLostError') return stopped('device-lost', `sweep stopped at ${describeAnyPoint(p)}: ${(error as Error).message}`);
      const ms = performance.now() - start;
      const message = (error as Error).message;
      point =
        p.model === 'lstm'
          ? lstmErrorPoint(p, message, ms)
          : {
              ...p, status: 'error', measuredGrowthPerLayer: null, predictedGrowthPerLayer: null, totalChangeDecades: null,
              measuredLog10Ratio: null, predictionMethod: '', finalLoss: NaN, ms, error: message,
            };
    }
    points.push(point);
    onPoint?.(point, points.length, grid.length, finished());
  }
  return { points, interruption: null };
}

/** The point an MLP run gives (its first step's per-layer profile and verdict). */
function mlpSweepPoint(p: GridPoint, report: RunReport, ms: number): SweepPoint {
  const layers = report.steps[0].layers;
  const L = layers.length;
  const ratio = L >= 3 ? Math.log10(layers[0].deltaNorm / layers[L - 2].deltaNorm) : null;
  return {
    ...p,
    status: report.verdict.status,
    measuredGrowthPerLayer: report.verdict.growthPerLayer ?? null,
    predictedGrowthPerLayer: report.verdict.predictedGrowthPerLayer ?? null,
    totalChangeDecades: report.verdict.totalChangeDecades ?? null,
    measuredLog10Ratio: ratio !== null && Number.isFinite(ratio) ? ratio : null,
    predictionMethod: report.verdict.predictionMethod,
    finalLoss: report.steps[report.steps.length - 1].loss,
    ms,
  };
}

function describePoint(p: GridPoint): string {
  return `${p.activation} depth ${p.depth} gain ${p.gain}`;
}

/** A grid point in words (`relu depth 4 gain 1.5`, `lstm T 8 forget bias 1 gain 0.5`). */
export function describeAnyPoint(p: AnyGridPoint): string {
  return p.model === 'lstm' ? describeLstmPoint(p) : describePoint(p);
}

/** A sweep's grid, as its report holds it. */
export interface SweepGridSpec {
  /** Absent: an MLP grid. */
  model?: 'mlp';
  depths: number[];
  gains: number[];
  activations: Activation[];
  /** `--residual C/sqrt(L)`: C (each point's A is C/√depth); absent otherwise. */
  residualPerSqrtDepth?: number;
}

/** An LSTM sweep's grid, as its report holds it. */
export interface LstmSweepGridSpec {
  model: 'lstm';
  seqLens: number[];
  forgetBiases: number[];
  gains: number[];
}

/** The grid of either model. */
export type AnySweepGridSpec = SweepGridSpec | LstmSweepGridSpec;

/**
 * The fingerprint of a sweep: `sha256:` of the canonical JSON of its grid and
 * base config, i.e. of every flag that decides a point's numbers (the shard,
 * the adapter, the runtime and the matmul variant do not enter: they change
 * which points run where, or the last float32 bits, not what a point is).
 * Each shard's report stores it, so a merge can tell shards of one sweep
 * from a stray file of another. The model enters twice (the LSTM grid's
 * `model` and the base config's); an MLP grid has no `model` key, so the
 * fingerprints of older MLP sweeps stay the same.
 */
export function sweepFingerprint(grid: AnySweepGridSpec, base: MlpConfig | LstmConfig): string {
  let gridText: Record<string, unknown>;
  if (grid.model === 'lstm') {
    const { model, seqLens, forgetBiases, gains } = grid;
    gridText = { model, seqLens, forgetBiases, gains };
  } else {
    const { depths, gains, activations, residualPerSqrtDepth } = grid;
    // residualPerSqrtDepth is left out when absent (canonical JSON drops undefined), so older fingerprints stay the same.
    gridText = { depths, gains, activations, residualPerSqrtDepth };
  }
  const text = canonical({ schema: 'gradstorm.sweep/1', grid: gridText, base });
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

/** The grid a sweep command runs, as its report holds it. */
export function sweepGridSpec(command: AnySweepCommand): AnySweepGridSpec {
  if (command.model === 'lstm') {
    const { seqLens, forgetBiases, gains } = command;
    return { model: 'lstm', seqLens, forgetBiases, gains };
  }
  const { depths, gains, activations, residualPerSqrtDepth } = command;
  return { depths, gains, activations, ...(residualPerSqrtDepth === undefined ? {} : { residualPerSqrtDepth }) };
}

/** The sweep report (schema gradstorm.sweep/1); `interrupted`/`interruption` only on one cut short. */
export function sweepDocument(
  command: SweepCommand,
  version: string,
  adapter: unknown,
  points: readonly SweepPoint[],
  interruption: Interruption | null,
): { schema: 'gradstorm.sweep/1'; version: string; adapter: unknown; base: MlpConfig; grid: SweepGridSpec; shard: SweepCommand['shard']; points: SweepPoint[]; fingerprint: string } & InterruptionFields;
export function sweepDocument(
  command: AnySweepCommand,
  version: string,
  adapter: unknown,
  points: readonly AnySweepPoint[],
  interruption: Interruption | null,
): { schema: 'gradstorm.sweep/1'; version: string; adapter: unknown; base: MlpConfig | LstmConfig; grid: AnySweepGridSpec; shard: SweepCommand['shard']; points: AnySweepPoint[]; fingerprint: string } & InterruptionFields;
export function sweepDocument(command: AnySweepCommand, version: string, adapter: unknown, points: readonly AnySweepPoint[], interruption: Interruption | null) {
  const { shard, base } = command;
  const grid = sweepGridSpec(command);
  return { schema: 'gradstorm.sweep/1' as const, version, adapter, base, grid, shard, points: [...points], fingerprint: sweepFingerprint(grid, base), ...interruptionFields(interruption) };
}

/** JSON text with object keys sorted: two configs compare equal whatever order their keys came in. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/**
 * --resume: the finished points of the sweep report at `path`, after checking
 * it is the same sweep as `command` (grid, base config and shard; refused
 * with the differences otherwise). A file that does not exist yet holds none.
 * Points recorded as errors are not kept: a resume runs them again (an error
 * may have been transient — a busy GPU, a crashed browser — and one that is
 * not is refused again at once).
 */
export function readResumedPoints(path: string, command: SweepCommand): SweepPoint[];
export function readResumedPoints(path: string, command: AnySweepCommand): AnySweepPoint[];
export function readResumedPoints(path: string, command: AnySweepCommand): AnySweepPoint[] {
  if (!existsSync(path)) return [];
  let file: Record<string, unknown>;
  try {
    file = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new UsageError(`--resume: ${path} is not a sweep report (${(error as Error).message}); drop --resume to start the sweep over (it overwrites ${path})`);
  }
  if (file === null || typeof file !== 'object' || file.schema !== 'gradstorm.sweep/1' || !Array.isArray(file.points)) {
    throw new UsageError(`--resume: ${path} is not a gradstorm.sweep/1 report; drop --resume to start the sweep over (it overwrites ${path}), or choose another --json`);
  }
  const ours = sweepDocument(command, '', null, [], null);
  const differences: string[] = [];
  const compare = (name: string, theirs: unknown, mine: unknown) => {
    if (canonical(theirs) !== canonical(mine)) differences.push(`${name}: file ${canonical(theirs)}, this command ${canonical(mine)}`);
  };
  const grid = (file.grid ?? {}) as Record<string, unknown>;
  const ourGrid = ours.grid as unknown as Record<string, unknown>;
  // The model first (an MLP grid has none), then every list of either grid, in the MLP's order.
  compare('grid.model', grid.model, ourGrid.model);
  const keys = ['depths', 'gains', 'activations', 'residualPerSqrtDepth', 'seqLens', 'forgetBiases'];
  for (const key of keys) if (key in grid || key in ourGrid) compare(`grid.${key}`, grid[key], ourGrid[key]);
  compare('shard', file.shard, ours.shard);
  const base = (file.base ?? {}) as Record<string, unknown>;
  for (const key of new Set([...Object.keys(base), ...Object.keys(ours.base)])) compare(`base.${key}`, base[key], (ours.base as unknown as Record<string, unknown>)[key]);
  if (differences.length) {
    throw new UsageError(
      `--resume: ${path} holds a different sweep (${differences.join('; ')}). Resume it with the flags it was started with, ` +
        'or drop --resume (or choose another --json) to start a new sweep',
    );
  }
  const wanted = new Set(anySweepGrid(command).map(anyPointKey));
  return (file.points as AnySweepPoint[]).filter((p) => p && typeof p === 'object' && p.status !== 'error' && wanted.has(anyPointKey(p)));
}

/** The table a sweep prints when it ends (and a merge prints): one row per point. */
export function sweepTable(points: readonly AnySweepPoint[]): string {
  if (points.some((p) => p.model === 'lstm')) return lstmSweepTable(points.filter((p): p is LstmSweepPoint => p.model === 'lstm'));
  const rows = (points as SweepPoint[]).map((p) => [
    p.activation, String(p.depth), String(p.gain), p.status,
    p.measuredGrowthPerLayer === null ? '—' : p.measuredGrowthPerLayer.toFixed(4),
    p.predictedGrowthPerLayer === null ? '—' : p.predictedGrowthPerLayer.toFixed(4),
  ]);
  return formatTable(['activation', 'depth', 'gain', 'status', 'measured growth/layer', 'predicted'], rows);
}

const CSV_COLUMNS: (keyof SweepPoint)[] = [
  'index', 'activation', 'depth', 'gain', 'status', 'measuredGrowthPerLayer', 'predictedGrowthPerLayer', 'totalChangeDecades', 'measuredLog10Ratio', 'predictionMethod', 'finalLoss', 'ms', 'error',
];

/** The CSV of a sweep's points: the MLP's columns, or the LSTM's when its points are an LSTM's. */
export function sweepCsv(points: readonly AnySweepPoint[]): string {
  const cell = (v: unknown) =>
    v === null || v === undefined ? '' : typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : /[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v);
  const columns: string[] = points.some((p) => p.model === 'lstm') ? LSTM_CSV_COLUMNS : CSV_COLUMNS;
  return [columns.join(','), ...points.map((p) => columns.map((k) => cell((p as unknown as Record<string, unknown>)[k])).join(','))].join('\n') + '\n';
}
