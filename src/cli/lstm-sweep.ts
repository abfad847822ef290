/**
 * `gradstorm sweep --model lstm`: the LSTM's grid, seq-lens × forget-biases ×
 * gains (W_hh), one LSTM run per point, each point keeping the cell-gradient
 * rate per step measured at step 1 beside the rate the forget gates predict
 * (src/scheduler/lstm-run.ts), the verdict and its fitted growth. What is
 * common to every sweep (shards, --resume, the report, merge, Slurm) lives
 * in sweep.ts; this module holds what is the LSTM's own.
 */
import { ConfigError } from '../models/config.ts';
import { validateLstmConfig, type LstmConfig } from '../models/lstm.ts';
import { RNN_MAX_SEQ_LEN } from '../models/rnn.ts';
import type { LstmRunReport } from '../scheduler/lstm-run.ts';
import { UsageError, intListFlag, numberListFlag } from './flags.ts';
import { LSTM_STRESS_ALL_OPTIONS, lstmConfigFromFlags } from './lstm-flags.ts';
import { formatTable } from './io.ts';

/** The flags of `gradstorm sweep --model lstm` besides the common sweep ones (--csv, --shard, --resume). */
export const LSTM_SWEEP_OPTIONS = {
  ...LSTM_STRESS_ALL_OPTIONS,
  'seq-lens': { type: 'string' },
  'forget-biases': { type: 'string' },
  gains: { type: 'string' },
} as const;

/** The LSTM sweep's grid lists. */
export interface LstmSweepAxes {
  seqLens: number[];
  forgetBiases: number[];
  /** W_hh's gains. */
  gains: number[];
}

/** The default grid: T 100, forget bias 0, 1 (Jozefowicz et al. 2015) and 3, the base's W_hh gain. */
export const LSTM_SWEEP_DEFAULTS = { seqLens: [100], forgetBiases: [0, 1, 3] } as const;

/** A point of the LSTM grid: its place in the whole grid and its coordinates. */
export interface LstmGridPoint {
  model: 'lstm';
  index: number;
  seqLen: number;
  forgetBias: number;
  gain: number;
}

/** One finished point of an LSTM sweep (schema: lstmSweepPointSchema). */
export interface LstmSweepPoint extends LstmGridPoint {
  status: string;
  /** Fitted slope of log10 ‖∂L/∂c_t‖ per step back at step 1 (decades; negative = decay). */
  measuredCellGrowthPerStep: number | null;
  /** The forget gates' prediction (cell path alone), fitted the same way. */
  predictedCellGrowthPerStep: number | null;
  /** mean log10 rms(f_t) over the fitted span (the gates alone). */
  forgetRmsGrowthPerStep: number | null;
  meanForgetRms: number | null;
  /** Whether measured and predicted agree within the tolerance; null when either is missing. */
  agrees: boolean | null;
  /** The verdict's fitted growth per step and total change (decades). */
  growthPerStep: number | null;
  totalChangeDecades: number | null;
  fittedTimesteps: [number, number] | null;
  predictionMethod: string;
  finalLoss: number;
  ms: number;
  /** Why this point has no measurement; absent when it ran. */
  error?: string;
}

type LstmSweepFlagValues = Partial<Record<keyof typeof LSTM_SWEEP_OPTIONS, string | boolean | undefined>>;

/** Single-value flags that the sweep takes as lists. */
const AS_LISTS: [keyof typeof LSTM_SWEEP_OPTIONS, string][] = [
  ['seq-len', '--seq-lens'],
  ['forget-bias', '--forget-biases'],
  ['gain', '--gains'],
];

/**
 * The base config and grid of `sweep --model lstm` from its parsed flags.
 * Every point's config is validated here, before anything runs; an error
 * names the flag (and the point's value).
 */
export function lstmSweepFromFlags(values: LstmSweepFlagValues & { depths?: unknown; activations?: unknown }): { base: LstmConfig } & LstmSweepAxes {
  for (const [single, list] of AS_LISTS) {
    if (values[single] !== undefined) throw new UsageError(`sweep --model lstm takes ${list} (a list) instead of --${single}`);
  }
  if (values.depths !== undefined) throw new UsageError("--depths does not apply to sweep --model lstm: an LSTM's depth in time is --seq-lens");
  if (values.activations !== undefined) throw new UsageError("--activations does not apply to sweep --model lstm: the LSTM's nonlinearities are fixed");
  if (values.dump !== undefined) throw new UsageError('--dump applies to stress, not sweep');
  const base = lstmConfigFromFlags(values);
  const str = (name: keyof LstmSweepFlagValues) => (typeof values[name] === 'string' ? (values[name] as string) : undefined);
  const axes: LstmSweepAxes = {
    seqLens: intListFlag('seq-lens', str('seq-lens'), [...LSTM_SWEEP_DEFAULTS.seqLens], 1, RNN_MAX_SEQ_LEN),
    forgetBiases: str('forget-biases') === undefined ? [...LSTM_SWEEP_DEFAULTS.forgetBiases] : numberListFlag('forget-biases', str('forget-biases')!, -100, 100),
    gains: str('gains') === undefined ? [base.gain] : numberListFlag('gains', str('gains')!, 0, 1e6),
  };
  for (const p of lstmSweepGrid({ ...axes, shard: { index: 0, count: 1 } })) {
    try {
      validateLstmConfig(lstmPointConfig(base, p));
    } catch (error) {
      if (error instanceof ConfigError) {
        // The config's message names the single flag (--seq-len 1: …); the sweep's list flag is its plural.
        const axis = /^--forget-bias\b/.test(error.message) ? '--forget-biases' : /^--gain\b/.test(error.message) ? '--gains' : /^--seq-len\b/.test(error.message) ? '--seq-lens' : 'sweep';
        throw new UsageError(`${axis} (at ${describeLstmPoint(p)}): ${error.message}`);
      }
      throw error;
    }
  }
  return { base, ...axes };
}

/** The grid in order (gains outermost, then forget biases, seq-lens innermost, as the MLP's activations × gains × depths), this shard's points only. */
export function lstmSweepGrid(c: LstmSweepAxes & { shard: { index: number; count: number } }): LstmGridPoint[] {
  const all = c.gains.flatMap((gain) => c.forgetBiases.flatMap((forgetBias) => c.seqLens.map((seqLen) => ({ seqLen, forgetBias, gain }))));
  return all.map((p, index) => ({ model: 'lstm' as const, index, ...p })).filter((p) => p.index % c.shard.count === c.shard.index);
}

/** The stress config of one LSTM grid point. */
export function lstmPointConfig(base: LstmConfig, p: Pick<LstmGridPoint, 'seqLen' | 'forgetBias' | 'gain'>): LstmConfig {
  return { ...base, seqLen: p.seqLen, forgetBias: p.forgetBias, gain: p.gain };
}

/** A point's grid coordinates as one key: what --resume (and a merge) matches on. */
export function lstmPointKey(p: Pick<LstmGridPoint, 'index' | 'seqLen' | 'forgetBias' | 'gain'>): string {
  return `${p.index}|lstm|${p.seqLen}|${p.forgetBias}|${p.gain}`;
}

/** A grid value as printed (4 significant digits: the default W_hh gain is 1/√3); the reports keep full precision. */
export const shortNumber = (x: number): string => String(Number(x.toPrecision(4)));

/** `lstm T 8 forget bias 1 gain 0.5` */
export function describeLstmPoint(p: Pick<LstmGridPoint, 'seqLen' | 'forgetBias' | 'gain'>): string {
  return `lstm T ${p.seqLen} forget bias ${shortNumber(p.forgetBias)} gain ${shortNumber(p.gain)}`;
}

const finite = (x: number | null | undefined): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);

/** The point an LSTM run gives (its first step's cell theory and verdict). */
export function lstmSweepPoint(p: LstmGridPoint, report: LstmRunReport, ms: number): LstmSweepPoint {
  const v = report.verdict;
  const th = v.cellTheory;
  return {
    ...p,
    status: v.status,
    measuredCellGrowthPerStep: finite(th.measuredGrowthPerStep),
    predictedCellGrowthPerStep: finite(th.predictedGrowthPerStep),
    forgetRmsGrowthPerStep: finite(th.forgetRmsGrowthPerStep),
    meanForgetRms: finite(th.meanForgetRms),
    agrees: th.agrees,
    growthPerStep: finite(v.growthPerStep),
    totalChangeDecades: finite(v.totalChangeDecades),
    fittedTimesteps: v.fittedTimesteps,
    predictionMethod: v.predictionMethod,
    finalLoss: report.steps[report.steps.length - 1].loss,
    ms,
  };
}

/** The point of an LSTM run that could not run (recorded, and run again by --resume). */
export function lstmErrorPoint(p: LstmGridPoint, message: string, ms: number): LstmSweepPoint {
  return {
    ...p, status: 'error', measuredCellGrowthPerStep: null, predictedCellGrowthPerStep: null, forgetRmsGrowthPerStep: null, meanForgetRms: null,
    agrees: null, growthPerStep: null, totalChangeDecades: null, fittedTimesteps: null, predictionMethod: '', finalLoss: NaN, ms, error: message,
  };
}

const rate = (x: number | null) => (x === null ? '—' : x.toFixed(4));

/** The one-line progress text of a finished point. */
export function describeLstmPointResult(p: LstmSweepPoint): string {
  if (p.error) return `${p.status} (${p.error})`;
  const agreement = p.agrees === null ? '' : p.agrees ? ', agrees' : ', DISAGREES';
  return `${p.status}, cell gradient ${rate(p.measuredCellGrowthPerStep)} decades/step (forget gates predict ${rate(p.predictedCellGrowthPerStep)}${agreement})`;
}

/** The table an LSTM sweep prints when it ends: one row per point. */
export function lstmSweepTable(points: readonly LstmSweepPoint[]): string {
  const rows = points.map((p) => [
    String(p.seqLen), shortNumber(p.forgetBias), shortNumber(p.gain), p.status, rate(p.measuredCellGrowthPerStep), rate(p.predictedCellGrowthPerStep),
    p.agrees === null ? '—' : p.agrees ? 'yes' : 'NO', p.meanForgetRms === null ? '—' : p.meanForgetRms.toFixed(3),
  ]);
  return formatTable(['T', 'forget bias', 'gain', 'status', 'measured ∂c/step', 'predicted (forget gates)', 'agrees', 'rms f'], rows);
}

/** The LSTM sweep's CSV columns. */
export const LSTM_CSV_COLUMNS: (keyof LstmSweepPoint)[] = [
  'index', 'model', 'seqLen', 'forgetBias', 'gain', 'status', 'measuredCellGrowthPerStep', 'predictedCellGrowthPerStep', 'agrees',
  'forgetRmsGrowthPerStep', 'meanForgetRms', 'growthPerStep', 'totalChangeDecades', 'predictionMethod', 'finalLoss', 'ms', 'error',
];
