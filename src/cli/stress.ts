/**
 * `gradstorm stress`: one MLP, K steps, a report. Flags as DESIGN.md spells
 * them; every one validated before the GPU is touched.
 */
import { ConfigError, INITS, LOSSES, MLP_DEFAULTS, NORMS, NORM_PLACES, OPTIMIZERS, parseClip, parseResidual, validateMlpConfig, type MlpConfig } from '../models/config.ts';
import { ACTIVATIONS } from '../kernels/elementwise.ts';
import { matmulVariantNames, type MatmulVariant } from '../kernels/matmul.ts';
import { UsageError, intFlag, numberFlag, oneOf, parse } from './flags.ts';
import { describeMemory, memoryPlan } from '../models/mlp.ts';
import { describeGradNorm, type RunReport } from '../report/run-report.ts';
import { trainingStatusText, type Verdict } from '../analysis/index.ts';
import { runStress } from '../scheduler/run.ts';

export { runStress };
import { formatTable } from './io.ts';

export const STRESS_OPTIONS = {
  model: { type: 'string' },
  depth: { type: 'string' },
  'seq-len': { type: 'string' },
  width: { type: 'string' },
  input: { type: 'string' },
  output: { type: 'string' },
  batch: { type: 'string' },
  activation: { type: 'string' },
  init: { type: 'string' },
  gain: { type: 'string' },
  'bias-std': { type: 'string' },
  residual: { type: 'string' },
  norm: { type: 'string' },
  'norm-place': { type: 'string' },
  loss: { type: 'string' },
  steps: { type: 'string' },
  lr: { type: 'string' },
  optimizer: { type: 'string' },
  clip: { type: 'string' },
  seed: { type: 'string' },
  json: { type: 'string' },
  dump: { type: 'string' },
  variant: { type: 'string' },
  retune: { type: 'boolean' },
  quiet: { type: 'boolean' },
} as const;

export interface StressCommand {
  config: MlpConfig;
  json?: string;
  dump?: string;
  /** --variant: one matmul variant everywhere, no autotuning. */
  matmulVariant?: MatmulVariant;
  /** --retune: measure this model's matmul shape classes again. */
  retune: boolean;
  quiet: boolean;
  adapter?: string;
  help: boolean;
}

type StressValues = ReturnType<typeof parse<typeof STRESS_OPTIONS>>['values'];

/** The MLP config from flags (shared by stress and sweep, which override depth/gain/activation). */
export function mlpConfigFromFlags(values: Partial<StressValues>, overrides: Partial<MlpConfig> = {}): MlpConfig {
  const model = oneOf('model', values.model, ['mlp', 'rnn', 'lstm'] as const, 'mlp');
  if (model === 'rnn') throw new UsageError('--model rnn: sweep runs MLPs (over depth and gain) and LSTMs (--model lstm); an RNN runs with gradstorm stress --model rnn');
  if (model === 'lstm') {
    throw new UsageError('--model lstm: an LSTM runs with gradstorm stress --model lstm, and sweeps with gradstorm sweep --model lstm (--seq-lens, --forget-biases, --gains)');
  }
  if (values['seq-len'] !== undefined) throw new UsageError('--seq-len applies to --model rnn and --model lstm; use --depth for an MLP');
  const width = values.width === undefined ? 256 : intFlag('width', values.width, 1, 65536);
  const config: MlpConfig = {
    ...MLP_DEFAULTS,
    depth: values.depth === undefined ? 50 : intFlag('depth', values.depth, 1, 100_000),
    width,
    input: values.input === undefined ? width : intFlag('input', values.input, 1, 65536),
    output: values.output === undefined ? width : intFlag('output', values.output, 1, 65536),
    batch: values.batch === undefined ? MLP_DEFAULTS.batch : intFlag('batch', values.batch, 1, 65536),
    activation: oneOf('activation', values.activation, ACTIVATIONS, MLP_DEFAULTS.activation),
    init: oneOf('init', values.init, INITS, MLP_DEFAULTS.init),
    gain: values.gain === undefined ? MLP_DEFAULTS.gain : numberFlag('gain', values.gain, 1e-6, 1e6),
    biasStd: values['bias-std'] === undefined ? MLP_DEFAULTS.biasStd : numberFlag('bias-std', values['bias-std'], 0, 1e6),
    loss: oneOf('loss', values.loss, LOSSES, MLP_DEFAULTS.loss),
    steps: values.steps === undefined ? MLP_DEFAULTS.steps : intFlag('steps', values.steps, 1, 1_000_000),
    lr: values.lr === undefined ? MLP_DEFAULTS.lr : numberFlag('lr', values.lr, 0, 1e6),
    optimizer: oneOf('optimizer', values.optimizer, OPTIMIZERS, MLP_DEFAULTS.optimizer),
    clip: values.clip === undefined ? MLP_DEFAULTS.clip : parseClip(values.clip),
    seed: values.seed === undefined ? MLP_DEFAULTS.seed : intFlag('seed', values.seed, 0, Number.MAX_SAFE_INTEGER),
    ...overrides,
  };
  // --residual is resolved against the final depth (a sweep's depth override included).
  if (values.residual !== undefined) {
    try {
      config.residual = parseResidual(values.residual, config.depth);
    } catch (error) {
      if (error instanceof ConfigError) throw new UsageError(error.message);
      throw error;
    }
  }
  // --norm layer (absent from the config unless given, as --residual); --norm-place only with it (validateMlpConfig says so).
  if (values.norm !== undefined) {
    const norm = oneOf('norm', values.norm, NORMS, 'none');
    if (norm === 'layer') config.norm = 'layer';
  }
  if (values['norm-place'] !== undefined) config.normPlace = oneOf('norm-place', values['norm-place'], NORM_PLACES, 'pre');
  if (config.norm === 'layer' && config.normPlace === undefined) config.normPlace = 'pre';
  try {
    return validateMlpConfig(config);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
}

/** --retune, refused together with --variant (which turns the autotuner off). */
export function retuneFlag(values: { retune?: boolean | string; variant?: boolean | string }): boolean {
  if (values.retune && values.variant !== undefined) throw new UsageError('--retune measures the matmul variants again, --variant fixes one: give one of them');
  return values.retune === true;
}

export function parseStress(args: string[]): StressCommand {
  const { values } = parse(args, STRESS_OPTIONS);
  let config: MlpConfig;
  try {
    config = mlpConfigFromFlags(values);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
  return { config, ...stressCommandFields(values) };
}

/** The fields of a stress command besides its config (every model's): outputs, matmul variant, tuning, quiet, adapter, help. */
export function stressCommandFields(values: {
  json?: string;
  dump?: string;
  variant?: string;
  retune?: boolean;
  quiet?: boolean;
  adapter?: string;
  help?: boolean;
}): Omit<StressCommand, 'config'> {
  return {
    json: values.json,
    dump: values.dump,
    matmulVariant: values.variant === undefined ? undefined : oneOf('variant', values.variant, matmulVariantNames(), 'register'),
    retune: retuneFlag(values),
    quiet: values.quiet ?? false,
    adapter: values.adapter,
    help: values.help ?? false,
  };
}

// ---------------------------------------------------------------------------
// Running it

function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  return Math.abs(Math.log10(Math.abs(x))) < 4 ? x.toPrecision(4) : x.toExponential(3);
}

/** Layers to show: all of a shallow net, else the ends and evenly spaced ones between. */
function layersToShow(depth: number, rows = 24): number[] {
  if (depth <= rows) return Array.from({ length: depth }, (_, i) => depth - i);
  const picks = new Set<number>([depth, depth - 1, depth - 2, 3, 2, 1]);
  for (let i = 0; i < rows - 6; i++) picks.add(Math.round(depth - 2 - ((i + 1) * (depth - 4)) / (rows - 5)));
  return [...picks].filter((l) => l >= 1 && l <= depth).sort((a, b) => b - a);
}

/** The table at the end of a run: measured beside predicted, from the output down. */
export function formatStressSummary(report: RunReport): string {
  const first = report.steps[0];
  const L = report.config.depth;
  const anchor = first.layers[L - 2]?.deltaNorm;
  const predicted = (l: number) => {
    const p = report.prediction[l - 1];
    return p && anchor !== undefined ? anchor * 10 ** p.log10DeltaRelative : NaN;
  };
  const rows = layersToShow(L).map((l) => {
    const layer = first.layers[l - 1];
    // No theory line (an empty prediction): '—', never NaN.
    return [String(l), fmt(layer.deltaNorm), l < L && report.prediction.length > 0 ? fmt(predicted(l)) : '—', fmt(layer.weightGradNorm), fmt(layer.activationNorm)];
  });
  const v = report.verdict;
  const lastStep = report.steps[report.steps.length - 1];
  const lines = [
    `step 1 of ${report.steps.length}: per-layer gradients (δ = ∂L/∂z; predicted from the theory${report.verdict.predictedGrowthPerLayerFiniteWidth != null ? ' (mean field + finite width)' : ''}, anchored at layer ${Math.max(1, L - 1)})`,
    formatTable(['layer', '‖δ‖', 'predicted ‖δ‖', '‖∂L/∂W‖', '‖h‖'], rows),
    '',
    `verdict: ${v.status.toUpperCase()} — ${v.reason}`,
    ...verdictLines(v),
    `growth per layer: measured ${v.growthPerLayer == null ? '—' : v.growthPerLayer.toFixed(4)} decades, predicted ${v.predictedGrowthPerLayer == null ? '—' : v.predictedGrowthPerLayer.toFixed(4)} (${v.predictionMethod})` +
      (v.predictedGrowthPerLayerFiniteWidth != null ? `, ${v.predictedGrowthPerLayerFiniteWidth.toFixed(4)} at width ${report.config.width} (finite width)` : '') +
      (v.agreement
        ? ` — ${v.agreement.agrees ? 'agrees with' : 'DISAGREES with'} the theory (allowed: predicted ${v.agreement.tolerance.bias >= 0 ? '+' : '−'} ${Math.abs(v.agreement.tolerance.bias).toFixed(4)} ± ${v.agreement.tolerance.halfWidth.toFixed(4)})`
        : ''),
    ...(v.profile
      ? [
          `theory vs measured (${v.predictionMethod}): log10 ‖δ1‖/‖δ${L - 1}‖ measured ${signed(v.profile.measuredLog10Ratio)}, predicted ${signed(v.profile.predictedLog10Ratio)}; ` +
            `log10 ‖δ${L - 1}‖/‖δ${L}‖ (near the output) measured ${signed(v.profile.measuredLog10OutputRatio)}, predicted ${signed(v.profile.predictedLog10OutputRatio)}; largest per-layer gap ${v.profile.maxGapDecades.toFixed(3)} decade`,
        ]
      : []),
    `loss ${fmt(first.loss)} → ${fmt(lastStep.loss)}; ‖g‖ ${describeGradNorm(first, fmt)} → ${describeGradNorm(lastStep, fmt)}; clip scale (last step) ${fmt(lastStep.clipScale)}` +
      (v.firstNonfiniteStep ? `; first non-finite at step ${v.firstNonfiniteStep}` : ''),
  ];
  if (report.timing) lines.push(`median step time ${report.timing.medianStepMs.toFixed(2)} ms`);
  if (report.interruption) lines.push(`INTERRUPTED: ${report.interruption.message} (a partial report of ${report.interruption.stepReached} of ${report.config.steps} steps)`);
  return lines.join('\n');
}

const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(3)}`;

/** The two verdicts, one line each: the gradient at initialization, then what training did with it. */
export function verdictLines(v: Pick<Verdict, 'init' | 'training'>): string[] {
  if (!v.init || !v.training) return [];
  return [`gradient at init: ${v.init.summary}`, `training: ${trainingStatusText(v.training.status)} — ${v.training.summary}`];
}

export function describeStressPlan(config: MlpConfig): string {
  const init = config.init === 'he' ? 'he (gain √2)' : `${config.init} gain ${config.gain}`;
  const residual = (config.residual ?? 0) > 0 ? `, residual blocks 2..${config.depth - 1} with A = ${Number(config.residual!.toPrecision(4))}${config.norm === 'layer' ? ` and ${config.normPlace ?? 'pre'}-LayerNorm` : ''}` : '';
  return `MLP depth ${config.depth}, width ${config.width}, batch ${config.batch}, ${config.activation}, ${init}${residual}: ${describeMemory(memoryPlan(config))}`;
}

/**
 * The probe loss L = Σ g⊙y is linear in the output and unbounded below: it
 * measures gradients (a vector–Jacobian product), but training on it drives
 * the loss to −∞ and then NaN by construction. Said once, on stderr, when a
 * command trains on it for more than one step; null otherwise.
 */
export function probeTrainingNote(config: { loss: string; steps: number }, instead = '--loss mse'): string | null {
  if (config.loss !== 'probe' || config.steps <= 1) return null;
  return (
    `gradstorm: note: --loss probe (the default) is linear (L = Σ g⊙y) and unbounded below, so training on it for ${config.steps} steps ` +
    `diverges by construction: the loss falls without limit and then turns NaN. That is expected, not a fault; ` +
    `it measures gradients at initialization. For training that can converge use ${instead}.`
  );
}
