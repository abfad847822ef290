/**
 * The LSTM (one layer, PyTorch's gate order i, f, g, o and conventions):
 *   z_t = x_t W_ihᵀ + h_{t−1} W_hhᵀ + b          [B, 4H], columns i | f | g | o
 *   i, f, o = σ(z_i, z_f, z_o),  g = tanh(z_g)
 *   c_t = f ⊙ c_{t−1} + i ⊙ g,   h_t = o ⊙ tanh(c_t),   h_0 = c_0 = 0,  t = 1..T
 *   y = h_T W_hyᵀ + b_y   (the loss at the last step)
 * Tensors (the dump's names; another framework's cross-check relies on them):
 *   W_ih [4H, in]  W_hh [4H, H]  b [4H]  W_hy [out, H]  b_y [out]
 * PyTorch's nn.LSTM has two biases b_ih and b_hh; here b = b_ih + b_hh (load
 * b into b_ih and zeros into b_hh to compare).
 *
 * Initialisation (its own Philox streams, LSTM_STREAMS): W_ih ~ N(0, 1/in),
 * W_hh ~ N(0, gain²/H), W_hy ~ N(0, 1/H), b = 0 except the forget block
 * b[H..2H) = forgetBias (Jozefowicz et al. 2015 recommend 1; that is the
 * default), b_y = 0. The tasks and their data are the RNN's (src/models/rnn.ts:
 * probe and the adding problem, same seed → same data).
 */
import { check, finiteIn, type ClipConfig, type LossKind, type OptimizerKind } from './config.ts';
import type { MatmulUse, MemoryPlan } from './mlp.ts';
import { layoutTensors, slabRows, validateRecurrentCommon, type ArenaTensor, type RecurrentDump, type RnnTask } from './rnn.ts';

/** An LSTM stress run: sequence, sizes, W_hh gain, forget-gate bias, task, optimizer and clipping (the loss at the last step, full BPTT). */
export interface LstmConfig {
  model: 'lstm';
  /** T, timesteps. */
  seqLen: number;
  /** H, hidden (and cell) units. */
  width: number;
  /** Input features per step (adding: 2; probe default: width). */
  input: number;
  /** Output features of the readout (adding: 1; probe default: width). */
  output: number;
  batch: number;
  /** W_hh ~ N(0, gain²/H). */
  gain: number;
  /** The forget gate's bias b_f (every unit); σ(b_f) is the forget gate at zero input. */
  forgetBias: number;
  task: RnnTask;
  /** Follows from the task: probe → probe, adding → mse. */
  loss: LossKind;
  steps: number;
  lr: number;
  optimizer: OptimizerKind;
  clip: ClipConfig;
  seed: number;
}

/**
 * W_hh's default gain, 1/√3: N(0, 1/(3H)) has the variance of PyTorch's
 * default U(−1/√H, 1/√H). Larger gains let the hidden path carry more of the
 * gradient past the forget gates (see the theory in src/scheduler/lstm-run.ts).
 */
export const LSTM_DEFAULT_GAIN = 1 / Math.sqrt(3);

/** The CLI's defaults for an LSTM run (W_hh gain 1/√3, forget bias 1, batch 32, probe task); give seqLen, width, input and output. */
export const LSTM_DEFAULTS: Omit<LstmConfig, 'seqLen' | 'width' | 'input' | 'output'> = {
  model: 'lstm',
  batch: 32,
  gain: LSTM_DEFAULT_GAIN,
  forgetBias: 1,
  task: 'probe',
  loss: 'probe',
  steps: 1,
  lr: 0.01,
  optimizer: 'sgd',
  clip: { kind: 'none' },
  seed: 1,
};

/** Checks every field; messages name the flag to change. */
export function validateLstmConfig(c: LstmConfig): LstmConfig {
  check(c.model === 'lstm', `--model ${c.model}: an LstmConfig is --model lstm`);
  // The backward step's dot product runs over 4H gate rows; 16384 keeps W_hh [4H, H] at 4 GiB.
  validateRecurrentCommon(c, 16_384);
  finiteIn('gain', c.gain, 0, 1e6);
  finiteIn('forget-bias', c.forgetBias, -100, 100);
  return c;
}

// ---------------------------------------------------------------------------
// Plan

/** The LSTM's tensor names, in arena order (also the order of the gradient records and the dump). */
export const LSTM_TENSORS = ['W_ih', 'W_hh', 'b', 'W_hy', 'b_y'] as const;
/** One of {@link LSTM_TENSORS}. */
export type LstmTensorName = (typeof LSTM_TENSORS)[number];

/** The layout of an LSTM's parameters and per-timestep state (see {@link planLstm}). */
export interface LstmPlan {
  tensors: ArenaTensor<LstmTensorName>[];
  paramElements: number;
  paramCount: number;
  /** Rows of each timestep slab (≥ B, rows·H a multiple of 64 floats: see slabRows); rows past B stay zero. */
  rows: number;
  /** rows·H: elements per timestep of h, c, dh, dc; the gate buffers hold 4·slab. */
  slab: number;
}

/** Where an LSTM's tensors and its T steps of state live in the trainer's arenas. */
export function planLstm(c: Pick<LstmConfig, 'width' | 'input' | 'output' | 'batch'>): LstmPlan {
  const H = c.width;
  const shapes: Record<LstmTensorName, number[]> = { W_ih: [4 * H, c.input], W_hh: [4 * H, H], b: [4 * H], W_hy: [c.output, H], b_y: [c.output] };
  const laid = layoutTensors(LSTM_TENSORS.map((name) => [name, shapes[name]] as [LstmTensorName, number[]]));
  const rows = slabRows(c.batch, H);
  return { ...laid, rows, slab: rows * H };
}

/** The matmuls of one LSTM step by role (the recurrence runs in the lstm kernels): what the trainer compiles and the autotuner measures. */
export function lstmMatmulUses(plan: LstmPlan, c: Pick<LstmConfig, 'seqLen' | 'width' | 'input' | 'output' | 'batch'>) {
  const H = c.width;
  const rowsAll = c.seqLen * plan.rows;
  const B = c.batch;
  return {
    inputProjection: { layout: 'nt', shapes: [{ m: rowsAll, n: 4 * H, k: c.input }] },
    readout: { layout: 'nt', shapes: [{ m: B, n: c.output, k: H }] },
    // dW_hy, then dW_hh and dW_ih over all T·rows rows at once.
    weightGrad: { layout: 'tn', shapes: [{ m: c.output, n: H, k: B }, { m: 4 * H, n: H, k: rowsAll }, { m: 4 * H, n: c.input, k: rowsAll }] },
    biasGrad: { layout: 'nn', shapes: [{ m: 1, n: c.output, k: B }, { m: 1, n: 4 * H, k: rowsAll }] },
    directTerm: { layout: 'nn', shapes: [{ m: B, n: H, k: c.output }] },
  } satisfies Record<string, MatmulUse>;
}

/** Bytes the engine allocates for a config, by buffer (each must fit maxStorageBufferBindingSize). */
export function lstmMemoryPlan(c: LstmConfig, plan: LstmPlan = planLstm(c)): MemoryPlan {
  const p = plan.paramElements * 4;
  const T = c.seqLen;
  const s = plan.slab * 4;
  const optimizerCopies = c.optimizer === 'adam' ? 2 : c.optimizer === 'momentum' ? 1 : 0;
  const readout = c.batch * c.output * 4;
  const buffers = [
    { name: 'parameters', bytes: p },
    { name: 'gradients', bytes: p },
    ...Array.from({ length: optimizerCopies }, (_, i) => ({ name: `optimizer state ${i + 1}`, bytes: p })),
    { name: 'hidden states h (T+1 steps)', bytes: (T + 1) * s },
    { name: 'cell states c (T+1 steps)', bytes: (T + 1) * s },
    { name: 'input part of the gates zx (4H a step)', bytes: 4 * T * s },
    { name: 'gate activations (4H a step)', bytes: 4 * T * s },
    { name: 'hidden gradients dh', bytes: T * s },
    { name: 'cell gradients dc', bytes: T * s },
    { name: 'cell-path gradients f⊙dc', bytes: T * s },
    { name: 'gate gradients dz (4H a step)', bytes: 4 * T * s },
    { name: 'input', bytes: T * plan.rows * c.input * 4 },
    { name: 'outputs y', bytes: readout },
    { name: 'target', bytes: readout },
    { name: 'output gradients dy', bytes: readout },
  ];
  const parts = [
    { name: 'weights + biases', bytes: p },
    { name: 'gradients', bytes: p },
    { name: 'optimizer state', bytes: optimizerCopies * p },
    { name: 'saved states (h, c, zx, gates)', bytes: (2 * (T + 1) + 8 * T) * s },
    { name: 'BPTT gradients (dh, dc, f⊙dc, dz)', bytes: 7 * T * s },
    { name: 'input, output, target', bytes: T * plan.rows * c.input * 4 + 3 * readout },
  ];
  const largestBuffer = buffers.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  return { parts, totalBytes: parts.reduce((sum, x) => sum + x.bytes, 0), largestBuffer };
}

/** RNG streams of the LSTM's parameters (64-bit: [lo, hi]); its data uses the RNN's (RNN_STREAMS). */
export const LSTM_STREAMS = {
  W_ih: [1, 0x4c53] as const,
  W_hh: [2, 0x4c53] as const,
  W_hy: [4, 0x4c53] as const,
};

/** Std of the gaussian inits: W_ih N(0, 1/in), W_hh N(0, gain²/H), W_hy N(0, 1/H). */
export function lstmInitStd(c: Pick<LstmConfig, 'gain' | 'width' | 'input'>, name: keyof typeof LSTM_STREAMS): number {
  if (name === 'W_ih') return 1 / Math.sqrt(c.input);
  if (name === 'W_hy') return 1 / Math.sqrt(c.width);
  return c.gain / Math.sqrt(c.width);
}

/** The LSTM's dump (schema gradstorm.dump/1): params and grads W_ih, W_hh, b, W_hy, b_y. */
export type LstmDump = RecurrentDump<LstmConfig>;
