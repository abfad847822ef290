import { ACTIVATIONS, type Activation } from '../kernels/elementwise.ts';
import { LOSS_KINDS, type LossKind } from '../kernels/loss.ts';
import { OPTIMIZER_KINDS, type ClipConfig, type OptimizerKind } from '../kernels/optim.ts';

export type { ClipConfig, LossKind, OptimizerKind };

/**
 * The configuration of a stress run, as the CLI flags, the demo controls and
 * the run report's `config` spell it. `validateMlpConfig` is the one place
 * ranges are checked; its messages name the flag to change.
 */
export const INITS = ['gaussian', 'xavier', 'he', 'orthogonal'] as const;
export type InitScheme = (typeof INITS)[number];
export const LOSSES = LOSS_KINDS;
export const OPTIMIZERS = OPTIMIZER_KINDS;

/** An MLP stress run: the network (layers 1..L−1 are `h = φ(h Wᵀ + b)`, layer L a linear readout), its init, the loss, the optimizer and clipping. */
export interface MlpConfig {
  model: 'mlp';
  /** Weight layers L, the linear readout included (layers 1..L−1 are hidden). */
  depth: number;
  /** Hidden width n. */
  width: number;
  /** Input features (default: width). */
  input: number;
  /** Output features (default: width). */
  output: number;
  batch: number;
  activation: Activation;
  init: InitScheme;
  /** Weight scale: gaussian std = gain/√fan_in; orthogonal = gain·Q; he ignores it (gain √2); xavier multiplies its std. */
  gain: number;
  biasStd: number;
  loss: LossKind;
  steps: number;
  lr: number;
  optimizer: OptimizerKind;
  clip: ClipConfig;
  seed: number;
  /**
   * Residual branch scale A (`--residual`; absent or 0: the plain MLP,
   * exactly). With A > 0 the hidden layers 2..L−1 are pre-activation
   * residual blocks h_l = h_{l−1} + A·(φ(h_{l−1}) W_lᵀ + b_l); layer 1
   * (input → width, h_1 = φ(x W_1ᵀ + b_1)) and the linear readout L stay as
   * they are.
   */
  residual?: number;
  /**
   * Layer normalization in the residual blocks (`--norm`; absent or 'none':
   * none). 'layer' puts a LayerNorm with its own γ_l (init 1) and β_l (init
   * 0), trained parameters, in each block 2..L−1, where `normPlace` says.
   */
  norm?: NormKind;
  /**
   * `--norm-place` (default 'pre'): 'pre' normalizes the branch input,
   * h_l = h_{l−1} + A·(φ(LN_l(h_{l−1})) W_lᵀ + b_l); 'post' normalizes the
   * sum, h_l = LN_l(h_{l−1} + A·(φ(h_{l−1}) W_lᵀ + b_l)) (the original
   * Transformer's placement). Pre-norm also puts a final LayerNorm LN_L
   * before the readout, y = LN_L(h_{L−1}) W_Lᵀ + b_L, as Pre-LN
   * Transformers do (Xiong et al. 2020). Only with norm 'layer'.
   */
  normPlace?: NormPlace;
}

/** `--norm`: no normalization, or LayerNorm in the residual blocks. */
export const NORMS = ['none', 'layer'] as const;
export type NormKind = (typeof NORMS)[number];
/** `--norm-place`: LayerNorm on the branch input (pre) or on the block's sum (post). */
export const NORM_PLACES = ['pre', 'post'] as const;
export type NormPlace = (typeof NORM_PLACES)[number];

/** Where a config's blocks put a LayerNorm: null without one (no --norm layer, or no residual blocks). */
export function layerNormPlace(c: Pick<MlpConfig, 'norm' | 'normPlace' | 'residual' | 'depth'>): NormPlace | null {
  return c.norm === 'layer' && (c.residual ?? 0) > 0 && c.depth >= 3 ? (c.normPlace ?? 'pre') : null;
}

/** The CLI's defaults for an MLP run (relu, gaussian gain 1, batch 32, probe loss, one SGD step, no clipping, seed 1); give depth, width, input and output. */
export const MLP_DEFAULTS: Omit<MlpConfig, 'depth' | 'width' | 'input' | 'output'> = {
  model: 'mlp',
  batch: 32,
  activation: 'relu',
  init: 'gaussian',
  gain: 1,
  biasStd: 0,
  loss: 'probe',
  steps: 1,
  lr: 0.01,
  optimizer: 'sgd',
  clip: { kind: 'none' },
  seed: 1,
};

/** A config value out of range or inconsistent; the message names the field (as its CLI flag) and what to change. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Validation helpers shared by the model configs: a failed check throws a ConfigError naming the flag. */
export function check(condition: boolean, message: string): void {
  if (!condition) throw new ConfigError(message);
}

export function integerIn(flag: string, value: number, min: number, max: number): void {
  check(Number.isInteger(value) && value >= min && value <= max, `--${flag} ${value}: must be an integer in [${min}, ${max}]`);
}

export function finiteIn(flag: string, value: number, min: number, max: number, exclusiveMin = false): void {
  const above = exclusiveMin ? value > min : value >= min;
  check(Number.isFinite(value) && above && value <= max, `--${flag} ${value}: must be a number in ${exclusiveMin ? '(' : '['}${min}, ${max}]`);
}

/**
 * Checks every field of an MLP config and returns it unchanged.
 *
 * @throws {@link ConfigError} naming the first bad field.
 */
export function validateMlpConfig(c: MlpConfig): MlpConfig {
  integerIn('depth', c.depth, 1, 100_000);
  integerIn('width', c.width, 1, 65_536);
  integerIn('input', c.input, 1, 65_536);
  integerIn('output', c.output, 1, 65_536);
  integerIn('batch', c.batch, 1, 65_536);
  integerIn('steps', c.steps, 1, 1_000_000);
  integerIn('seed', c.seed, 0, Number.MAX_SAFE_INTEGER);
  check(ACTIVATIONS.includes(c.activation), `--activation ${c.activation}: choose from ${ACTIVATIONS.join(', ')}`);
  check(INITS.includes(c.init), `--init ${c.init}: choose from ${INITS.join(', ')}`);
  check(LOSSES.includes(c.loss), `--loss ${c.loss}: choose from ${LOSSES.join(', ')}`);
  check(OPTIMIZERS.includes(c.optimizer), `--optimizer ${c.optimizer}: choose from ${OPTIMIZERS.join(', ')}`);
  finiteIn('gain', c.gain, 0, 1e6, true);
  finiteIn('bias-std', c.biasStd, 0, 1e6);
  finiteIn('lr', c.lr, 0, 1e6);
  // The global-norm kernel computes C/‖g‖ in f32 with exact power-of-two rescaling: C must be a normal f32.
  if (c.clip.kind !== 'none') finiteIn('clip', c.clip.threshold, 1e-30, 3e38);
  if (c.residual !== undefined) finiteIn('residual', c.residual, 0, 1e3);
  if (c.norm !== undefined) check(NORMS.includes(c.norm), `--norm ${c.norm}: choose from ${NORMS.join(', ')}`);
  if (c.normPlace !== undefined) check(NORM_PLACES.includes(c.normPlace), `--norm-place ${c.normPlace}: choose from ${NORM_PLACES.join(', ')}`);
  if (c.norm === 'layer') {
    check((c.residual ?? 0) > 0 && c.depth >= 3, '--norm layer normalizes the residual blocks (layers 2..L−1): give --residual A > 0 and --depth ≥ 3');
  }
  if (c.normPlace !== undefined) check(c.norm === 'layer', '--norm-place says where the LayerNorm goes: give it with --norm layer');
  return c;
}

/** The residual branch scale of a config: 0 for a plain MLP. */
export function residualScale(c: Pick<MlpConfig, 'residual'>): number {
  return c.residual ?? 0;
}

/**
 * Parses `--residual`: a number A ≥ 0, or `C/sqrt(L)` (C a number, `1/sqrt(L)`
 * the usual choice), resolved with L = `depth`, the weight layers.
 */
export function parseResidual(text: string, depth: number): number {
  const perSqrtDepth = residualPerSqrtDepth(text);
  const value = perSqrtDepth !== null ? perSqrtDepth / Math.sqrt(depth) : /^\s*[0-9.eE+-]+\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(value) || value < 0 || value > 1e3) {
    throw new ConfigError(`--residual ${text}: use a number A in [0, 1000] or C/sqrt(L) (e.g. 1/sqrt(L), L = --depth)`);
  }
  return value;
}

/**
 * The C of a `--residual C/sqrt(L)` flag, or null when the flag is a plain
 * number (or malformed: parseResidual says why). A sweep resolves C/√L
 * against each point's depth, not the base depth.
 */
export function residualPerSqrtDepth(text: string): number | null {
  const scaled = /^\s*([0-9.eE+-]+)\s*\/\s*sqrt\(\s*L\s*\)\s*$/.exec(text);
  if (!scaled) return null;
  const c = Number(scaled[1]);
  return Number.isFinite(c) && c >= 0 ? c : null;
}

/** Parses `none`, `norm:C` or `value:C`. */
export function parseClip(text: string): ClipConfig {
  if (text === 'none') return { kind: 'none' };
  const match = /^(norm|value):(.+)$/.exec(text);
  const threshold = match ? Number(match[2]) : NaN;
  if (!match || !Number.isFinite(threshold) || threshold < 1e-30 || threshold > 3e38) {
    throw new ConfigError(`--clip ${text}: use none, norm:C or value:C with a number C in [1e-30, 3e38] (e.g. norm:1)`);
  }
  return { kind: match[1] as 'norm' | 'value', threshold };
}

export function formatClip(clip: ClipConfig): string {
  return clip.kind === 'none' ? 'none' : `${clip.kind}:${clip.threshold}`;
}
