/**
 * The page's state: the run configuration (as the CLI flags spell it), the
 * presets that tell the story, the phase-diagram grid, and their round trip
 * through the URL so that any view can be shared as a link.
 */
import { ACTIVATIONS, INITS, LOSSES, MLP_DEFAULTS, OPTIMIZERS, formatClip, parseClip, validateMlpConfig, type MlpConfig } from './engine.ts';

export type PresetId = 'explode' | 'he' | 'vanish' | 'clip';

export interface Preset {
  id: PresetId;
  title: string;
  /** One paragraph: what to look at. */
  story: string;
  config: MlpConfig;
  /** Run this variant first and overlay it (the clipping preset: the same run without clipping). */
  baseline?: { label: string; config: Partial<MlpConfig> };
}

/** The page's default: the CLI's defaults, at the depth and width of the first preset. */
export function defaultConfig(): MlpConfig {
  return { ...MLP_DEFAULTS, depth: 200, width: 256, input: 256, output: 256, batch: 32, steps: 1, clip: { kind: 'none' } };
}

const deep: MlpConfig = { ...defaultConfig(), activation: 'relu', init: 'gaussian', gain: 1.8, loss: 'probe', steps: 1, lr: 0.01, seed: 1 };

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
    config: {
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
    },
    baseline: { label: 'without clipping', config: { clip: { kind: 'none' } } },
  },
];

export function presetById(id: string | null): Preset | undefined {
  return PRESETS.find((p) => p.id === id);
}

// ---------------------------------------------------------------------------
// Sizing for software adapters

/** What a software adapter (SwiftShader: the GPU emulated on the CPU) runs at most. */
export const SOFTWARE_CAPS = { depth: 100, width: 128, batch: 16, steps: 40 } as const;

export interface Fitted {
  config: MlpConfig;
  /** What was reduced, e.g. ['depth 200 → 100', 'width 256 → 128']; empty when nothing was. */
  reductions: string[];
}

/** The config a software adapter runs: depth, width, batch and steps capped (SOFTWARE_CAPS). */
export function fitToSoftware(config: MlpConfig): Fitted {
  const reductions: string[] = [];
  const cap = (name: keyof typeof SOFTWARE_CAPS, value: number): number => {
    const max = SOFTWARE_CAPS[name];
    if (value <= max) return value;
    reductions.push(`${name} ${value} → ${max}`);
    return max;
  };
  const width = cap('width', config.width);
  const fitted: MlpConfig = {
    ...config,
    depth: cap('depth', config.depth),
    width,
    input: Math.min(config.input, width),
    output: Math.min(config.output, width),
    batch: cap('batch', config.batch),
    steps: cap('steps', config.steps),
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
// The URL

/** Short query names of the config fields (the CLI's flags, shortened where long). */
const KEYS = {
  depth: 'depth',
  width: 'width',
  batch: 'batch',
  activation: 'act',
  init: 'init',
  gain: 'gain',
  biasStd: 'bias',
  loss: 'loss',
  optimizer: 'opt',
  lr: 'lr',
  clip: 'clip',
  seed: 'seed',
  steps: 'steps',
} as const;

export interface PageState {
  config: MlpConfig;
  /** The preset the config came from (its link runs it, baseline included). */
  preset: PresetId | null;
  /** Reduce sizes on a software adapter (default on; `fit=0` in the URL turns it off). */
  fitSoftware: boolean;
  /** Run the config (or preset) as soon as the page has its adapter. */
  autorun: boolean;
  phase: PhaseGrid | null;
  /** Start the phase sweep on load. */
  autoPhase: boolean;
  selftest: boolean;
}

/**
 * Reads the page state from a query string. Unknown or malformed values fall
 * back to the defaults and are listed in `problems` (the page shows them).
 */
export function readUrl(search: string, software: boolean): { state: PageState; problems: string[] } {
  const q = new URLSearchParams(search);
  const problems: string[] = [];
  const preset = presetById(q.get('preset'));
  if (q.has('preset') && !preset) problems.push(`preset=${q.get('preset')}: unknown (choose from ${PRESETS.map((p) => p.id).join(', ')})`);
  const base: MlpConfig = preset ? { ...preset.config } : defaultConfig();
  const config: MlpConfig = { ...base };
  const num = (key: string, apply: (v: number) => void) => {
    const raw = q.get(key);
    if (raw === null) return;
    const v = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(v)) problems.push(`${key}=${raw}: not a number`);
    else apply(v);
  };
  num(KEYS.depth, (v) => (config.depth = v));
  num(KEYS.width, (v) => (config.width = config.input = config.output = v));
  num(KEYS.batch, (v) => (config.batch = v));
  num(KEYS.gain, (v) => (config.gain = v));
  num(KEYS.biasStd, (v) => (config.biasStd = v));
  num(KEYS.lr, (v) => (config.lr = v));
  num(KEYS.seed, (v) => (config.seed = v));
  num(KEYS.steps, (v) => (config.steps = v));
  const pick = <T extends string>(key: string, allowed: readonly T[], apply: (v: T) => void) => {
    const raw = q.get(key);
    if (raw === null) return;
    if ((allowed as readonly string[]).includes(raw)) apply(raw as T);
    else problems.push(`${key}=${raw}: choose from ${allowed.join(', ')}`);
  };
  pick(KEYS.activation, ACTIVATIONS, (v) => (config.activation = v));
  pick(KEYS.init, INITS, (v) => (config.init = v));
  pick(KEYS.loss, LOSSES, (v) => (config.loss = v));
  pick(KEYS.optimizer, OPTIMIZERS, (v) => (config.optimizer = v));
  const clip = q.get(KEYS.clip);
  if (clip !== null) {
    try {
      config.clip = parseClip(clip);
    } catch (error) {
      problems.push((error as Error).message.replace(/^--clip /, 'clip='));
    }
  }
  let valid = config;
  try {
    valid = validateMlpConfig({ ...config });
  } catch (error) {
    problems.push(`${(error as Error).message} — using the defaults instead`);
    valid = base;
  }
  const phaseWanted = q.has('phase') || q.has('pgains') || q.has('pdepths');
  let phase: PhaseGrid | null = null;
  if (phaseWanted) {
    phase = defaultPhaseGrid(software);
    const gains = q.get('pgains');
    if (gains !== null) {
      const v = parseList(gains);
      if (v) phase.gains = v;
      else problems.push(`pgains=${gains}: use a:b:step or a comma list of gains`);
    }
    const depths = q.get('pdepths');
    if (depths !== null) {
      const v = parseList(depths, true);
      if (v && v.every((d) => d >= 3 && d <= 100_000)) phase.depths = v;
      else problems.push(`pdepths=${depths}: use a comma list of integer depths ≥ 3`);
    }
    const intParam = (key: string, apply: (v: number) => void, max: number) => {
      const raw = q.get(key);
      if (raw === null) return;
      const v = Number(raw);
      if (Number.isInteger(v) && v >= 1 && v <= max) apply(v);
      else problems.push(`${key}=${raw}: an integer in [1, ${max}]`);
    };
    intParam('pwidth', (v) => phase && (phase.width = v), 65_536);
    intParam('pbatch', (v) => phase && (phase.batch = v), 65_536);
    const pbias = q.get('pbias');
    if (pbias !== null) {
      const v = Number(pbias);
      if (Number.isFinite(v) && v >= 0 && v <= 10) phase.biasStd = v;
      else problems.push(`pbias=${pbias}: a number in [0, 10]`);
    }
  }
  const hasConfig = Object.values(KEYS).some((k) => q.has(k));
  return {
    state: {
      config: valid,
      preset: preset && !hasConfig ? preset.id : null,
      fitSoftware: q.get('fit') !== '0',
      autorun: (preset !== undefined || hasConfig) && q.get('run') !== '0',
      phase,
      autoPhase: phaseWanted && q.get('phase') !== '0',
      selftest: q.has('selftest'),
    },
    problems,
  };
}

/** The query string of a state: a preset by name when unchanged, else every field. */
export function writeUrl(state: { config: MlpConfig; preset: PresetId | null; fitSoftware: boolean; phase: PhaseGrid | null }): string {
  const q = new URLSearchParams();
  const c = state.config;
  if (state.preset) {
    q.set('preset', state.preset);
  } else {
    q.set(KEYS.depth, String(c.depth));
    q.set(KEYS.width, String(c.width));
    q.set(KEYS.batch, String(c.batch));
    q.set(KEYS.activation, c.activation);
    q.set(KEYS.init, c.init);
    q.set(KEYS.gain, String(c.gain));
    q.set(KEYS.biasStd, String(c.biasStd));
    q.set(KEYS.loss, c.loss);
    q.set(KEYS.optimizer, c.optimizer);
    q.set(KEYS.lr, String(c.lr));
    q.set(KEYS.clip, formatClip(c.clip));
    q.set(KEYS.seed, String(c.seed));
    q.set(KEYS.steps, String(c.steps));
  }
  if (!state.fitSoftware) q.set('fit', '0');
  if (state.phase) {
    q.set('pgains', formatList(state.phase.gains));
    q.set('pdepths', formatList(state.phase.depths));
    q.set('pwidth', String(state.phase.width));
    q.set('pbatch', String(state.phase.batch));
    q.set('pbias', String(state.phase.biasStd));
  }
  const text = q.toString();
  return text ? `?${text}` : '';
}

/** Same configuration? (what decides whether a preset link still describes the controls) */
export function sameConfig(a: MlpConfig, b: MlpConfig): boolean {
  return (
    a.depth === b.depth && a.width === b.width && a.input === b.input && a.output === b.output && a.batch === b.batch &&
    a.activation === b.activation && a.init === b.init && a.gain === b.gain && a.biasStd === b.biasStd && a.loss === b.loss &&
    a.optimizer === b.optimizer && a.lr === b.lr && formatClip(a.clip) === formatClip(b.clip) && a.seed === b.seed && a.steps === b.steps
  );
}
