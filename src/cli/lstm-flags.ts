/**
 * `gradstorm stress --model lstm`: flags → LstmConfig, the console summary.
 * The RNN's flags where they make sense (--seq-len, --width, --input,
 * --output, --batch, --task/--loss, --gain for W_hh, --steps, --lr,
 * --optimizer, --clip, --seed, --json, --dump, --variant, --retune), plus
 * --forget-bias; the flags that do not apply are refused by name (exit 2).
 */
import { ConfigError } from '../models/config.ts';
import { LSTM_DEFAULTS, lstmMemoryPlan, validateLstmConfig, type LstmConfig } from '../models/lstm.ts';
import { RNN_MAX_SEQ_LEN, describeRnnMemory } from '../models/rnn.ts';
import type { LstmRunReport } from '../scheduler/lstm-run.ts';
import { describeGradNorm } from '../report/run-report.ts';
import { UsageError, intFlag, numberFlag, oneOf, parse } from './flags.ts';
import { formatTable } from './io.ts';
import { RNN_STRESS_ALL_OPTIONS, SEQ_LEN_DEFAULT, WIDTH_DEFAULT, fmt, stressModelArg, taskFromFlags, timestepsToShow, trainingFromFlags, type RnnFlagValues } from './rnn-flags.ts';
import { stressCommandFields, verdictLines, type StressCommand } from './stress.ts';

/** Every flag `gradstorm stress --model lstm` parses (the RNN's and --forget-bias; inapplicable ones are refused after parsing). */
export const LSTM_STRESS_ALL_OPTIONS = {
  ...RNN_STRESS_ALL_OPTIONS,
  'forget-bias': { type: 'string' },
} as const;

/** Flags of the MLP and the RNN that have no meaning for the LSTM, and why. */
const NOT_FOR_LSTM: Partial<Record<keyof typeof LSTM_STRESS_ALL_OPTIONS, string>> = {
  depth: "an LSTM's depth in time is --seq-len",
  residual: 'residual blocks are an MLP option (--model mlp)',
  norm: 'LayerNorm is an MLP option (--model mlp)',
  'norm-place': 'LayerNorm is an MLP option (--model mlp)',
  activation: 'the LSTM\'s nonlinearities are fixed (σ for i, f, o; tanh for g and the cell)',
  init: 'W_ih, W_hh, W_hy are gaussian (N(0, 1/in), N(0, gain²/H), N(0, 1/H)); scale W_hh with --gain',
  'bias-std': 'the biases start at 0 except the forget gate\'s (--forget-bias)',
  'loss-at': 'the LSTM has its loss at the last step',
  bptt: 'the LSTM runs full BPTT',
  'rnn-variant': 'the LSTM\'s recurrence has one kernel variant (one dispatch per step)',
};

type LstmFlagValues = Partial<Record<keyof typeof LSTM_STRESS_ALL_OPTIONS, string | boolean | undefined>>;

function str(values: LstmFlagValues, name: keyof typeof LSTM_STRESS_ALL_OPTIONS): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

/** The LSTM config from stress flags, every flag checked before the GPU is touched; errors are UsageErrors naming the flag. */
export function lstmConfigFromFlags(values: LstmFlagValues, overrides: Partial<LstmConfig> = {}): LstmConfig {
  const model = oneOf('model', str(values, 'model'), ['mlp', 'rnn', 'lstm'] as const, 'mlp');
  if (model !== 'lstm') throw new UsageError(`--model ${model}: lstmConfigFromFlags is for --model lstm`);
  for (const [flag, why] of Object.entries(NOT_FOR_LSTM)) {
    if (values[flag as keyof LstmFlagValues] !== undefined) throw new UsageError(`--${flag} does not apply to --model lstm: ${why}`);
  }
  const seqLen = str(values, 'seq-len') === undefined ? SEQ_LEN_DEFAULT : intFlag('seq-len', str(values, 'seq-len')!, 1, RNN_MAX_SEQ_LEN);
  const width = str(values, 'width') === undefined ? WIDTH_DEFAULT : intFlag('width', str(values, 'width')!, 1, 16_384);
  const task = taskFromFlags(values);
  const adding = task === 'adding';
  const config: LstmConfig = {
    ...LSTM_DEFAULTS,
    seqLen,
    width,
    input: str(values, 'input') === undefined ? (adding ? 2 : width) : intFlag('input', str(values, 'input')!, 1, 65536),
    output: str(values, 'output') === undefined ? (adding ? 1 : width) : intFlag('output', str(values, 'output')!, 1, 65536),
    batch: str(values, 'batch') === undefined ? LSTM_DEFAULTS.batch : intFlag('batch', str(values, 'batch')!, 1, 65536),
    gain: str(values, 'gain') === undefined ? LSTM_DEFAULTS.gain : numberFlag('gain', str(values, 'gain')!, 0, 1e6),
    forgetBias: str(values, 'forget-bias') === undefined ? LSTM_DEFAULTS.forgetBias : numberFlag('forget-bias', str(values, 'forget-bias')!, -100, 100),
    task,
    loss: adding ? 'mse' : 'probe',
    ...trainingFromFlags(values as RnnFlagValues, LSTM_DEFAULTS),
    ...overrides,
  };
  try {
    return validateLstmConfig(config);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
}

/** True when the stress arguments ask for --model lstm (the last --model, either spelling). */
export function isLstmStress(args: readonly string[]): boolean {
  return stressModelArg(args) === 'lstm';
}

/** Refuses, by name, the LSTM's own flags given to another model (the MLP's and the RNN's parsers would call them unknown). */
export function refuseLstmFlagsElsewhere(args: readonly string[]): void {
  if (isLstmStress(args)) return;
  const given = args.find((a) => a === '--forget-bias' || a.startsWith('--forget-bias='));
  if (given) throw new UsageError(`--forget-bias applies to --model lstm (the forget gate's bias); this run is --model ${stressModelArg(args) ?? 'mlp'}`);
}

/** The parsed `gradstorm stress --model lstm` command: the config and the fields every stress command has. */
export type LstmStressCommand = Omit<StressCommand, 'config'> & { config: LstmConfig };

/** The whole `gradstorm stress --model lstm …` command line. */
export function parseLstmStress(args: string[]): LstmStressCommand {
  const { values } = parse(args, LSTM_STRESS_ALL_OPTIONS);
  return { config: lstmConfigFromFlags(values), ...stressCommandFields(values) };
}

export function describeLstmStressPlan(config: LstmConfig): string {
  return (
    `LSTM T ${config.seqLen}, width ${config.width}, batch ${config.batch}, W_hh gain ${Number(config.gain.toPrecision(4))}, forget bias ${config.forgetBias}, ` +
    `task ${config.task} (loss ${config.loss} at the last step), full BPTT: ${describeRnnMemory(lstmMemoryPlan(config))}`
  );
}

/** The table at the end of a run: ‖∂L/∂h_t‖, ‖∂L/∂c_t‖, the cell path's share and the forget gates from t = T down, then the theory line. */
export function formatLstmStressSummary(report: LstmRunReport): string {
  const first = report.steps[0];
  const T = report.config.seqLen;
  const v = report.verdict;
  const th = v.cellTheory;
  const rows = timestepsToShow(T).map((t) => {
    const s = first.timesteps[t - 1];
    return [String(t), fmt(s.hiddenGradNorm), fmt(s.cellGradNorm), fmt(s.cellPathGradNorm), s.forgetRms.toFixed(4), s.forgetMax.toFixed(4), fmt(s.hiddenNorm)];
  });
  const last = report.steps[report.steps.length - 1];
  const rate = (x: number | null) => (x === null ? '—' : x.toFixed(6));
  const lines = [
    `step 1 of ${report.steps.length}: per-timestep gradients (‖f⊙∂c‖ = the cell path's share of ‖∂L/∂c_{t−1}‖; f = forget gate over batch × units)`,
    formatTable(['t', '‖∂L/∂h_t‖', '‖∂L/∂c_t‖', '‖f⊙∂c‖', 'rms f', 'max f', '‖h_t‖'], rows),
    '',
    `verdict: ${v.status.toUpperCase()} — ${v.reason} (‖∂L/∂c_t‖ fitted over t = ${v.fittedTimesteps[0]}..${v.fittedTimesteps[1]})`,
    ...verdictLines(v),
    `cell gradient per step: measured ${rate(th.measuredGrowthPerStep)} decades, predicted from the forget gates ${rate(th.predictedGrowthPerStep)}, log10 rms f ${rate(th.forgetRmsGrowthPerStep)}`,
    `theory: ${v.predictionNote}`,
    `loss ${fmt(first.loss)} → ${fmt(last.loss)}; ‖g‖ ${describeGradNorm(first, fmt)} → ${describeGradNorm(last, fmt)}; clip scale (last step) ${fmt(last.clipScale)}` +
      (v.firstNonfiniteStep ? `; first non-finite at step ${v.firstNonfiniteStep}` : ''),
  ];
  if (report.timing) lines.push(`median step time ${report.timing.medianStepMs.toFixed(2)} ms`);
  if (report.interruption) lines.push(`INTERRUPTED: ${report.interruption.message} (a partial report of ${report.interruption.stepReached} of ${report.config.steps} steps)`);
  return lines.join('\n');
}
