/**
 * The vanilla RNN (DESIGN.md conventions):
 *   h_t = φ(x_t W_xhᵀ + h_{t−1} W_hhᵀ + b_h),  h_0 = 0,  t = 1..T
 *   y_t = h_t W_hyᵀ + b_y   at t = T (lossAt 'last') or at every t (lossAt 'all')
 * W_xh [H, in], W_hh [H, H], W_hy [out, H], row-major; rows of x, h, y are batch items.
 *
 * Tasks (how the data is made is part of the contract: the dump records it):
 *   probe   x_t ~ N(0, 1) and a fixed cotangent g ~ N(0, 1) at each readout
 *           (∂L/∂y_t = g_t, L = Σ g ⊙ y): drawn ON THE GPU with the Philox
 *           normal fill, one RNG stream per timestep (PROBE_STREAMS).
 *   adding  the adding problem (Hochreiter & Schmidhuber 1997, as in Pascanu
 *           et al. 2013): 2 input channels, a value u ~ U[0, 1) and a marker
 *           that is 1 at exactly two steps, one uniform in the first half
 *           [1, ⌊T/2⌋] and one in the second (⌊T/2⌋, T]; target = the sum of
 *           the two marked values; mse at the last step. Made ON THE CPU by
 *           addingProblem() from the run's seed with the engine's Philox
 *           generator (randomBitsRef, the same bits the GPU fills draw) and
 *           uploaded once. Like the MLP's teacher task, the batch is fixed for
 *           the run.
 * The task decides the loss: probe → 'probe', adding → 'mse'.
 */
import { ACTIVATIONS, type Activation } from '../kernels/elementwise.ts';
import { OPTIMIZERS, check, finiteIn, integerIn, type ClipConfig, type LossKind, type OptimizerKind } from './config.ts';
import { randomBitsRef, uniformFromBits } from '../kernels/init.ts';
import { alignFloats, type MatmulUse, type MemoryPlan } from './mlp.ts';
import { formatBytes } from '../gpu/errors.ts';
import type { DumpTensor } from './dump.ts';

/** W_hh initialisations: gaussian N(0, gain²/H), gain·Q orthogonal, gain·I. */
export const RNN_INITS = ['gaussian', 'orthogonal', 'identity'] as const;
/** One of {@link RNN_INITS}. */
export type RnnInit = (typeof RNN_INITS)[number];
/** RNN tasks: `probe` (a fixed random cotangent) or the adding problem (Hochreiter & Schmidhuber). */
export const RNN_TASKS = ['probe', 'adding'] as const;
/** One of {@link RNN_TASKS}. */
export type RnnTask = (typeof RNN_TASKS)[number];
/** Where an RNN's loss is taken: at the last step or at every step. */
export const LOSS_AT = ['last', 'all'] as const;
/** One of {@link LOSS_AT}. */
export type LossAt = (typeof LOSS_AT)[number];

/** A vanilla RNN stress run (`h_t = φ(x_t W_xhᵀ + h_{t−1} W_hhᵀ + b_h)`, BPTT): sequence, sizes, W_hh init and gain, task, loss placement, truncation, optimizer and clipping. */
export interface RnnConfig {
  model: 'rnn';
  /** T, timesteps. */
  seqLen: number;
  /** H, hidden units. */
  width: number;
  /** Input features per step (adding: 2; probe default: width). */
  input: number;
  /** Output features per readout (adding: 1; probe default: width). */
  output: number;
  batch: number;
  activation: Activation;
  /** Init of W_hh: gaussian N(0, gain²/H) (spectral radius ≈ gain), orthogonal gain·Q (every singular value = gain), identity gain·I (IRNN at gain 1). */
  init: RnnInit;
  gain: number;
  /** Std of b_h and b_y (N(0, biasStd²); 0 = zero biases). */
  biasStd: number;
  task: RnnTask;
  /** Follows from the task: probe → probe, adding → mse. */
  loss: LossKind;
  lossAt: LossAt;
  /** Truncated BPTT: gradients flow back through at most k timesteps; 'full' = all T. */
  bptt: number | 'full';
  steps: number;
  lr: number;
  optimizer: OptimizerKind;
  clip: ClipConfig;
  seed: number;
}

/** The CLI's defaults for an RNN run (tanh, gaussian W_hh gain 1, batch 32, probe task, loss at the last step); give seqLen, width, input and output. */
export const RNN_DEFAULTS: Omit<RnnConfig, 'seqLen' | 'width' | 'input' | 'output'> = {
  model: 'rnn',
  batch: 32,
  activation: 'tanh',
  init: 'gaussian',
  gain: 1,
  biasStd: 0,
  task: 'probe',
  loss: 'probe',
  lossAt: 'last',
  bptt: 'full',
  steps: 1,
  lr: 0.01,
  optimizer: 'sgd',
  clip: { kind: 'none' },
  seed: 1,
};

/** The loss a task trains with. */
export function taskLoss(task: RnnTask): LossKind {
  return task === 'adding' ? 'mse' : 'probe';
}

/** The task a loss name stands for on the command line (mse = the adding problem). */
export function lossTask(loss: LossKind): RnnTask {
  return loss === 'mse' ? 'adding' : 'probe';
}

/** The longest sequence accepted: the step variant records 2·T dispatches per training step. */
export const RNN_MAX_SEQ_LEN = 100_000;

/** Checks every field; messages name the flag to change. */
export function validateRnnConfig(c: RnnConfig): RnnConfig {
  check(c.model === 'rnn', `--model ${c.model}: an RnnConfig is --model rnn`);
  validateRecurrentCommon(c, 65_536);
  check(ACTIVATIONS.includes(c.activation), `--activation ${c.activation}: choose from ${ACTIVATIONS.join(', ')}`);
  check(RNN_INITS.includes(c.init), `--init ${c.init}: for --model rnn choose from ${RNN_INITS.join(', ')} (the init of W_hh)`);
  check(LOSS_AT.includes(c.lossAt), `--loss-at ${c.lossAt}: choose from ${LOSS_AT.join(', ')}`);
  if (c.bptt !== 'full') integerIn('bptt', c.bptt, 1, RNN_MAX_SEQ_LEN);
  finiteIn('gain', c.gain, 0, 1e6, true);
  finiteIn('bias-std', c.biasStd, 0, 1e6);
  if (c.task === 'adding') {
    check(c.lossAt === 'last', `--loss-at ${c.lossAt}: the adding problem has its one target at the last step; use --loss-at last (or --task probe)`);
  }
  return c;
}

/**
 * The checks every recurrent model's config shares (the RNN's, the LSTM's):
 * sizes (width up to `maxWidth`), task and loss, steps, seed, optimizer, lr,
 * clip, and the adding problem's fixed shape. Messages name the flag.
 */
export function validateRecurrentCommon(
  c: Pick<RnnConfig, 'seqLen' | 'width' | 'input' | 'output' | 'batch' | 'steps' | 'seed' | 'task' | 'loss' | 'optimizer' | 'lr' | 'clip'>,
  maxWidth: number,
): void {
  integerIn('seq-len', c.seqLen, 1, RNN_MAX_SEQ_LEN);
  integerIn('width', c.width, 1, maxWidth);
  integerIn('input', c.input, 1, 65_536);
  integerIn('output', c.output, 1, 65_536);
  integerIn('batch', c.batch, 1, 65_536);
  integerIn('steps', c.steps, 1, 1_000_000);
  integerIn('seed', c.seed, 0, Number.MAX_SAFE_INTEGER);
  check(RNN_TASKS.includes(c.task), `--task ${c.task}: choose from ${RNN_TASKS.join(', ')}`);
  check(c.loss === taskLoss(c.task), `--loss ${c.loss}: the ${c.task} task trains with --loss ${taskLoss(c.task)}`);
  check(OPTIMIZERS.includes(c.optimizer), `--optimizer ${c.optimizer}: choose from ${OPTIMIZERS.join(', ')}`);
  finiteIn('lr', c.lr, 0, 1e6);
  if (c.clip.kind !== 'none') finiteIn('clip', c.clip.threshold, 0, 3e38, true);
  if (c.task === 'adding') {
    check(c.input === 2, `--input ${c.input}: the adding problem has 2 input channels (value, marker); omit --input`);
    check(c.output === 1, `--output ${c.output}: the adding problem has 1 output (the sum); omit --output`);
    check(c.seqLen >= 2, `--seq-len ${c.seqLen}: the adding problem needs T ≥ 2 (one marker in each half)`);
  }
}

/** k of truncated BPTT as a number of timesteps (full = T). */
export function bpttSteps(c: Pick<RnnConfig, 'bptt' | 'seqLen'>): number {
  return c.bptt === 'full' ? c.seqLen : Math.min(c.bptt, c.seqLen);
}

// ---------------------------------------------------------------------------
// Plan

/** One of the RNN's tensors in the parameter arena. */
export type RnnTensorPlan = ArenaTensor<'Wxh' | 'Whh' | 'bh' | 'Why' | 'by'>;

/**
 * The matmuls of one BPTT step by role (the recurrence itself runs in the
 * rnn kernels): what the trainer compiles and the autotuner measures.
 */
export function rnnMatmulUses(plan: RnnPlan, c: Pick<RnnConfig, 'seqLen' | 'width' | 'input' | 'output'>) {
  const H = c.width;
  const rowsAll = c.seqLen * plan.rows;
  const R = plan.readoutRows;
  return {
    inputProjection: { layout: 'nt', shapes: [{ m: rowsAll, n: H, k: c.input }] },
    readout: { layout: 'nt', shapes: [{ m: R, n: c.output, k: H }] },
    // dW_hy, then dW_hh and dW_xh over all T·B rows at once.
    weightGrad: { layout: 'tn', shapes: [{ m: c.output, n: H, k: R }, { m: H, n: H, k: rowsAll }, { m: H, n: c.input, k: rowsAll }] },
    biasGrad: { layout: 'nn', shapes: [{ m: 1, n: c.output, k: R }, { m: 1, n: H, k: rowsAll }] },
    directTerm: { layout: 'nn', shapes: [{ m: R, n: H, k: c.output }] },
  } satisfies Record<string, MatmulUse>;
}

/** The layout of an RNN's parameters and per-timestep state (see {@link planRnn}). */
export interface RnnPlan {
  /** W_xh, W_hh, b_h, W_hy, b_y in this order (also the order of the gradient records). */
  tensors: RnnTensorPlan[];
  paramElements: number;
  paramCount: number;
  /**
   * Rows of each timestep slab: the smallest rows ≥ B with rows·H a multiple
   * of 64 floats, so every timestep starts on a 256-byte boundary and can be
   * bound on its own. Rows past B stay zero (they add exact zeros to the
   * weight-gradient matmuls, which run over all T·rows rows).
   */
  rows: number;
  /** rows·H: elements per timestep of h, u, dh, dz. */
  slab: number;
  /** Readout rows: B (lossAt last) or T·rows (lossAt all). */
  readoutRows: number;
  /** Timesteps with a readout. */
  readoutSteps: number;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

export function slabRows(batch: number, hidden: number): number {
  const step = 64 / gcd(hidden, 64);
  return Math.ceil(batch / step) * step;
}

/** Where an RNN's tensors and its T steps of state live in the trainer's arenas. */
export function planRnn(c: Pick<RnnConfig, 'seqLen' | 'width' | 'input' | 'output' | 'batch' | 'lossAt'>): RnnPlan {
  const H = c.width;
  const { tensors, paramElements, paramCount } = layoutTensors<RnnTensorPlan['name']>([
    ['Wxh', [H, c.input]],
    ['Whh', [H, H]],
    ['bh', [H]],
    ['Why', [c.output, H]],
    ['by', [c.output]],
  ]);
  const rows = slabRows(c.batch, H);
  const readoutSteps = c.lossAt === 'all' ? c.seqLen : 1;
  return {
    tensors,
    paramElements,
    paramCount,
    rows,
    slab: rows * H,
    readoutRows: c.lossAt === 'all' ? c.seqLen * rows : c.batch,
    readoutSteps,
  };
}

/** A named tensor's place in a parameter arena (offsets in floats). */
export interface ArenaTensor<Name extends string = string> {
  name: Name;
  shape: number[];
  /** Element offset in the parameter arena (64-float aligned, so each binds on its own). */
  offset: number;
  length: number;
}

/** Lays named tensors out one after another in an arena, each 64-float aligned (the RNN and the LSTM). */
export function layoutTensors<Name extends string>(shapes: readonly [Name, number[]][]): { tensors: ArenaTensor<Name>[]; paramElements: number; paramCount: number } {
  let offset = 0;
  let paramCount = 0;
  const tensors = shapes.map(([name, shape]) => {
    const length = shape.reduce((a, b) => a * b, 1);
    const t = { name, shape, offset, length };
    offset += alignFloats(length);
    paramCount += length;
    return t;
  });
  return { tensors, paramElements: offset, paramCount };
}

export function tensorPlan<Name extends string>(plan: { tensors: readonly ArenaTensor<Name>[] }, name: Name): ArenaTensor<Name> {
  const t = plan.tensors.find((x) => x.name === name);
  if (!t) throw new Error(`plan: no tensor ${name}`);
  return t;
}

/** Bytes the engine allocates for a config, by buffer (each must fit maxStorageBufferBindingSize). */
export function rnnMemoryPlan(c: RnnConfig, plan: RnnPlan = planRnn(c)): MemoryPlan {
  const p = plan.paramElements * 4;
  const T = c.seqLen;
  const optimizerCopies = c.optimizer === 'adam' ? 2 : c.optimizer === 'momentum' ? 1 : 0;
  const buffers = [
    { name: 'parameters', bytes: p },
    { name: 'gradients', bytes: p },
    ...Array.from({ length: optimizerCopies }, (_, i) => ({ name: `optimizer state ${i + 1}`, bytes: p })),
    { name: 'hidden states h (T+1 steps)', bytes: (T + 1) * plan.slab * 4 },
    { name: 'input projection u', bytes: T * plan.slab * 4 },
    { name: 'hidden gradients dh', bytes: T * plan.slab * 4 },
    { name: 'pre-activation gradients dz', bytes: T * plan.slab * 4 },
    { name: 'input', bytes: T * plan.rows * c.input * 4 },
    { name: 'outputs y', bytes: plan.readoutRows * c.output * 4 },
    { name: 'target', bytes: plan.readoutRows * c.output * 4 },
    { name: 'output gradients dy', bytes: plan.readoutRows * c.output * 4 },
  ];
  const parts = [
    { name: 'weights + biases', bytes: p },
    { name: 'gradients', bytes: p },
    { name: 'optimizer state', bytes: optimizerCopies * p },
    { name: 'saved states (h, u)', bytes: (2 * T + 1) * plan.slab * 4 },
    { name: 'BPTT gradients (dh, dz)', bytes: 2 * T * plan.slab * 4 },
    { name: 'input, output, target', bytes: (T * plan.rows * c.input + 3 * plan.readoutRows * c.output) * 4 },
  ];
  const largestBuffer = buffers.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  return { parts, totalBytes: parts.reduce((s, x) => s + x.bytes, 0), largestBuffer };
}

export function describeRnnMemory(m: MemoryPlan): string {
  return m.parts.filter((x) => x.bytes > 0).map((x) => `${x.name} ${formatBytes(x.bytes)}`).join(', ') + ` — total ${formatBytes(m.totalBytes)}`;
}

// ---------------------------------------------------------------------------
// Initialisation and data

/** Std of the gaussian inits: W_xh, W_hy as the MLP's gaussian at gain 1 (N(0, 1/fan_in)); W_hh N(0, gain²/H). */
export function rnnInitStd(c: Pick<RnnConfig, 'gain' | 'width' | 'input'>, name: 'Wxh' | 'Whh' | 'Why'): number {
  if (name === 'Wxh') return 1 / Math.sqrt(c.input);
  if (name === 'Why') return 1 / Math.sqrt(c.width);
  return c.gain / Math.sqrt(c.width);
}

/** RNG streams (64-bit: [lo, hi]); every tensor and every timestep has its own. */
export const RNN_STREAMS = {
  Wxh: [1, 0x52] as const,
  Whh: [2, 0x52] as const,
  bh: [3, 0x52] as const,
  Why: [4, 0x52] as const,
  by: [5, 0x52] as const,
  /** probe input at step t (1-based): [t, 0x5201]. */
  input: (t: number) => [t, 0x5201] as const,
  /** probe cotangent at readout step t: [t, 0x5202]. */
  target: (t: number) => [t, 0x5202] as const,
  /** adding problem: values, then positions. */
  addingValues: [0, 0x5203] as const,
  addingPositions: [0, 0x5204] as const,
};

export interface AddingBatch {
  /** [T, B, 2]: channel 0 the value, channel 1 the marker. */
  input: Float32Array<ArrayBuffer>;
  /** [B]: the sum of the two marked values (f32 of their f32 sum). */
  target: Float32Array<ArrayBuffer>;
  /** [B][2]: the marked timesteps (1-based), one per half. */
  positions: [number, number][];
}

/**
 * The adding problem's batch from a seed (see the module comment): values
 * u = uniformFromBits(Philox word), marker positions p1 ∈ [1, ⌊T/2⌋],
 * p2 ∈ [⌊T/2⌋ + 1, T], target u_{p1} + u_{p2}.
 */
export function addingProblem(seqLen: number, batch: number, seed: number): AddingBatch {
  if (seqLen < 2) throw new Error(`adding problem: T = ${seqLen}, needs T ≥ 2`);
  const T = seqLen;
  const values = randomBitsRef({ seed, stream: RNN_STREAMS.addingValues }, T * batch);
  const picks = randomBitsRef({ seed, stream: RNN_STREAMS.addingPositions }, 2 * batch);
  const half = Math.floor(T / 2);
  const input = new Float32Array(T * batch * 2);
  const target = new Float32Array(batch);
  const positions: [number, number][] = [];
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < batch; b++) input[(t * batch + b) * 2] = uniformFromBits(values[t * batch + b]);
  }
  for (let b = 0; b < batch; b++) {
    const p1 = 1 + Math.floor(uniformFromBits(picks[2 * b]) * half);
    const p2 = half + 1 + Math.floor(uniformFromBits(picks[2 * b + 1]) * (T - half));
    positions.push([p1, p2]);
    input[((p1 - 1) * batch + b) * 2 + 1] = 1;
    input[((p2 - 1) * batch + b) * 2 + 1] = 1;
    target[b] = input[((p1 - 1) * batch + b) * 2] + input[((p2 - 1) * batch + b) * 2];
  }
  return { input, target, positions };
}

// ---------------------------------------------------------------------------
// Dump (schema gradstorm.dump/1)

/** The dump of a recurrent model (the RNN's, the LSTM's): its config type is the model's. */
export interface RecurrentDump<Config> {
  schema: 'gradstorm.dump/1';
  config: Config;
  loss: number;
  /** [T, B, in]. */
  input: { shape: number[]; data: number[] };
  /** probe: the cotangent g, [B, out] (last) or [T, B, out] (all); adding: the sums [B, 1]. */
  target: { shape: number[]; data: number[] } | null;
  /** RNN: Wxh, Whh, bh, Why, by; LSTM: W_ih, W_hh, b, W_hy, b_y. */
  params: DumpTensor[];
  grads: DumpTensor[];
}

/** The RNN's dump (schema gradstorm.dump/1). */
export type RnnDump = RecurrentDump<RnnConfig>;

export function rnnArenaTensors(plan: { tensors: readonly ArenaTensor[] }, arena: Float32Array): DumpTensor[] {
  return plan.tensors.map((t) => ({ name: t.name, shape: t.shape, data: Array.from(arena.subarray(t.offset, t.offset + t.length)) }));
}

/** The first step's dump of a recurrent model (a config without `lossAt` has its loss at the last step). */
export function buildRnnDump<Config extends Pick<RnnConfig, 'task' | 'seqLen' | 'batch' | 'input' | 'output'> & { lossAt?: LossAt }>(
  config: Config,
  plan: { tensors: readonly ArenaTensor[] },
  first: { loss: number; params: Float32Array; grads: Float32Array; input: Float32Array; target: Float32Array },
): RecurrentDump<Config> {
  const T = config.seqLen;
  const targetShape = config.task === 'adding' ? [config.batch, 1] : config.lossAt === 'all' ? [T, config.batch, config.output] : [config.batch, config.output];
  return {
    schema: 'gradstorm.dump/1',
    config,
    loss: first.loss,
    input: { shape: [T, config.batch, config.input], data: Array.from(first.input) },
    target: { shape: targetShape, data: Array.from(first.target) },
    params: rnnArenaTensors(plan, first.params),
    grads: rnnArenaTensors(plan, first.grads),
  };
}
