/**
 * `gradstorm stress --model rnn`: flags → RnnConfig, the console summary.
 * src/cli/stress.ts keeps the MLP; the lead wires this in (see parseRnnStress).
 *
 * Task and loss, one scheme: the task decides the loss.
 *   --task probe    (default) fixed N(0, 1) cotangents at the readout(s); loss probe
 *   --task adding   the adding problem (2 inputs, 1 output, mse at the last step)
 *   --loss probe|mse is accepted as the DESIGN.md spelling of the same choice:
 *   mse means the adding problem. Giving both is fine when they agree.
 */
import { ConfigError, OPTIMIZERS, parseClip } from '../models/config.ts';
import { ACTIVATIONS } from '../kernels/elementwise.ts';
import type { MatmulVariant } from '../kernels/matmul.ts';
import { RNN_VARIANTS, type RnnVariant } from '../kernels/rnn.ts';
import { LOSS_AT, RNN_DEFAULTS, RNN_INITS, RNN_MAX_SEQ_LEN, RNN_TASKS, describeRnnMemory, lossTask, rnnMemoryPlan, taskLoss, validateRnnConfig, type RnnConfig, type RnnTask } from '../models/rnn.ts';
import type { RnnRunReport } from '../scheduler/rnn-run.ts';
import { describeGradNorm } from '../report/run-report.ts';
import { UsageError, intFlag, numberFlag, oneOf, parse } from './flags.ts';
import { formatTable } from './io.ts';
import { STRESS_OPTIONS, stressCommandFields, verdictLines } from './stress.ts';

/** The flags --model rnn adds to the MLP's STRESS_OPTIONS (src/cli/stress.ts). */
export const RNN_STRESS_OPTIONS = {
  task: { type: 'string' },
  'loss-at': { type: 'string' },
  bptt: { type: 'string' },
  'rnn-variant': { type: 'string' },
} as const;

/**
 * Every flag of `gradstorm stress --model rnn` (the MLP's flags and the RNN's).
 * Spelled out here rather than spread from stress.ts so that stress.ts can
 * import this module without an import cycle.
 */
export const RNN_STRESS_ALL_OPTIONS = {
  ...STRESS_OPTIONS,
  ...RNN_STRESS_OPTIONS,
} as const;

/** Flag values as node:util parseArgs returns them (strings; `quiet`/`help` booleans are ignored here). */
export type RnnFlagValues = Partial<Record<keyof typeof RNN_STRESS_ALL_OPTIONS, string | boolean | undefined>>;

/** --seq-len and --width when not given (the RNN's and the LSTM's). */
export const SEQ_LEN_DEFAULT = 100;
export const WIDTH_DEFAULT = 128;

function str(values: RnnFlagValues, name: keyof typeof RNN_STRESS_ALL_OPTIONS): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

/**
 * The RNN config from stress flags, every flag checked before the GPU is
 * touched; errors are UsageErrors naming the flag.
 */
export function rnnConfigFromFlags(values: RnnFlagValues, overrides: Partial<RnnConfig> = {}): RnnConfig {
  const model = oneOf('model', str(values, 'model'), ['mlp', 'rnn', 'lstm'] as const, 'mlp');
  if (model !== 'rnn') throw new UsageError(`--model ${model}: rnnConfigFromFlags is for --model rnn`);
  if (str(values, 'depth') !== undefined) throw new UsageError('--depth applies to --model mlp; an RNN\'s depth in time is --seq-len');
  if (str(values, 'residual') !== undefined) throw new UsageError('--residual applies to --model mlp (residual blocks between hidden layers)');
  if (str(values, 'norm') !== undefined || str(values, 'norm-place') !== undefined) throw new UsageError('--norm and --norm-place apply to --model mlp (LayerNorm in residual blocks)');
  const seqLen = str(values, 'seq-len') === undefined ? SEQ_LEN_DEFAULT : intFlag('seq-len', str(values, 'seq-len')!, 1, RNN_MAX_SEQ_LEN);
  const width = str(values, 'width') === undefined ? WIDTH_DEFAULT : intFlag('width', str(values, 'width')!, 1, 65536);

  const task = taskFromFlags(values);
  const adding = task === 'adding';

  const init = str(values, 'init');
  if (init !== undefined && !(RNN_INITS as readonly string[]).includes(init)) {
    throw new UsageError(`--init ${init}: for --model rnn choose from ${RNN_INITS.join(', ')} (the init of W_hh; W_xh and W_hy are N(0, 1/fan_in))`);
  }
  const bpttText = str(values, 'bptt');
  let bptt: number | 'full' = RNN_DEFAULTS.bptt;
  if (bpttText !== undefined && bpttText !== 'full') {
    bptt = intFlag('bptt', bpttText, 1, RNN_MAX_SEQ_LEN);
    if (bptt > seqLen) throw new UsageError(`--bptt ${bptt}: truncation longer than --seq-len ${seqLen}; use --bptt ${seqLen} or --bptt full`);
  }

  const config: RnnConfig = {
    ...RNN_DEFAULTS,
    seqLen,
    width,
    input: str(values, 'input') === undefined ? (adding ? 2 : width) : intFlag('input', str(values, 'input')!, 1, 65536),
    output: str(values, 'output') === undefined ? (adding ? 1 : width) : intFlag('output', str(values, 'output')!, 1, 65536),
    batch: str(values, 'batch') === undefined ? RNN_DEFAULTS.batch : intFlag('batch', str(values, 'batch')!, 1, 65536),
    activation: oneOf('activation', str(values, 'activation'), ACTIVATIONS, RNN_DEFAULTS.activation),
    init: oneOf('init', init, RNN_INITS, RNN_DEFAULTS.init),
    gain: str(values, 'gain') === undefined ? RNN_DEFAULTS.gain : numberFlag('gain', str(values, 'gain')!, 1e-6, 1e6),
    biasStd: str(values, 'bias-std') === undefined ? RNN_DEFAULTS.biasStd : numberFlag('bias-std', str(values, 'bias-std')!, 0, 1e6),
    task,
    loss: taskLoss(task),
    lossAt: oneOf('loss-at', str(values, 'loss-at'), LOSS_AT, RNN_DEFAULTS.lossAt),
    bptt,
    ...trainingFromFlags(values, RNN_DEFAULTS),
    ...overrides,
  };
  try {
    return validateRnnConfig(config);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
}

/** The fields a recurrent model's training shares: --steps, --lr, --optimizer, --clip, --seed (defaults from the model's). */
export function trainingFromFlags(values: RnnFlagValues, defaults: Pick<RnnConfig, 'steps' | 'lr' | 'optimizer' | 'clip' | 'seed'>): Pick<RnnConfig, 'steps' | 'lr' | 'optimizer' | 'clip' | 'seed'> {
  return {
    steps: str(values, 'steps') === undefined ? defaults.steps : intFlag('steps', str(values, 'steps')!, 1, 1_000_000),
    lr: str(values, 'lr') === undefined ? defaults.lr : numberFlag('lr', str(values, 'lr')!, 0, 1e6),
    optimizer: oneOf('optimizer', str(values, 'optimizer'), OPTIMIZERS, defaults.optimizer),
    clip: str(values, 'clip') === undefined ? defaults.clip : parseClip(str(values, 'clip')!),
    seed: str(values, 'seed') === undefined ? defaults.seed : intFlag('seed', str(values, 'seed')!, 0, Number.MAX_SAFE_INTEGER),
  };
}

/** The task from --task and --loss (one scheme: the task decides the loss; --loss mse means the adding problem). */
export function taskFromFlags(values: { task?: string | boolean; loss?: string | boolean }): RnnTask {
  const text = (v: string | boolean | undefined) => (typeof v === 'string' ? v : undefined);
  const taskFlag = text(values.task) === undefined ? undefined : oneOf('task', text(values.task), RNN_TASKS, 'probe');
  const lossFlag = text(values.loss) === undefined ? undefined : oneOf('loss', text(values.loss), ['probe', 'mse'] as const, 'probe');
  if (taskFlag && lossFlag && taskLoss(taskFlag) !== lossFlag) {
    throw new UsageError(`--loss ${lossFlag} contradicts --task ${taskFlag}: the ${taskFlag} task trains with --loss ${taskLoss(taskFlag)} (--loss mse means the adding problem)`);
  }
  return taskFlag ?? (lossFlag ? lossTask(lossFlag) : RNN_DEFAULTS.task);
}

/**
 * The value of the last --model in stress arguments (either spelling:
 * `--model X`, `--model=X`), undefined without one. The last one counts, as
 * the flag parser takes it, so the command runs the model its config is for.
 */
export function stressModelArg(args: readonly string[]): string | undefined {
  let model: string | undefined;
  args.forEach((a, i) => {
    if (a.startsWith('--model=')) model = a.slice('--model='.length);
    else if (a === '--model') model = args[i + 1];
  });
  return model;
}

/** True when the stress arguments ask for --model rnn (the last --model, either spelling). */
export function isRnnStress(args: readonly string[]): boolean {
  return stressModelArg(args) === 'rnn';
}

export interface RnnStressCommand {
  config: RnnConfig;
  json?: string;
  dump?: string;
  /** --rnn-variant step|persistent (default: defaultRnnVariant). */
  variant?: RnnVariant;
  matmulVariant?: MatmulVariant;
  retune: boolean;
  quiet: boolean;
  adapter?: string;
  help: boolean;
}

/** The whole `gradstorm stress --model rnn …` command line. */
export function parseRnnStress(args: string[]): RnnStressCommand {
  const { values } = parse(args, RNN_STRESS_ALL_OPTIONS);
  const config = rnnConfigFromFlags(values);
  return {
    config,
    ...stressCommandFields(values),
    variant: values['rnn-variant'] === undefined ? undefined : oneOf('rnn-variant', values['rnn-variant'], RNN_VARIANTS, 'step'),
  };
}

export function describeRnnStressPlan(config: RnnConfig): string {
  const bptt = config.bptt === 'full' ? 'full BPTT' : `BPTT truncated to ${config.bptt} steps`;
  return (
    `RNN T ${config.seqLen}, width ${config.width}, batch ${config.batch}, ${config.activation}, W_hh ${config.init} gain ${config.gain}, ` +
    `task ${config.task} (loss ${config.loss} at ${config.lossAt === 'all' ? 'every step' : 'the last step'}), ${bptt}: ${describeRnnMemory(rnnMemoryPlan(config))}`
  );
}

/** A number for the summary tables: 4 significant digits, exponent form outside 1e-4..1e4. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  return Math.abs(Math.log10(Math.abs(x))) < 4 ? x.toPrecision(4) : x.toExponential(3);
}

/** Timesteps to show: all of a short sequence, else both ends and evenly spaced ones between. */
export function timestepsToShow(T: number, rows = 24): number[] {
  if (T <= rows) return Array.from({ length: T }, (_, i) => T - i);
  const picks = new Set<number>([T, T - 1, T - 2, 3, 2, 1]);
  for (let i = 0; i < rows - 6; i++) picks.add(Math.round(T - 2 - ((i + 1) * (T - 4)) / (rows - 5)));
  return [...picks].filter((t) => t >= 1 && t <= T).sort((a, b) => b - a);
}

/** The table at the end of a run: ‖∂L/∂h_t‖ from t = T down, beside the exact prediction when there is one. */
export function formatRnnStressSummary(report: RnnRunReport): string {
  const first = report.steps[0];
  const T = report.config.seqLen;
  const v = report.verdict;
  const anchor = first.timesteps[T - 1]?.hiddenGradNorm;
  const rate = v.predictedGrowthPerStep;
  const rows = timestepsToShow(T).map((t) => {
    const s = first.timesteps[t - 1];
    const predicted = rate == null || anchor === undefined ? '—' : fmt(anchor * 10 ** (rate * (T - t)));
    return [String(t), fmt(s.hiddenGradNorm), predicted, fmt(s.hiddenNorm)];
  });
  const last = report.steps[report.steps.length - 1];
  const lines = [
    `step 1 of ${report.steps.length}: per-timestep gradients (‖∂L/∂h_t‖; predicted = ‖∂L/∂h_T‖·10^(rate·(T−t)))`,
    formatTable(['t', '‖∂L/∂h_t‖', 'predicted', '‖h_t‖'], rows),
    '',
    `verdict: ${v.status.toUpperCase()} — ${v.reason} (fitted over t = ${v.fittedTimesteps[0]}..${v.fittedTimesteps[1]})`,
    ...verdictLines(v),
    `growth per step: measured ${v.growthPerStep == null ? '—' : v.growthPerStep.toFixed(6)} decades, predicted ${rate == null ? '—' : rate.toFixed(6)}`,
    `theory: ${v.predictionNote}`,
    `loss ${fmt(first.loss)} → ${fmt(last.loss)}; ‖g‖ ${describeGradNorm(first, fmt)} → ${describeGradNorm(last, fmt)}; clip scale (last step) ${fmt(last.clipScale)}` +
      (v.firstNonfiniteStep ? `; first non-finite at step ${v.firstNonfiniteStep}` : ''),
    `recurrence kernels: ${report.variant}`,
  ];
  if (report.timing) lines.push(`median step time ${report.timing.medianStepMs.toFixed(2)} ms`);
  if (report.interruption) lines.push(`INTERRUPTED: ${report.interruption.message} (a partial report of ${report.interruption.stepReached} of ${report.config.steps} steps)`);
  return lines.join('\n');
}
