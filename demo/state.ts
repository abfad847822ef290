/**
 * The page's state: the run configuration (as the CLI flags spell it, for an
 * MLP, an RNN or an LSTM), the presets that tell the story, the phase-diagram grid,
 * and their round trip through the URL so that any view can be shared as a link.
 */
import {
  ACTIVATIONS,
  BASELINE_VARIANTS,
  BENCH_KERNELS,
  DEFAULT_BENCH_VARIANTS,
  DEFAULT_MAX_SECONDS,
  DEFAULT_RUNS,
  DEFAULT_SQUARE_SIZES,
  INITS,
  LOSSES,
  LOSS_AT,
  LSTM_DEFAULTS,
  MATMUL_LAYOUTS,
  MLP_DEFAULTS,
  MODEL_SHAPES,
  NORMS,
  NORM_PLACES,
  OPTIMIZERS,
  RNN_DEFAULTS,
  RNN_INITS,
  RNN_TASKS,
  benchVariantNames,
  formatClip,
  parseClip,
  parseMatmulShape,
  taskLoss,
  validateLstmConfig,
  validateMlpConfig,
  validateRnnConfig,
  type BaselineVariant,
  type BenchKernel,
  type MatmulLayout,
  type LstmConfig,
  type MatmulShape,
  type MlpConfig,
  type RnnConfig,
} from './engine.ts';

export type ModelConfig = MlpConfig | RnnConfig | LstmConfig;
/** The models that run through time (their positions are timesteps). */
export type RecurrentConfig = RnnConfig | LstmConfig;
export type ModelKind = ModelConfig['model'];

export type PresetId = 'explode' | 'he' | 'vanish' | 'clip' | 'residual' | 'layernorm' | 'rnn' | 'lstm';

export interface Preset {
  id: PresetId;
  title: string;
  /** One paragraph: what to look at. */
  story: string;
  config: ModelConfig;
  /** The label of the preset's own run beside its baseline. */
  label?: string;
  /**
   * Run this first and show it beside the preset's own run: the same training
   * without clipping (the clipping preset), the same RNN at another gain.
   */
  baseline?: { label: string; config: ModelConfig };
}

/** The page's default: the CLI's defaults, at the depth and width of the first preset. */
export function defaultConfig(): MlpConfig {
  return { ...MLP_DEFAULTS, depth: 200, width: 256, input: 256, output: 256, batch: 32, steps: 1, clip: { kind: 'none' } };
}

/** The page's default RNN: the CLI's defaults (`gradstorm stress --model rnn`: T 100, width 128). */
export function defaultRnnConfig(): RnnConfig {
  return { ...RNN_DEFAULTS, seqLen: 100, width: 128, input: 128, output: 128 };
}

/** The page's default LSTM: the CLI's defaults (`gradstorm stress --model lstm`: forget bias 1) at the RNN's T and width. */
export function defaultLstmConfig(): LstmConfig {
  return { ...LSTM_DEFAULTS, seqLen: 100, width: 128, input: 128, output: 128 };
}

export function defaultFor(model: ModelKind): ModelConfig {
  return model === 'mlp' ? defaultConfig() : model === 'rnn' ? defaultRnnConfig() : defaultLstmConfig();
}

/** An RNN's input and output sizes follow from its task and width (as the CLI's defaults): adding 2 → 1, probe width → width. */
export function withRnnShape<C extends RecurrentConfig>(c: C): C {
  const adding = c.task === 'adding';
  return { ...c, loss: taskLoss(c.task), input: adding ? 2 : c.width, output: adding ? 1 : c.width };
}

/** A config with its derived sizes set: an RNN's or LSTM's input and output follow from the task. */
export function withShape(c: ModelConfig): ModelConfig {
  return c.model === 'mlp' ? c : withRnnShape(c);
}

/**
 * The LSTM preset: the adding problem at T 1000, where the tanh RNN's
 * gradient vanishes (exactly zero far from the end) and the LSTM with forget
 * bias 5 carries its cell gradient across every step (measured with the CLI:
 * `gradstorm stress --model lstm --task adding --seq-len 1000 --forget-bias 5`).
 */
const lstmAdding: LstmConfig = withRnnShape({ ...defaultLstmConfig(), seqLen: 1000, width: 64, batch: 16, task: 'adding', forgetBias: 5, steps: 1, seed: 1 });
const rnnAdding: RnnConfig = withRnnShape({ ...defaultRnnConfig(), seqLen: 1000, width: 64, batch: 16, task: 'adding', steps: 1, seed: 1 });

/**
 * The RNN preset: linear activation, orthogonal W_hh and the probe loss at
 * the last step, where the theory is exact (‖∂L/∂h_t‖ = gain^(T−t)·‖∂L/∂h_T‖).
 */
const rnnGain: RnnConfig = {
  ...defaultRnnConfig(),
  seqLen: 1000,
  width: 128,
  input: 128,
  output: 128,
  batch: 16,
  activation: 'linear',
  init: 'orthogonal',
  gain: 1.05,
  task: 'probe',
  loss: 'probe',
  lossAt: 'last',
  bptt: 'full',
  steps: 1,
  seed: 1,
};

const deep: MlpConfig = { ...defaultConfig(), activation: 'relu', init: 'gaussian', gain: 1.8, loss: 'probe', steps: 1, lr: 0.01, seed: 1 };

/** The LayerNorm preset: the deep net as residual blocks at A = 1 (as in a Transformer) with a LayerNorm in each; pre-norm, the post-norm run beside it. */
const layerNormed: MlpConfig = { ...deep, residual: 1, norm: 'layer', normPlace: 'pre' };

/** The clipping preset: a training run that diverges without clipping. */
const rescued: MlpConfig = {
  ...defaultConfig(),
  depth: 12,
  width: 32,
  input: 32,
  output: 32,
  batch: 16,
  activation: 'relu',
  init: 'gaussian',
  gain: 2.2,
  loss: 'mse',
  optimizer: 'sgd',
  lr: 0.5,
  steps: 20,
  clip: { kind: 'norm', threshold: 1 },
  seed: 1,
};

export const PRESETS: readonly Preset[] = [
  {
    id: 'explode',
    title: 'ReLU, gain 1.8, depth 200: explodes',
    story:
      'Gaussian weights with std 1.8/√n. Each ReLU layer multiplies the backpropagated gradient by about gain/√2 = 1.27, ' +
      'so ‖δ‖ grows by 0.1 decades a layer from the output back to the input: about 20 decades over 200 layers. ' +
      'One step, at initialization: what the theory predicts. (Training it with SGD overflows at the first update; see the clipping preset.)',
    config: deep,
  },
  {
    id: 'he',
    title: 'Same network, He init: stable',
    story:
      'The same 200 layers with He initialization (std √2/√n, gain² / 2 = 1): every layer passes the gradient on at the same size, ' +
      'and ‖δ‖ stays flat from the output to the input, up to the finite-width drift of −5/(2n) per layer in ln χ.',
    config: { ...deep, init: 'he' },
  },
  {
    id: 'vanish',
    title: 'Gain 1.0: vanishes',
    story:
      'Gain 1 looks harmless, but a ReLU zeroes half of its inputs: each layer multiplies ‖δ‖ by 1/√2, ' +
      '0.15 decades a layer, and the gradient at the input side is about 30 decades smaller than at the output.',
    config: { ...deep, gain: 1 },
  },
  {
    id: 'clip',
    title: 'Exploding training rescued by clipping',
    story:
      'A 12-layer ReLU net at gain 2.2 (‖δ‖ grows 2 decades toward the input) trained by SGD with lr 0.5 on a teacher–student regression (mse). ' +
      'Without clipping the first update is 10⁵ times too large and step 2 is non-finite. ' +
      'With clip norm:1 (g ← g·C/‖g‖ when ‖g‖ > C, as PyTorch) every step stays finite and the loss falls from 6·10⁴ to 0.4, the teacher’s variance. ' +
      'Clipping bounds the step; it does not fix the initialization: watch the heatmap, where the hidden ReLUs switch off one after another (δ exactly 0) once the big steps are over.',
    config: rescued,
    label: 'with clip norm:1',
    baseline: { label: 'without clipping', config: { ...rescued, clip: { kind: 'none' } } },
  },
  {
    id: 'residual',
    title: 'Residual connections: A = 1/√L stays bounded',
    story:
      'The exploding network of the first preset (ReLU, gain 1.8, depth 200), with every hidden layer turned into a pre-activation residual block h_l = h_{l−1} + A·(φ(h_{l−1})W_lᵀ + b_l) and A = 1/√L ≈ 0.07. ' +
      'The skip path carries ∂L/∂h back unchanged and each block adds A times a ReLU-masked random matrix: E‖∂L/∂h_{l−1}‖² = (1 + A²·gain²·P(h > 0))·E‖∂L/∂h_l‖², ' +
      'so with Σ A² = 1 the whole depth changes the gradient by a fraction of a decade (Yang & Schoenholz 2017; Hanin & Rolnick 2018), on the theory’s line. ' +
      'Beside it, the plain network (A = 0) explodes by 20 decades.',
    config: { ...deep, residual: 1 / Math.sqrt(deep.depth) },
    label: 'A = 1/√L',
    baseline: { label: 'plain (A = 0)', config: deep },
  },
  {
    id: 'layernorm',
    title: 'Layer normalization: pre vs post',
    story:
      'The same deep ReLU net (gain 1.8) as residual blocks at A = 1, as in a Transformer, with a LayerNorm in every block. ' +
      'Post-norm (the original Transformer: h_l = LN(h_{l−1} + F(h_{l−1}))) renormalizes the stream after every block: each LN divides the gradient by √(1 + A²·gain²/2) and the block’s branch multiplies it back by as much, ' +
      'so ‖δ‖ stays at the size of the readout’s gradient at every depth — large near the output, as Xiong et al. 2020 found (why Post-LN Transformers need a learning-rate warm-up), and wandering from network to network around its flat line. ' +
      'Pre-norm (h_l = h_{l−1} + F(LN(h_{l−1})), a final LN before the readout) lets the stream’s variance grow linearly, v_l ≈ l·A²·gain²/2, and every LN’s Jacobian scales by 1/√v: ' +
      'near the output the gradient is √L times smaller (a decade at depth 200, nearly one at 100), and toward the input it grows as 1/√v_l — polynomially, about a decade over the whole depth, never exponentially. ' +
      'Both runs lie on the LayerNorm mean-field lines (dashed), anchored at layer L−1.',
    config: layerNormed,
    label: 'pre-norm',
    baseline: { label: 'post-norm', config: { ...layerNormed, normPlace: 'post' } },
  },
  {
    id: 'rnn',
    title: 'RNN over 1000 steps: gain 1.05 against 0.95',
    story:
      'Backpropagation through time multiplies the gradient by the recurrent weights once per step: ∂L/∂h_{t−1} = ∂L/∂h_t · W_hh for a linear RNN. ' +
      'With W_hh = gain·Q (Q orthogonal) every step scales ‖∂L/∂h_t‖ by exactly the gain, so over 1000 steps 1.05^999 ≈ 10²¹ and 0.95^999 ≈ 10⁻²². ' +
      'A 5% change in the recurrent weights decides between a first-step gradient 21 decades too large and one 22 decades too small, and both runs sit on the theory’s line, log₁₀(gain) a step. ' +
      'Probe loss at the last step, one step at initialization. With tanh or gaussian W_hh the rate is no longer exact; the page then states Pascanu’s σ_max condition instead.',
    config: rnnGain,
    label: 'gain 1.05',
    baseline: { label: 'gain 0.95', config: { ...rnnGain, gain: 0.95 } },
  },
  {
    id: 'lstm',
    title: 'Adding problem at T = 1000: RNN vs LSTM',
    story:
      'The adding problem (Hochreiter & Schmidhuber 1997): two marked numbers somewhere in 1000 steps, their sum to give at the end, so the gradient must reach back hundreds of steps. ' +
      'The vanilla tanh RNN (W_hh gaussian, gain 1) first: each step back multiplies ∂L/∂h_t by tanh′ and W_hhᵀ, ‖∂L/∂h_t‖ falls about a decade every 10 steps, and float32 holds exactly zero at the first ~600 timesteps (630 at width 32, 591 at width 64). ' +
      'The LSTM with forget bias 5 then: its cell gradient flows back along ∂L/∂c_{t−1} = f_t ⊙ ∂L/∂c_t (plus the hidden path), and σ(5) = 0.993 keeps the forget gates near 1, so ‖∂L/∂c_t‖ (the second line) stays within a decade across all 1000 steps (fitted −0.26 decades at width 32, +0.9 at width 64), as the forget gates predict (−0.004 decades a step, in the verdict); ‖∂L/∂h_t‖ never reaches zero either. ' +
      'At the default forget bias 1 (σ = 0.73) the same LSTM loses about 0.07 decades a step and is exactly zero at the first ~500 timesteps: pick LSTM and forget bias 1 to see it. One step at initialization.',
    config: lstmAdding,
    label: 'LSTM forget bias 5',
    baseline: { label: 'RNN tanh', config: rnnAdding },
  },
];

export function presetById(id: string | null): Preset | undefined {
  return PRESETS.find((p) => p.id === id);
}

// ---------------------------------------------------------------------------
// Sizing for software adapters

/**
 * What a software adapter (SwiftShader: the GPU emulated on the CPU) runs at
 * most, per model. An RNN step runs its T timesteps one after another, each a
 * B×H by H×H product: T 1000 at width 32 and batch 4 takes about a second a
 * step there.
 */
export const SOFTWARE_CAPS = {
  mlp: { depth: 100, width: 128, batch: 16, steps: 40 },
  rnn: { seqLen: 1000, width: 32, batch: 4, steps: 20 },
  /** An LSTM step at T 1000, width 32, batch 4 takes about 3 s there (four gates a timestep). */
  lstm: { seqLen: 1000, width: 32, batch: 4, steps: 5 },
} as const;

/** The caps in words, for the banner and the checkbox. */
export function describeSoftwareCaps(): string {
  const { mlp, rnn, lstm } = SOFTWARE_CAPS;
  return `MLP depth ≤ ${mlp.depth}, width ≤ ${mlp.width}, batch ≤ ${mlp.batch}, steps ≤ ${mlp.steps}; RNN T ≤ ${rnn.seqLen}, width ≤ ${rnn.width}, batch ≤ ${rnn.batch}, steps ≤ ${rnn.steps}; LSTM T ≤ ${lstm.seqLen}, width ≤ ${lstm.width}, batch ≤ ${lstm.batch}, steps ≤ ${lstm.steps}`;
}

export interface Fitted {
  config: ModelConfig;
  /** What was reduced, e.g. ['depth 200 → 100', 'width 256 → 128']; empty when nothing was. */
  reductions: string[];
}

/** The config a software adapter runs: sizes and steps capped (SOFTWARE_CAPS). */
export function fitToSoftware(config: ModelConfig): Fitted {
  const reductions: string[] = [];
  const cap = (name: string, value: number, max: number): number => {
    if (value <= max) return value;
    reductions.push(`${name} ${value} → ${max}`);
    return max;
  };
  if (config.model !== 'mlp') {
    const caps = SOFTWARE_CAPS[config.model];
    const fitted = withRnnShape({
      ...config,
      seqLen: cap('T', config.seqLen, caps.seqLen),
      width: cap('width', config.width, caps.width),
      batch: cap('batch', config.batch, caps.batch),
      steps: cap('steps', config.steps, caps.steps),
    });
    return { config: fitted, reductions };
  }
  const caps = SOFTWARE_CAPS.mlp;
  const width = cap('width', config.width, caps.width);
  const fitted: MlpConfig = {
    ...config,
    depth: cap('depth', config.depth, caps.depth),
    width,
    input: Math.min(config.input, width),
    output: Math.min(config.output, width),
    batch: cap('batch', config.batch, caps.batch),
    steps: cap('steps', config.steps, caps.steps),
  };
  return { config: fitted, reductions };
}

// ---------------------------------------------------------------------------
// Phase diagram grid

export interface PhaseGrid {
  gains: number[];
  depths: number[];
  width: number;
  batch: number;
  /** σ_b: also sets the tanh critical line (σ_b² → σ_w²). */
  biasStd: number;
  seed: number;
}

export function defaultPhaseGrid(software: boolean): PhaseGrid {
  return software
    ? { gains: range(0.6, 2.0, 0.1), depths: [8, 16, 32, 64], width: 64, batch: 8, biasStd: 0.1, seed: 1 }
    : { gains: range(0.5, 2.5, 0.1), depths: [10, 20, 50, 100, 200], width: 256, batch: 32, biasStd: 0.1, seed: 1 };
}

/** a:b:step inclusive, rounded to 6 decimals (0.6:2:0.2 → 0.6, 0.8, …, 2). */
export function range(a: number, b: number, step: number): number[] {
  const out: number[] = [];
  const n = Math.floor((b - a) / step + 1e-9);
  for (let i = 0; i <= n; i++) out.push(Math.round((a + i * step) * 1e6) / 1e6);
  return out;
}

/** `0.6:2:0.2` or `0.8,1.4,2`: a list of positive numbers, or null when malformed. */
export function parseList(text: string, integers = false): number[] | null {
  const t = text.trim();
  let values: number[];
  const m = /^([^:]+):([^:]+):([^:]+)$/.exec(t);
  if (m) {
    const [a, b, s] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (![a, b, s].every(Number.isFinite) || s <= 0 || b < a || (b - a) / s > 200) return null;
    values = range(a, b, s);
  } else {
    values = t.split(',').map((x) => Number(x.trim()));
  }
  if (values.length === 0 || values.some((v) => !Number.isFinite(v) || v <= 0 || (integers && !Number.isInteger(v)))) return null;
  return [...new Set(values)].sort((x, y) => x - y);
}

/** The inverse of parseList: `a:b:step` for an even progression of 4 or more values, else a comma list. */
export function formatList(values: readonly number[]): string {
  if (values.length >= 4) {
    const step = Math.round((values[1] - values[0]) * 1e6) / 1e6;
    const again = range(values[0], values[values.length - 1], step);
    if (step > 0 && again.length === values.length && again.every((v, i) => Math.abs(v - values[i]) < 1e-9)) return `${values[0]}:${values[values.length - 1]}:${step}`;
  }
  return values.join(',');
}

// ---------------------------------------------------------------------------
// The Kernels view: what a benchmark run measures (the flags of `gradstorm bench`)

export interface BenchSettings {
  kernels: BenchKernel[];
  /** Square matmul sizes N (M = N = K); empty: none. */
  sizes: number[];
  /** Matmuls at given shapes: model shapes by name, or `layout:MxNxK`. */
  shapes: MatmulShape[];
  /** Layouts the square sizes run in. */
  layouts: MatmulLayout[];
  /** Matmul variants: the families, named tilings, or `tuned` (the autotuner's choice). */
  variants: string[];
  baselines: BaselineVariant[];
  runs: number;
  /** Time budget of the matmul section, seconds. */
  maxSeconds: number;
}

/**
 * The CLI's defaults (`gradstorm bench`), and on a software adapter the
 * smaller squares and fewer runs that finish there in a minute or two
 * (SwiftShader runs a 1024³ matmul in seconds, 4096³ in minutes).
 */
export function defaultBenchSettings(software: boolean): BenchSettings {
  return {
    kernels: [...BENCH_KERNELS],
    sizes: software ? [128, 256] : [...DEFAULT_SQUARE_SIZES],
    shapes: [...MODEL_SHAPES],
    layouts: [...MATMUL_LAYOUTS],
    variants: [...DEFAULT_BENCH_VARIANTS],
    baselines: [...BASELINE_VARIANTS],
    runs: software ? 3 : DEFAULT_RUNS,
    maxSeconds: DEFAULT_MAX_SECONDS,
  };
}

/** Largest square size the page accepts (the CLI's bound). */
export const BENCH_MAX_SIZE = 16384;

/** `all`, `none`, or model shape names and `layout:MxNxK`, comma-separated (as `--shapes`). */
export function parseShapes(text: string): MatmulShape[] | string {
  const t = text.trim();
  if (t === 'all') return [...MODEL_SHAPES];
  if (t === 'none' || t === '') return [];
  const shapes: MatmulShape[] = [];
  for (const item of t.split(',')) {
    const shape = parseMatmulShape(item.trim());
    if (typeof shape === 'string') return shape;
    if (!shapes.some((s) => s.name === shape.name)) shapes.push(shape);
  }
  return shapes;
}

/** The inverse of parseShapes: `all` for the model shapes in order, `none` for none. */
export function formatShapes(shapes: readonly MatmulShape[]): string {
  if (shapes.length === 0) return 'none';
  if (shapes.length === MODEL_SHAPES.length && shapes.every((s, i) => s.name === MODEL_SHAPES[i].name)) return 'all';
  return shapes.map((s) => s.name.replace(/×/g, 'x')).join(',');
}

/** `none` or a comma list of square sizes. */
export function parseSizes(text: string): number[] | string {
  const t = text.trim();
  if (t === 'none' || t === '') return [];
  const sizes = t.split(',').map((x) => Number(x.trim()));
  if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > BENCH_MAX_SIZE)) return `sizes: a comma list of integers in [1, ${BENCH_MAX_SIZE}], or none`;
  return [...new Set(sizes)].sort((x, y) => x - y);
}

export function formatSizes(sizes: readonly number[]): string {
  return sizes.length === 0 ? 'none' : sizes.join(',');
}

/** A settings' problem in words, or null: the Run button stays off while there is one. */
export function benchSettingsProblem(s: BenchSettings): string | null {
  if (s.kernels.length === 0) return 'choose at least one kernel';
  if (s.kernels.includes('matmul')) {
    if (s.sizes.length === 0 && s.shapes.length === 0) return 'matmul: give square sizes or shapes (or untick matmul)';
    if (s.sizes.length > 0 && s.layouts.length === 0) return 'matmul: choose a layout for the square sizes';
    if (s.variants.length === 0) return 'matmul: choose at least one variant';
  }
  if (!Number.isInteger(s.runs) || s.runs < 1 || s.runs > 1000) return 'runs: an integer in [1, 1000]';
  if (!(s.maxSeconds > 0 && s.maxSeconds <= 1e6)) return 'time budget: a number of seconds > 0';
  return null;
}

/** Query names of the bench settings: all start with b, so none collides with a config key. */
const BENCH_KEYS = {
  kernels: 'bkernels',
  sizes: 'bsizes',
  shapes: 'bshapes',
  layouts: 'blayouts',
  variants: 'bvariants',
  baselines: 'bbase',
  runs: 'bruns',
  maxSeconds: 'bsec',
} as const;

/** Reads bench settings from a query onto the defaults, noting what is malformed. */
function readBenchSettings(q: URLSearchParams, software: boolean, problems: string[]): BenchSettings {
  const s = defaultBenchSettings(software);
  const list = <T extends string>(key: string, allowed: readonly T[], apply: (v: T[]) => void) => {
    const raw = q.get(key);
    if (raw === null) return;
    const items = raw === 'none' || raw === '' ? [] : raw.split(',');
    const unknown = items.filter((x) => !(allowed as readonly string[]).includes(x));
    if (unknown.length) problems.push(`${key}=${quote(raw)}: ${unknown.map(quote).join(', ')} unknown (choose from ${allowed.join(', ')})`);
    else apply([...new Set(items)] as T[]);
  };
  list(BENCH_KEYS.kernels, BENCH_KERNELS, (v) => (s.kernels = v));
  list(BENCH_KEYS.layouts, MATMUL_LAYOUTS, (v) => (s.layouts = v));
  list(BENCH_KEYS.variants, benchVariantNames(), (v) => (s.variants = v));
  list(BENCH_KEYS.baselines, BASELINE_VARIANTS, (v) => (s.baselines = v));
  const sizes = q.get(BENCH_KEYS.sizes);
  if (sizes !== null) {
    const v = parseSizes(sizes);
    if (typeof v === 'string') problems.push(`${BENCH_KEYS.sizes}=${quote(sizes)}: ${v.replace(/^sizes: /, '')}`);
    else s.sizes = v;
  }
  const shapes = q.get(BENCH_KEYS.shapes);
  if (shapes !== null) {
    const v = parseShapes(shapes);
    if (typeof v === 'string') problems.push(`${BENCH_KEYS.shapes}=${quote(shapes)}: ${v}`);
    else s.shapes = v;
  }
  const runs = q.get(BENCH_KEYS.runs);
  if (runs !== null) {
    const v = Number(runs);
    if (Number.isInteger(v) && v >= 1 && v <= 1000) s.runs = v;
    else problems.push(`${BENCH_KEYS.runs}=${quote(runs)}: must be an integer in [1, 1000]`);
  }
  const seconds = q.get(BENCH_KEYS.maxSeconds);
  if (seconds !== null) {
    const v = Number(seconds);
    if (Number.isFinite(v) && v > 0 && v <= 1e6) s.maxSeconds = v;
    else problems.push(`${BENCH_KEYS.maxSeconds}=${quote(seconds)}: must be a number of seconds in (0, 1000000]`);
  }
  return s;
}

/** Bench settings as query parameters: every field, so a link measures the same thing on any adapter. */
function benchQuery(s: BenchSettings): [string, string][] {
  const list = (v: readonly string[]) => (v.length === 0 ? 'none' : v.join(','));
  return [
    [BENCH_KEYS.kernels, list(s.kernels)],
    [BENCH_KEYS.sizes, formatSizes(s.sizes)],
    [BENCH_KEYS.shapes, formatShapes(s.shapes)],
    [BENCH_KEYS.layouts, list(s.layouts)],
    [BENCH_KEYS.variants, list(s.variants)],
    [BENCH_KEYS.baselines, list(s.baselines)],
    [BENCH_KEYS.runs, String(s.runs)],
    [BENCH_KEYS.maxSeconds, String(s.maxSeconds)],
  ];
}

// ---------------------------------------------------------------------------
// The URL

/**
 * Short query names of the config fields (the CLI's flags, shortened where
 * long). An MLP link has no `model` (links from before the RNN keep working);
 * an RNN link starts with model=rnn, an LSTM link with model=lstm.
 */
const KEYS = {
  model: 'model',
  depth: 'depth',
  seqLen: 'seq',
  width: 'width',
  batch: 'batch',
  activation: 'act',
  init: 'init',
  gain: 'gain',
  biasStd: 'bias',
  loss: 'loss',
  task: 'task',
  lossAt: 'at',
  bptt: 'bptt',
  optimizer: 'opt',
  lr: 'lr',
  clip: 'clip',
  seed: 'seed',
  steps: 'steps',
  residual: 'res',
  norm: 'norm',
  normPlace: 'place',
  forgetBias: 'forgetBias',
} as const;

/** Keys that belong to one model only. */
const MLP_ONLY: readonly string[] = [KEYS.depth, KEYS.loss, KEYS.residual, KEYS.norm, KEYS.normPlace];
const RNN_ONLY: readonly string[] = [KEYS.seqLen, KEYS.task, KEYS.lossAt, KEYS.bptt];
const LSTM_ONLY: readonly string[] = [KEYS.forgetBias];
/** Keys an LSTM has no field for (one tanh/sigmoid cell, W_hh gaussian, no biases drawn, the loss at the last step, full BPTT). */
const NOT_LSTM: readonly string[] = [KEYS.activation, KEYS.init, KEYS.biasStd, KEYS.lossAt, KEYS.bptt];

/** The keys of other models a link for `model` must not hold, each with the model it applies to. */
function keysElsewhere(model: ModelKind): [string, string][] {
  const tag = (keys: readonly string[], where: string) => keys.map((k) => [k, where] as [string, string]);
  if (model === 'mlp') return [...tag(RNN_ONLY, 'model=rnn'), ...tag(LSTM_ONLY, 'model=lstm')];
  if (model === 'rnn') return [...tag(MLP_ONLY, 'an MLP'), ...tag(LSTM_ONLY, 'model=lstm')];
  return [...tag(MLP_ONLY, 'an MLP'), ...tag(NOT_LSTM, 'an MLP or model=rnn')];
}

const MODEL_NAMES: Record<ModelKind, string> = { mlp: 'MLP', rnn: 'RNN', lstm: 'LSTM' };

export interface PageState {
  config: ModelConfig;
  /**
   * The config belongs in the URL: the link had one, or the user edited,
   * shared or ran one. Without it a link holds only what was asked for (a
   * sweep, the Kernels view), so reloading a benchmark does not start a training run.
   */
  configInUrl: boolean;
  /** The preset the config came from (its link runs it, baseline included). */
  preset: PresetId | null;
  /** Reduce sizes on a software adapter (default on; `fit=0` in the URL turns it off). */
  fitSoftware: boolean;
  /** Run the config (or preset) as soon as the page has its adapter. */
  autorun: boolean;
  phase: PhaseGrid | null;
  /** Start the phase sweep on load. */
  autoPhase: boolean;
  /** The Kernels view's settings, when the link has them (`bench=1` or any b… key). */
  bench: BenchSettings | null;
  /** Run the benchmarks on load (a link with bench settings, unless bench=0). */
  autoBench: boolean;
  selftest: boolean;
}

/** A value from the URL as a message quotes it: at most 40 characters (messages are text, never HTML). */
function quote(raw: string): string {
  return raw.length > 40 ? `${raw.slice(0, 39)}…` : raw;
}

/** The reason of an engine ConfigError without its `--flag value: ` head (the message names the link's key instead). */
function reason(error: unknown): string {
  return (error as Error).message.replace(/^--[a-z-]+ \S*: /, '');
}

/**
 * Reads the config fields of a query onto `base` (a valid config), key by
 * key: each value is applied only if the config stays valid with it (the
 * engine's own checks), else it is listed in `problems` with the reason and
 * the field keeps its earlier value. So the config returned is always valid and
 * holds every value of the link that was.
 */
function readConfig(q: URLSearchParams, base: ModelConfig, problems: string[]): ModelConfig {
  let current: ModelConfig = structuredClone(base);
  /** Applies one change if the result validates; else notes `key=raw: why`. */
  const attempt = (key: string, raw: string, change: (c: ModelConfig) => void) => {
    const candidate = structuredClone(current);
    change(candidate);
    try {
      current = validateConfig(withShape(candidate));
    } catch (error) {
      problems.push(`${key}=${quote(raw)}: ${reason(error)}`);
    }
  };
  const num = (key: string, apply: (c: ModelConfig, v: number) => void) => {
    const raw = q.get(key);
    if (raw === null) return;
    const v = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(v)) problems.push(`${key}=${quote(raw)}: not a finite number`);
    else attempt(key, raw, (c) => apply(c, v));
  };
  const pick = <T extends string>(key: string, allowed: readonly T[], apply: (c: ModelConfig, v: T) => void) => {
    const raw = q.get(key);
    if (raw === null) return;
    if ((allowed as readonly string[]).includes(raw)) attempt(key, raw, (c) => apply(c, raw as T));
    else problems.push(`${key}=${quote(raw)}: choose from ${allowed.join(', ')}`);
  };
  const mlp = (apply: (c: MlpConfig) => void) => (c: ModelConfig) => c.model === 'mlp' && apply(c);
  const rnn = (apply: (c: RnnConfig) => void) => (c: ModelConfig) => c.model === 'rnn' && apply(c);
  const recurrent = (apply: (c: RnnConfig | LstmConfig) => void) => (c: ModelConfig) => c.model !== 'mlp' && apply(c);
  const notLstm = (apply: (c: MlpConfig | RnnConfig) => void) => (c: ModelConfig) => c.model !== 'lstm' && apply(c);
  if (base.model === 'mlp') {
    num(KEYS.depth, (c, v) => mlp((m) => (m.depth = v))(c));
    num(KEYS.width, (c, v) => mlp((m) => (m.width = m.input = m.output = v))(c));
  } else {
    num(KEYS.seqLen, (c, v) => recurrent((r) => (r.seqLen = v))(c));
    num(KEYS.width, (c, v) => recurrent((r) => (r.width = v))(c));
  }
  num(KEYS.batch, (c, v) => (c.batch = v));
  if (base.model !== 'lstm') pick(KEYS.activation, ACTIVATIONS, (c, v) => notLstm((m) => (m.activation = v))(c));
  if (base.model === 'mlp') {
    pick(KEYS.init, INITS, (c, v) => mlp((m) => (m.init = v))(c));
  } else if (base.model === 'rnn') {
    pick(KEYS.init, RNN_INITS, (c, v) => rnn((r) => (r.init = v))(c));
  }
  num(KEYS.gain, (c, v) => (c.gain = v));
  if (base.model !== 'lstm') num(KEYS.biasStd, (c, v) => notLstm((m) => (m.biasStd = v))(c));
  if (base.model === 'lstm') num(KEYS.forgetBias, (c, v) => c.model === 'lstm' && (c.forgetBias = v));
  if (base.model === 'mlp') {
    num(KEYS.residual, (c, v) => mlp((m) => (m.residual = v))(c));
    // norm=none is the field's absence (as res=0 would be A's); place only with norm=layer (the engine says so).
    pick(KEYS.norm, NORMS, (c, v) => mlp((m) => (v === 'layer' ? (m.norm = v) : (delete m.norm, delete m.normPlace)))(c));
    pick(KEYS.normPlace, NORM_PLACES, (c, v) => mlp((m) => (m.normPlace = v))(c));
    pick(KEYS.loss, LOSSES, (c, v) => mlp((m) => (m.loss = v))(c));
  } else {
    pick(KEYS.task, RNN_TASKS, (c, v) => recurrent((r) => (r.task = v))(c));
  }
  if (base.model === 'rnn') {
    pick(KEYS.lossAt, LOSS_AT, (c, v) => rnn((r) => (r.lossAt = v))(c));
    const bptt = q.get(KEYS.bptt);
    if (bptt === 'full') attempt(KEYS.bptt, bptt, rnn((r) => (r.bptt = 'full')));
    else num(KEYS.bptt, (c, v) => rnn((r) => (r.bptt = v))(c));
  }
  pick(KEYS.optimizer, OPTIMIZERS, (c, v) => (c.optimizer = v));
  num(KEYS.lr, (c, v) => (c.lr = v));
  const clip = q.get(KEYS.clip);
  if (clip !== null) {
    try {
      const parsed = parseClip(clip);
      attempt(KEYS.clip, clip, (c) => (c.clip = parsed));
    } catch (error) {
      problems.push(`${KEYS.clip}=${quote(clip)}: ${reason(error)}`);
    }
  }
  num(KEYS.seed, (c, v) => (c.seed = v));
  num(KEYS.steps, (c, v) => (c.steps = v));
  for (const [k, where] of keysElsewhere(base.model)) {
    const raw = q.get(k);
    if (raw !== null) problems.push(`${k}=${quote(raw)}: applies to ${where}, not to this ${MODEL_NAMES[base.model]}`);
  }
  return current;
}

// ---------------------------------------------------------------------------
// Keys a link may hold, and the nearest one to a key it may not

/** The phase diagram's keys. */
const PHASE_KEYS = ['phase', 'pgains', 'pdepths', 'pwidth', 'pbatch', 'pbias'] as const;

/** Every key the page reads from a link. */
export const LINK_KEYS: readonly string[] = ['preset', ...Object.values(KEYS), 'fit', 'run', ...PHASE_KEYS, 'bench', ...Object.values(BENCH_KEYS), 'selftest'];

/** Lower case, without - and _: `seq-len`, `seqLen` and `SEQ_LEN` are one name. */
function normalKey(key: string): string {
  return key.toLowerCase().replace(/[-_]/g, '');
}

/**
 * Other names of a key that people write: the config's field names
 * (`activation`, `seqLen`), the CLI's flags (`seq-len`, `bias-std`, `loss-at`,
 * `optimizer`) and the bench settings without their b.
 */
const KEY_ALIASES: ReadonlyMap<string, string> = new Map([
  ...Object.entries(KEYS).map(([field, key]) => [normalKey(field), key] as const),
  ...Object.entries(BENCH_KEYS).map(([field, key]) => [normalKey(field), key] as const),
  ['baseline', BENCH_KEYS.baselines],
  ['truncate', KEYS.bptt],
]);

/** Edit distance: insertions, deletions, substitutions and swaps of neighbours (`widht` is one edit from `width`). */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/**
 * The known key an unknown one most likely meant, or null: another name of a
 * key (`activation` → `act`), a key it starts with or that starts with it
 * (`depths` → `depth`), else the nearest key within a third of its length in edits (`dpeth` → `depth`).
 */
export function nearestKey(unknown: string): string | null {
  const n = normalKey(unknown);
  if (n === '') return null;
  const alias = KEY_ALIASES.get(n);
  if (alias) return alias;
  const prefixed = LINK_KEYS.filter((k) => k.length >= 2 && (n.startsWith(k) || (n.length >= 2 && k.startsWith(n))));
  if (prefixed.length > 0) return prefixed.reduce((best, k) => (Math.abs(k.length - n.length) < Math.abs(best.length - n.length) ? k : best));
  let best: string | null = null;
  let bestDistance = Math.max(1, Math.floor(n.length / 3)) + 1;
  for (const k of LINK_KEYS) {
    const d = editDistance(n, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

/** Keys the page does not read, each named with the nearest known one; keys given twice. */
function checkKeys(q: URLSearchParams, problems: string[]): void {
  const seen = new Map<string, number>();
  for (const key of q.keys()) seen.set(key, (seen.get(key) ?? 0) + 1);
  for (const [key, count] of seen) {
    if (!LINK_KEYS.includes(key)) {
      const near = nearestKey(key);
      problems.push(`unknown key '${quote(key)}'${near ? ` (did you mean '${near}'?)` : ''}`);
    } else if (count > 1) {
      problems.push(`${key} given ${count} times (${q.getAll(key).map(quote).join(', ')}): give it once`);
    }
  }
}

/** The engine's validation of either model (its messages name the flag). */
export function validateConfig(config: ModelConfig): ModelConfig {
  return config.model === 'mlp' ? validateMlpConfig(config) : config.model === 'rnn' ? validateRnnConfig(config) : validateLstmConfig(config);
}

/** Switches a link may hold (`fit=0`, `run=0`, `phase`, `bench=1`, `selftest`): empty, 0 or 1. */
const SWITCHES = ['fit', 'run', 'phase', 'bench', 'selftest'] as const;

/**
 * Reads the page state from a query string. A link that is not fully
 * understood (an unknown key, a malformed or out-of-range value, a key given
 * twice) runs nothing: every problem is listed in `problems` (the page shows
 * them until the user acts), the state holds every value of the link that was
 * valid and the defaults for the rest, and autorun, autoPhase, autoBench and
 * selftest are off.
 */
export function readUrl(search: string, software: boolean): { state: PageState; problems: string[] } {
  const q = new URLSearchParams(search);
  const problems: string[] = [];
  checkKeys(q, problems);
  for (const key of SWITCHES) {
    const raw = q.get(key);
    if (raw !== null && raw !== '' && raw !== '0' && raw !== '1') problems.push(`${key}=${quote(raw)}: use ${key}=1 or ${key}=0`);
  }
  const preset = presetById(q.get('preset'));
  if (q.has('preset') && !preset) problems.push(`preset=${quote(q.get('preset') ?? '')}: unknown (choose from ${PRESETS.map((p) => p.id).join(', ')})`);
  let model: ModelKind = preset?.config.model ?? 'mlp';
  const modelText = q.get(KEYS.model);
  if (modelText === 'mlp' || modelText === 'rnn' || modelText === 'lstm') model = modelText;
  else if (modelText !== null) problems.push(`model=${quote(modelText)}: choose from mlp, rnn, lstm`);
  const base: ModelConfig = preset && preset.config.model === model ? { ...preset.config } : defaultFor(model);
  const config = readConfig(q, base, problems);
  const phaseWanted = PHASE_KEYS.some((k) => q.has(k));
  let phase: PhaseGrid | null = null;
  if (phaseWanted) {
    phase = defaultPhaseGrid(software);
    const gains = q.get('pgains');
    if (gains !== null) {
      const v = parseList(gains);
      if (v) phase.gains = v;
      else problems.push(`pgains=${quote(gains)}: use a:b:step or a comma list of gains`);
    }
    const depths = q.get('pdepths');
    if (depths !== null) {
      const v = parseList(depths, true);
      if (v && v.every((d) => d >= 3 && d <= 100_000)) phase.depths = v;
      else problems.push(`pdepths=${quote(depths)}: use a comma list of integer depths from 3 to 100000`);
    }
    const intParam = (key: string, apply: (v: number) => void, max: number) => {
      const raw = q.get(key);
      if (raw === null) return;
      const v = Number(raw);
      if (raw.trim() !== '' && Number.isInteger(v) && v >= 1 && v <= max) apply(v);
      else problems.push(`${key}=${quote(raw)}: must be an integer in [1, ${max}]`);
    };
    intParam('pwidth', (v) => phase && (phase.width = v), 65_536);
    intParam('pbatch', (v) => phase && (phase.batch = v), 65_536);
    const pbias = q.get('pbias');
    if (pbias !== null) {
      const v = Number(pbias);
      if (pbias.trim() !== '' && Number.isFinite(v) && v >= 0 && v <= 10) phase.biasStd = v;
      else problems.push(`pbias=${quote(pbias)}: must be a number in [0, 10]`);
    }
  }
  const benchWanted = q.has('bench') || Object.values(BENCH_KEYS).some((k) => q.has(k));
  const bench = benchWanted ? readBenchSettings(q, software, problems) : null;
  const hasConfig = Object.values(KEYS).some((k) => q.has(k));
  const understood = problems.length === 0;
  return {
    state: {
      config,
      configInUrl: preset !== undefined || hasConfig,
      preset: preset && !hasConfig ? preset.id : null,
      fitSoftware: q.get('fit') !== '0',
      autorun: understood && (preset !== undefined || hasConfig) && q.get('run') !== '0',
      phase,
      autoPhase: understood && phaseWanted && q.get('phase') !== '0',
      bench,
      autoBench: understood && benchWanted && q.get('bench') !== '0',
      selftest: understood && q.has('selftest') && q.get('selftest') !== '0',
    },
    problems,
  };
}

/** Every field of a config as query parameters (an MLP's exactly as before RNNs: no `model`). */
function configQuery(c: ModelConfig): [string, string][] {
  const training: [string, string][] = [
    [KEYS.optimizer, c.optimizer],
    [KEYS.lr, String(c.lr)],
    [KEYS.clip, formatClip(c.clip)],
    [KEYS.seed, String(c.seed)],
    [KEYS.steps, String(c.steps)],
  ];
  if (c.model === 'mlp') {
    return [
      [KEYS.depth, String(c.depth)],
      [KEYS.width, String(c.width)],
      [KEYS.batch, String(c.batch)],
      [KEYS.activation, c.activation],
      [KEYS.init, c.init],
      [KEYS.gain, String(c.gain)],
      [KEYS.biasStd, String(c.biasStd)],
      // Only residual nets name A (a plain MLP's link is as before).
      ...(c.residual !== undefined ? [[KEYS.residual, String(c.residual)] as [string, string]] : []),
      // Only LayerNorm nets name the norm and (when set) its place.
      ...(c.norm === 'layer' ? [[KEYS.norm, 'layer'] as [string, string]] : []),
      ...(c.norm === 'layer' && c.normPlace !== undefined ? [[KEYS.normPlace, c.normPlace] as [string, string]] : []),
      [KEYS.loss, c.loss],
      ...training,
    ];
  }
  if (c.model === 'lstm') {
    return [
      [KEYS.model, 'lstm'],
      [KEYS.seqLen, String(c.seqLen)],
      [KEYS.width, String(c.width)],
      [KEYS.batch, String(c.batch)],
      [KEYS.gain, String(c.gain)],
      [KEYS.forgetBias, String(c.forgetBias)],
      [KEYS.task, c.task],
      ...training,
    ];
  }
  return [
    [KEYS.model, 'rnn'],
    [KEYS.seqLen, String(c.seqLen)],
    [KEYS.width, String(c.width)],
    [KEYS.batch, String(c.batch)],
    [KEYS.activation, c.activation],
    [KEYS.init, c.init],
    [KEYS.gain, String(c.gain)],
    [KEYS.biasStd, String(c.biasStd)],
    [KEYS.task, c.task],
    [KEYS.lossAt, c.lossAt],
    [KEYS.bptt, String(c.bptt)],
    ...training,
  ];
}

/** The query string of a state: a preset by name when unchanged, else every field (of what the URL holds). */
export function writeUrl(state: Pick<PageState, 'config' | 'configInUrl' | 'preset' | 'fitSoftware' | 'phase' | 'bench'>): string {
  const q = new URLSearchParams(state.preset ? [['preset', state.preset]] : state.configInUrl ? configQuery(state.config) : []);
  if (!state.fitSoftware) q.set('fit', '0');
  if (state.phase) {
    q.set('pgains', formatList(state.phase.gains));
    q.set('pdepths', formatList(state.phase.depths));
    q.set('pwidth', String(state.phase.width));
    q.set('pbatch', String(state.phase.batch));
    q.set('pbias', String(state.phase.biasStd));
  }
  if (state.bench) for (const [key, value] of benchQuery(state.bench)) q.set(key, value);
  const text = q.toString();
  return text ? `?${text}` : '';
}

/** Same configuration? (what decides whether a preset link still describes the controls): every field a link holds. */
export function sameConfig(a: ModelConfig, b: ModelConfig): boolean {
  return new URLSearchParams(configQuery(a)).toString() === new URLSearchParams(configQuery(b)).toString();
}

/** The training fields: runs that differ only in these start from the same network. */
const TRAINING_KEYS: readonly string[] = [KEYS.optimizer, KEYS.lr, KEYS.clip, KEYS.steps];

/** Same network at initialization (the clipping preset's two runs), so one profile chart line stands for both? */
export function sameNetwork(a: ModelConfig, b: ModelConfig): boolean {
  const network = (c: ModelConfig) => new URLSearchParams(configQuery(c).filter(([k]) => !TRAINING_KEYS.includes(k))).toString();
  return network(a) === network(b);
}
