/**
 * The LSTM's trainer, its theory and its run report (schema gradstorm.run/1,
 * `timesteps` filled with hidden and cell gradients): the entry point
 * `gradstorm stress --model lstm` calls (browser-safe: no Node imports).
 *
 * Theory. Along the cell path ∂L/∂c_{t−1} = f_t ⊙ ∂L/∂c_t; the full gradient
 * adds the hidden path, (∂L/∂h_{t−1} = dz_t W_hh) ⊙ o_{t−1} ⊙ tanh'(c_{t−1}).
 * The measured rate is the least-squares slope of log10 ‖∂L/∂c_t‖ against
 * T − t (decades per step back; negative = decay), fitted over the timesteps
 * whose norm is above CELL_FIT_FLOOR (below it float32 entries reach the
 * subnormal range, which WGSL may flush to zero). The prediction is
 *
 *   ρ_t = ‖f_t ⊙ ∂L/∂c_t‖ / ‖∂L/∂c_t‖    (both norms reduced on the GPU each step)
 *   predicted = the fitted slope of log10 ‖∂L/∂c_T‖ + Σ_{s>t} log10 ρ_s over the same span
 *
 * (≈ the mean of log10 ρ_t; fitted the same way as the measurement, so that
 * the two are the same curve when there is no hidden path). Why this
 * statistic and not the mean of log10 rms(f_t) or E[log f]: the norm is a
 * Frobenius norm, so one step along the cell path multiplies ‖∂c‖² by the
 * ∂c²-weighted mean of f², not by the plain mean of f² — and over many steps
 * ∂c concentrates on the units whose forget gates stay large (f depends on
 * each unit's bias and input weights, so it is persistent per unit), which
 * puts the weighted rms above the plain one. E[log f] ≤ log rms f (Jensen) is
 * the rate of one coordinate's log-magnitude, further off still. The weighted
 * rms is exact along the cell path: with W_hh = 0 (no hidden path) the
 * measured and predicted rates coincide up to the fit; the difference is the
 * hidden path's share. The plain log10 rms(f_t) is reported beside it
 * (forgetRmsGrowthPerStep), a statistic of the gates alone.
 */
import type { AdapterSummary, GpuContext } from '../gpu/context.ts';
import type { MatmulVariant } from '../kernels/matmul.ts';
import { firstNonfiniteStep, fitGrowth, initVerdict, rnnVerdict, trainingVerdict, type Verdict } from '../analysis/index.ts';
import { RUN_SCHEMA } from '../report/run-report.ts';
import { planLstm, type LstmConfig, type LstmDump, type LstmPlan } from '../models/lstm.ts';
import { buildRnnDump } from '../models/rnn.ts';
import { LstmModel, checkLstmFits, type LstmStepStats } from '../models/lstm-model.ts';
import { Trainer } from './trainer.ts';
import type { Interruption, InterruptionFields } from './interruption.ts';
import { checkDumpSize, collectSteps, reportFrame } from './rnn-run.ts';

export type { LstmStepStats, LstmTensorStats, LstmTimestepStats } from '../models/lstm-model.ts';

/** An LSTM on the GPU with its BPTT step recorded once: `LstmTrainer.create(ctx, config)`, then `run(steps, onStep)`; `destroy()` when done. */
export class LstmTrainer extends Trainer<LstmStepStats, LstmModel> {
  static async create(ctx: GpuContext, config: LstmConfig, options: { matmulVariant?: MatmulVariant } = {}): Promise<LstmTrainer> {
    LstmTrainer.checkFits(ctx, config);
    const trainer = new LstmTrainer(ctx, new LstmModel(config, options));
    await trainer.build();
    return trainer;
  }

  /** Refuses, before anything is allocated or tuned, a config that does not fit the adapter. */
  static checkFits(ctx: GpuContext, config: LstmConfig, plan?: LstmPlan): void {
    checkLstmFits(ctx, config, plan);
  }

  get plan(): LstmPlan {
    return this.model.plan;
  }

  get config(): LstmConfig {
    return this.model.config;
  }

  /** h_t or c_t for t = 1..T: [T, B, H]. */
  readState(which: 'h' | 'c'): Promise<Float32Array> {
    return this.model.readState(this.ctx, which);
  }

  /** ∂L/∂h_t, ∂L/∂c_t or f_t ⊙ ∂L/∂c_t for t = 1..T: [T, B, H]. */
  readStateGrads(which: 'dh' | 'dc' | 'dcf'): Promise<Float32Array> {
    return this.model.readStateGrads(this.ctx, which);
  }
}

/** log10 ‖∂L/∂c_t‖ below which the fit stops (float32 entries near the subnormal range). */
export const CELL_FIT_FLOOR = -30;

/**
 * Agreement of measured and predicted cell-gradient rates:
 * |measured − predicted| ≤ abs + rel·|predicted| (decades per step). Both
 * parts are the hidden path's share, which adds gradient and so slows the
 * measured decay: at the default W_hh gain (1/√3), adding task, H 8–16,
 * T 20, forget bias 0–3, it was 0.007–0.049 decades per step (≤ 21% of the
 * rate), measured on SwiftShader. Larger gains carry more (gain 1: up to 60%).
 */
export const LSTM_AGREEMENT = { abs: 0.025, rel: 0.2 } as const;

/** The LSTM's theory line: measured and predicted decay of ‖∂L/∂c_t‖ per step, from the first step. */
export interface LstmCellTheory {
  /** Fitted slope of log10 ‖∂L/∂c_t‖ against T − t (decades per step back); null with fewer than 2 points. */
  measuredGrowthPerStep: number | null;
  /** The cell path alone: the fitted slope of log10 ‖∂L/∂c_T‖ + Σ_{s>t} log10(‖f_s ⊙ ∂L/∂c_s‖ / ‖∂L/∂c_s‖) (see the module comment). */
  predictedGrowthPerStep: number | null;
  /** mean over the span of log10 rms(f_t): the forget gates alone, unweighted. */
  forgetRmsGrowthPerStep: number | null;
  /** mean over the span of rms(f_t). */
  meanForgetRms: number | null;
  /** The fitted timesteps [first, T]. */
  fittedTimesteps: [number, number];
  /** Whether |measured − predicted| ≤ tolerance; null when either is missing. */
  agrees: boolean | null;
  tolerance: number | null;
}

/** The theory of one step's per-timestep norms (module comment). */
export function lstmCellTheory(record: LstmStepStats | undefined): LstmCellTheory {
  const T = record?.timesteps.length ?? 0;
  let first = T;
  while (first > 1 && record) {
    const v = record.timesteps[first - 2].log10CellGradNorm;
    if (!(Number.isFinite(v) && v > CELL_FIT_FLOOR)) break;
    first--;
  }
  const empty = { measuredGrowthPerStep: null, predictedGrowthPerStep: null, forgetRmsGrowthPerStep: null, meanForgetRms: null, fittedTimesteps: [first, T] as [number, number], agrees: null, tolerance: null };
  if (!record || T < 2 || first >= T || !Number.isFinite(record.timesteps[T - 1].log10CellGradNorm)) return empty;
  const span = record.timesteps.slice(first - 1);
  const fit = fitGrowth(span.map((s) => s.log10CellGradNorm));
  // The factors that connect the span's points: f_t ⊙ ∂c_t → ∂c_{t−1} for t = first+1..T.
  const links = span.slice(1);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  // The cell path alone, from ∂c_T down: log10 ‖∂c_T‖ + Σ_{s>t} log10 ρ_s, fitted as the measurement is
  // (so that without a hidden path the two are the same curve and the same slope).
  const ratios = links.map((s) => s.log10CellPathGradNorm - s.log10CellGradNorm);
  const curve = new Array<number>(span.length);
  curve[span.length - 1] = span[span.length - 1].log10CellGradNorm;
  for (let i = span.length - 2; i >= 0; i--) curve[i] = curve[i + 1] + ratios[i];
  const predictedFit = fitGrowth(curve);
  const predicted = predictedFit ? predictedFit.slope : NaN;
  const measured = fit ? fit.slope : null;
  const tolerance = LSTM_AGREEMENT.abs + LSTM_AGREEMENT.rel * Math.abs(predicted);
  return {
    measuredGrowthPerStep: measured,
    predictedGrowthPerStep: Number.isFinite(predicted) ? predicted : null,
    forgetRmsGrowthPerStep: mean(links.map((s) => Math.log10(s.forgetRms))),
    meanForgetRms: mean(links.map((s) => s.forgetRms)),
    fittedTimesteps: [first, T],
    agrees: measured === null || !Number.isFinite(predicted) ? null : Math.abs(measured - predicted) <= tolerance,
    tolerance,
  };
}

/** The theory in words (the report's predictionNote and the CLI's theory line). */
export function describeLstmTheory(config: LstmConfig, theory: LstmCellTheory): string {
  const f = (x: number | null, digits = 4) => (x === null ? '—' : x.toFixed(digits));
  const [a, b] = theory.fittedTimesteps;
  const verdict = theory.agrees === null ? '' : theory.agrees ? ' — agrees' : ' — DISAGREES (the hidden path carries more than the tolerance)';
  return (
    `cell path ∂c_{t−1} = f_t ⊙ ∂c_t: ‖∂L/∂c_t‖ changes ${f(theory.measuredGrowthPerStep)} decades per step back (fitted over t = ${a}..${b}), ` +
    `the forget gates predict ${f(theory.predictedGrowthPerStep)} (cell path alone, Σ log10 ‖f⊙∂c‖/‖∂c‖; allowed ± ${f(theory.tolerance)})${verdict}; ` +
    `rms f = ${f(theory.meanForgetRms, 3)} (log10 ${f(theory.forgetRmsGrowthPerStep)} per step), forget bias ${config.forgetBias} (σ(b_f) = ${(1 / (1 + Math.exp(-config.forgetBias))).toFixed(3)})`
  );
}

/** The run report of an LSTM (`gradstorm.run/1`). A partial report also has `interrupted: true` and `interruption`. */
export interface LstmRunReport extends InterruptionFields {
  schema: typeof RUN_SCHEMA;
  config: LstmConfig;
  adapter: { vendor: string; architecture: string; description: string };
  steps: LstmStepStats[];
  /** The verdict of ‖∂L/∂c_t‖ at the first step over the fitted span, with the cell-path theory. */
  verdict: Verdict & {
    predictionMethod: 'lstm-cell-path';
    predictionNote: string;
    fittedTimesteps: [number, number];
    cellTheory: LstmCellTheory;
  };
  timing?: { stepMs: number[]; medianStepMs: number };
}

/** The verdict of the first step's cell gradients (fitted above CELL_FIT_FLOOR) and the theory beside it. */
export function lstmRunVerdict(config: LstmConfig, steps: readonly LstmStepStats[]): LstmRunReport['verdict'] {
  const record = steps[0];
  const theory = lstmCellTheory(record);
  const [first, T] = theory.fittedTimesteps;
  const logs = record ? record.timesteps.slice(first - 1).map((s) => s.log10CellGradNorm) : [];
  const firstBad = firstNonfiniteStep(steps);
  const verdict = rnnVerdict({ hiddenGradNorms: logs, scale: 'log10', diverged: firstBad !== null, firstNonfiniteStep: firstBad, predictedGrowthPerStep: theory.predictedGrowthPerStep });
  const fittedFirst = record ? [{ ...record, timesteps: logs.map((log10, i) => ({ t: first + i, hiddenGradNorm: log10 })) }] : [];
  const init = initVerdict(fittedFirst, { model: 'rnn', scale: 'log10' });
  const training = trainingVerdict(steps, init.status, 'timestep');
  return { ...verdict, init, training, predictionMethod: 'lstm-cell-path', predictionNote: describeLstmTheory(config, theory), fittedTimesteps: [first, T], cellTheory: theory };
}

export function buildLstmRunReport(
  config: LstmConfig,
  adapter: AdapterSummary,
  steps: readonly LstmStepStats[],
  stepMs: readonly number[] = [],
  interruption: Interruption | null = null,
): LstmRunReport {
  const { adapter: summary, timing, ...interrupted } = reportFrame(adapter, stepMs, interruption);
  return { schema: RUN_SCHEMA, config, adapter: summary, steps: [...steps], verdict: lstmRunVerdict(config, steps), ...(timing ? { timing } : {}), ...interrupted };
}

/** Options of {@link runLstmStress}. */
export interface LstmStressOptions {
  matmulVariant?: MatmulVariant;
  /** Also return the dump of the first step (small models only). */
  dump?: boolean;
  onStep?: (done: number, total: number, last: LstmStepStats) => void;
  /** Stops after the step in flight and returns the partial report, as runRnnStress does. */
  signal?: AbortSignal;
}

/**
 * Trains `config.steps` steps and returns the report (and the first step's
 * dump when asked). An abort, or a device loss or kernel error once a step
 * is recorded, returns the partial report (`interrupted: true`) instead.
 */
export async function runLstmStress(ctx: GpuContext, config: LstmConfig, options: LstmStressOptions = {}): Promise<{ report: LstmRunReport; dump: LstmDump | null }> {
  const plan = planLstm(config);
  if (options.dump) checkDumpSize(plan.paramCount + config.seqLen * config.batch * config.input);
  const trainer = await LstmTrainer.create(ctx, config, { matmulVariant: options.matmulVariant });
  const { steps, stepMs, dump, interruption } = await collectSteps(trainer, config.steps, {
    signal: options.signal,
    dump: options.dump ? (first) => buildRnnDump(config, plan, first) : undefined,
    onStep: options.onStep,
  });
  return { report: buildLstmRunReport(config, ctx.summary, steps, stepMs, interruption), dump };
}
