/**
 * Runs an RNN stress test and builds its run report (schema gradstorm.run/1,
 * `timesteps` filled): the entry point `gradstorm stress --model rnn` calls
 * (browser-safe: no Node imports).
 */
import type { AdapterSummary, GpuContext } from '../gpu/context.ts';
import { GpuLimitError } from '../gpu/errors.ts';
import type { MatmulVariant } from '../kernels/matmul.ts';
import type { RnnVariant } from '../kernels/rnn.ts';
import { DUMP_MAX_PARAMS } from '../models/dump.ts';
import { bpttSteps, buildRnnDump, planRnn, type RnnConfig, type RnnDump } from '../models/rnn.ts';
import { firstNonfiniteStep, initVerdict, rnnVerdict, trainingVerdict, type Verdict } from '../analysis/index.ts';
import { RUN_SCHEMA } from '../report/run-report.ts';
import { RnnTrainer, type RnnStepStats } from './rnn-trainer.ts';
import { interruptionFields, type Interruption, type InterruptionFields } from './interruption.ts';
import { runTrainer, type FirstStepTensors, type StepRecord, type Trainer } from './trainer.ts';

/**
 * What the theory says about the growth of ‖∂L/∂h_t‖ with T − t.
 *
 * Linear activation with orthogonal or identity W_hh = a·Q and the loss at
 * the last step: ∂L/∂h_{t−1} = ∂L/∂h_t · a·Q, so every row's norm is
 * multiplied by exactly a per step: predictedGrowthPerStep = log10(a).
 * Everything else gets null and Pascanu et al. (2013)'s condition in words:
 * with |φ'| ≤ γ (γ = 1 for tanh, relu and linear), the gradient must vanish
 * when the largest singular value σ_max(W_hh) < 1/γ = 1, and can only explode
 * when σ_max > 1 (necessary, not sufficient).
 */
export interface RnnPrediction {
  predictedGrowthPerStep: number | null;
  method: 'exact-orthogonal' | 'pascanu-condition';
  /** σ_max(W_hh): exact for orthogonal and identity (= gain); ≈ 2·gain for gaussian (the edge of the quarter-circle law, large H). */
  sigmaMax: number;
  sigmaMaxExact: boolean;
  /** Pascanu's reading of σ_max: 'vanishing' (σ_max < 1: must vanish), 'explosion-possible' (σ_max > 1), 'boundary'. */
  pascanu: 'vanishing' | 'explosion-possible' | 'boundary';
  note: string;
}

/** What the theory says of an RNN config: the exact growth per step for linear orthogonal/identity W_hh, otherwise Pascanu et al.'s σ_max condition in words. */
export function rnnPrediction(c: RnnConfig): RnnPrediction {
  const exact = c.init !== 'gaussian';
  const sigmaMax = exact ? c.gain : 2 * c.gain;
  const pascanu = sigmaMax < 1 ? 'vanishing' : sigmaMax > 1 ? 'explosion-possible' : 'boundary';
  const sigmaText = exact ? `σ_max(W_hh) = ${c.gain} exactly (${c.init})` : `σ_max(W_hh) ≈ 2·gain = ${sigmaMax.toPrecision(4)} (gaussian, large H; spectral radius ≈ gain)`;
  const condition =
    pascanu === 'vanishing'
      ? 'below 1/γ = 1 (γ = 1 bounds |φ\'| for tanh, relu, linear): the gradient must vanish (Pascanu et al. 2013, sufficient condition)'
      : pascanu === 'explosion-possible'
        ? 'above 1/γ = 1: explosion is possible but not implied (Pascanu et al. 2013: σ_max > 1/γ is necessary, not sufficient)'
        : 'at 1/γ = 1, the boundary of Pascanu et al.\'s condition';
  const full = bpttSteps(c) >= c.seqLen;
  if (c.activation === 'linear' && exact && c.lossAt === 'last') {
    return {
      predictedGrowthPerStep: Math.log10(c.gain),
      method: 'exact-orthogonal',
      sigmaMax,
      sigmaMaxExact: true,
      pascanu,
      note: `linear RNN with W_hh = ${c.gain}·Q: ‖∂L/∂h_t‖ = ${c.gain}^(T−t)·‖∂L/∂h_T‖ exactly` + (full ? '' : ` over the ${bpttSteps(c)} timesteps truncated BPTT reaches`),
    };
  }
  const why =
    c.activation !== 'linear'
      ? `${c.activation} scales each step by φ'(z_t), which depends on the data`
      : !exact
        ? 'gaussian W_hh: the norm tracks gain^k only for k ≲ √H steps, then drifts above it (DESIGN.md)'
        : 'the loss at every step adds a fresh term at each t';
  return { predictedGrowthPerStep: null, method: 'pascanu-condition', sigmaMax, sigmaMaxExact: exact, pascanu, note: `no exact rate (${why}); ${sigmaText}, ${condition}` };
}

/**
 * The run report of an RNN (`gradstorm.run/1` with `timesteps` filled and the
 * verdict fitted per step). A partial report (an interrupted run) also has
 * `interrupted: true` and `interruption`.
 */
export interface RnnRunReport extends InterruptionFields {
  schema: typeof RUN_SCHEMA;
  config: RnnConfig;
  adapter: { vendor: string; architecture: string; description: string };
  /** The kernel variant that ran the recurrence. */
  variant: RnnVariant;
  steps: RnnStepStats[];
  verdict: Verdict & {
    predictionMethod: RnnPrediction['method'];
    /** Pascanu's condition or the exact rate, in words. */
    predictionNote: string;
    sigmaMax: number;
    /** The timesteps the growth fit covered: [T − k + 1, T] under truncated BPTT with the loss at the last step, else [1, T]. */
    fittedTimesteps: [number, number];
  };
  timing?: { stepMs: number[]; medianStepMs: number };
}

/** The verdict of the first step's per-timestep norms (fitted where gradients can reach). */
export function rnnRunVerdict(config: RnnConfig, steps: readonly RnnStepStats[]): RnnRunReport['verdict'] {
  const prediction = rnnPrediction(config);
  const T = config.seqLen;
  const first = config.lossAt === 'last' ? T - bpttSteps(config) + 1 : 1;
  const record = steps[0];
  const logs = record ? record.timesteps.slice(first - 1).map((s) => s.log10HiddenGradNorm) : [];
  const firstBad = firstNonfiniteStep(steps);
  const verdict = rnnVerdict({
    hiddenGradNorms: logs,
    scale: 'log10',
    diverged: firstBad !== null,
    firstNonfiniteStep: firstBad,
    predictedGrowthPerStep: prediction.predictedGrowthPerStep,
  });
  // The two verdicts apart: the first step's fitted span alone, then what training did over every step.
  const fittedFirst = record ? [{ ...record, timesteps: logs.map((log10, i) => ({ t: first + i, hiddenGradNorm: log10 })) }] : [];
  const init = initVerdict(fittedFirst, { model: 'rnn', scale: 'log10' });
  const training = trainingVerdict(steps, init.status, 'timestep');
  return { ...verdict, init, training, predictionMethod: prediction.method, predictionNote: prediction.note, sigmaMax: prediction.sigmaMax, fittedTimesteps: [first, T] };
}

export function buildRnnRunReport(
  config: RnnConfig,
  adapter: AdapterSummary,
  variant: RnnVariant,
  steps: readonly RnnStepStats[],
  stepMs: readonly number[] = [],
  interruption: Interruption | null = null,
): RnnRunReport {
  const { adapter: summary, timing, ...interrupted } = reportFrame(adapter, stepMs, interruption);
  return {
    schema: RUN_SCHEMA,
    config,
    adapter: summary,
    variant,
    steps: [...steps],
    verdict: rnnRunVerdict(config, steps),
    ...(timing ? { timing } : {}),
    ...interrupted,
  };
}

/** The fields every recurrent run report shares besides config, steps and verdict: the adapter, the step times, the interruption. */
export function reportFrame(
  adapter: AdapterSummary,
  stepMs: readonly number[],
  interruption: Interruption | null,
): { adapter: { vendor: string; architecture: string; description: string }; timing?: { stepMs: number[]; medianStepMs: number } } & InterruptionFields {
  const sorted = [...stepMs].sort((a, b) => a - b);
  return {
    adapter: { vendor: adapter.vendor, architecture: adapter.architecture, description: adapter.description },
    ...(sorted.length ? { timing: { stepMs: [...stepMs], medianStepMs: sorted[sorted.length >> 1] } } : {}),
    ...interruptionFields(interruption),
  };
}

/** Refuses a dump of more than DUMP_MAX_PARAMS numbers (parameters and input). */
export function checkDumpSize(numbers: number): void {
  if (numbers > DUMP_MAX_PARAMS) {
    throw new GpuLimitError(`--dump writes every parameter and input as JSON text; this run has more than ${DUMP_MAX_PARAMS} numbers. Use a smaller --seq-len, --width or --batch with --dump`);
  }
}

/**
 * Runs a built trainer for `total` steps (runTrainer: the dump, interruption)
 * and collects its step records, calling `onStep` after each.
 */
export async function collectSteps<Stats extends StepRecord, Dump>(
  trainer: Trainer<Stats>,
  total: number,
  options: { dump?: (first: FirstStepTensors) => Dump; signal?: AbortSignal; onStep?: (done: number, total: number, last: Stats) => void },
): Promise<{ steps: Stats[]; stepMs: number[]; dump: Dump | null; interruption: Interruption | null }> {
  const steps: Stats[] = [];
  const { stepMs, dump, interruption } = await runTrainer(trainer, {
    steps: total,
    signal: options.signal,
    dump: options.dump,
    onRecord: (s) => {
      steps.push(s);
      options.onStep?.(steps.length, total, s);
    },
  });
  return { steps, stepMs, dump, interruption };
}

/** Options of {@link runRnnStress}. */
export interface RnnStressOptions {
  /** Recurrence kernels: 'step' (one dispatch per timestep) or 'persistent'; default defaultRnnVariant. */
  variant?: RnnVariant;
  matmulVariant?: MatmulVariant;
  /** Also return the dump of the first step (small models only). */
  dump?: boolean;
  onStep?: (done: number, total: number, last: RnnStepStats) => void;
  /** Stops after the step in flight and returns the partial report, as runStress does (src/scheduler/run.ts). */
  signal?: AbortSignal;
}

/**
 * Trains `config.steps` steps and returns the report (and the first step's
 * dump when asked). An abort, or a device loss or kernel error once a step
 * is recorded, returns the partial report (`interrupted: true`) instead.
 */
export async function runRnnStress(ctx: GpuContext, config: RnnConfig, options: RnnStressOptions = {}): Promise<{ report: RnnRunReport; dump: RnnDump | null }> {
  const plan = planRnn(config);
  if (options.dump) checkDumpSize(plan.paramCount + config.seqLen * config.batch * config.input);
  const trainer = await RnnTrainer.create(ctx, config, { variant: options.variant, matmulVariant: options.matmulVariant });
  const variant = trainer.variant;
  const { steps, stepMs, dump, interruption } = await collectSteps(trainer, config.steps, {
    signal: options.signal,
    dump: options.dump ? (first) => buildRnnDump(config, trainer.plan, first) : undefined,
    onStep: options.onStep,
  });
  return { report: buildRnnRunReport(config, ctx.summary, variant, steps, stepMs, interruption), dump };
}
