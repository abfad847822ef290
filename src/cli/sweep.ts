/**
 * `gradstorm sweep`: measured against predicted gradient growth over a grid
 * of depths × gains × activations (one probe step each by default): the data
 * of a phase diagram. `--shard i/n` runs every n-th point starting at i, so a
 * grid can be split across machines; each shard writes its own JSON and CSV
 * (with a header row: join them with `tail -n +2` on all but the first).
 */
import type { GpuContext } from '../gpu/context.ts';
import { ACTIVATIONS, type Activation } from '../kernels/elementwise.ts';
import type { MlpConfig } from '../models/config.ts';
import type { RunReport } from '../report/run-report.ts';
import { STRESS_OPTIONS, mlpConfigFromFlags, retuneFlag, runStress } from './stress.ts';
import { matmulVariantNames, type MatmulVariant } from '../kernels/matmul.ts';
import { UsageError, intListFlag, listFlag, numberListFlag, oneOf, parse } from './flags.ts';

export const SWEEP_OPTIONS = {
  ...STRESS_OPTIONS,
  depths: { type: 'string' },
  gains: { type: 'string' },
  activations: { type: 'string' },
  csv: { type: 'string' },
  shard: { type: 'string' },
} as const;

export interface SweepPoint {
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
  base: MlpConfig;
  depths: number[];
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
  help: boolean;
}

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

export function parseSweep(args: string[]): SweepCommand {
  const { values } = parse(args, SWEEP_OPTIONS);
  if (values.depth !== undefined || values.gain !== undefined || values.activation !== undefined) {
    throw new UsageError('sweep takes --depths, --gains and --activations (lists) instead of --depth, --gain and --activation');
  }
  const base = mlpConfigFromFlags({ ...values, loss: values.loss ?? 'probe' });
  if (base.init === 'he' && values.gains !== undefined) {
    throw new UsageError('--init he fixes the gain at √2, so --gains would sweep nothing; use --init gaussian (std gain/√fan_in) or orthogonal');
  }
  if (values.dump !== undefined) throw new UsageError('--dump applies to stress, not sweep');
  return {
    base,
    depths: intListFlag('depths', values.depths, [10, 50, 100], 1, 100_000),
    gains: values.gains === undefined ? [1, Math.SQRT2, 1.8] : numberListFlag('gains', values.gains, 1e-6, 1e6),
    activations: listFlag('activations', values.activations, ACTIVATIONS, [base.activation]),
    shard: parseShard(values.shard),
    json: values.json,
    csv: values.csv ?? (values.json ? values.json.replace(/\.json$/i, '') + '.csv' : undefined),
    adapter: values.adapter,
    matmulVariant: values.variant === undefined ? undefined : oneOf('variant', values.variant, matmulVariantNames(), 'register'),
    retune: retuneFlag(values),
    quiet: values.quiet ?? false,
    help: values.help ?? false,
  };
}

export function sweepGrid(c: Pick<SweepCommand, 'depths' | 'gains' | 'activations' | 'shard'>): { index: number; depth: number; gain: number; activation: Activation }[] {
  const all = c.activations.flatMap((activation) => c.gains.flatMap((gain) => c.depths.map((depth) => ({ depth, gain, activation }))));
  return all.map((p, index) => ({ ...p, index })).filter((p) => p.index % c.shard.count === c.shard.index);
}

/**
 * Runs the grid, one stress run per point: on `ctx` in Node, or through
 * `runPoint` (the Chrome runtime passes the page's stress run, and a crash
 * it throws ends the sweep).
 */
export async function runSweep(
  ctx: GpuContext | null,
  command: SweepCommand,
  onPoint?: (p: SweepPoint, done: number, total: number) => void,
  runPoint: (config: MlpConfig) => Promise<RunReport> = async (config) => (await runStress(ctx!, config, { matmulVariant: command.matmulVariant })).report,
): Promise<SweepPoint[]> {
  const grid = sweepGrid(command);
  const points: SweepPoint[] = [];
  for (const p of grid) {
    const start = performance.now();
    let point: SweepPoint;
    try {
      const report = await runPoint({ ...command.base, depth: p.depth, gain: p.gain, activation: p.activation });
      const layers = report.steps[0].layers;
      const L = layers.length;
      const ratio = L >= 3 ? Math.log10(layers[0].deltaNorm / layers[L - 2].deltaNorm) : null;
      point = {
        ...p,
        status: report.verdict.status,
        measuredGrowthPerLayer: report.verdict.growthPerLayer ?? null,
        predictedGrowthPerLayer: report.verdict.predictedGrowthPerLayer ?? null,
        totalChangeDecades: report.verdict.totalChangeDecades ?? null,
        measuredLog10Ratio: ratio !== null && Number.isFinite(ratio) ? ratio : null,
        predictionMethod: report.verdict.predictionMethod,
        finalLoss: report.steps[report.steps.length - 1].loss,
        ms: performance.now() - start,
      };
    } catch (error) {
      // A lost device ends the sweep; a point that cannot run (too big for the adapter) is recorded and skipped.
      if (ctx?.lostError) throw ctx.lostError;
      if ((error as Error).name === 'RuntimeCrashError' || (error as Error).name === 'DeviceLostError') throw error;
      point = {
        ...p, status: 'error', measuredGrowthPerLayer: null, predictedGrowthPerLayer: null, totalChangeDecades: null,
        measuredLog10Ratio: null, predictionMethod: '', finalLoss: NaN, ms: performance.now() - start, error: (error as Error).message,
      };
    }
    points.push(point);
    onPoint?.(point, points.length, grid.length);
  }
  return points;
}

const CSV_COLUMNS: (keyof SweepPoint)[] = [
  'index', 'activation', 'depth', 'gain', 'status', 'measuredGrowthPerLayer', 'predictedGrowthPerLayer', 'totalChangeDecades', 'measuredLog10Ratio', 'predictionMethod', 'finalLoss', 'ms', 'error',
];

export function sweepCsv(points: readonly SweepPoint[]): string {
  const cell = (v: unknown) =>
    v === null || v === undefined ? '' : typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : /[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v);
  return [CSV_COLUMNS.join(','), ...points.map((p) => CSV_COLUMNS.map((k) => cell(p[k])).join(','))].join('\n') + '\n';
}
