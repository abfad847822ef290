/**
 * The vanilla RNN on the trainer (src/scheduler/trainer.ts): its buffers,
 * initialisation, BPTT dispatches and statistics.
 *
 *   input     U = X W_xhᵀ + b_h over all T·rows rows            (ONE matmul nt, fused bias)
 *   forward   h_t = φ(u_t + h_{t−1} W_hhᵀ)   t = 1 … T           (rnn forward: T dispatches, or 1 persistent)
 *   readout   Y = H_r W_hyᵀ + b_y   H_r = h_T or h_1..T          (matmul nt, fused bias)
 *   loss      dY = ∂L/∂y, L                                     (loss kernels)
 *             dW_hy = dYᵀ H_r, db_y = 1ᵀ dY                       (matmul tn, nn)
 *             dh_t ← dY_t W_hy  (the direct term, all readout steps at once)   (matmul nn)
 *   backward  dh_t += dz_{t+1} W_hh, dz_t = dh_t ⊙ φ'(h_t)   t = T … 1   (rnn backward; truncation cuts the carry)
 *   weights   dW_hh = dZᵀ H_prev, dW_xh = dZᵀ X, db_h = 1ᵀ dZ over all T·rows rows   (3 matmuls)
 *   stats     the 5 gradients (the trainer), then ‖dh_t‖ and ‖h_t‖ per timestep and the 5 parameters
 */
import type { BufferBinding, Dispatch, GpuContext } from '../gpu/context.ts';
import { releaseDispatches } from '../gpu/context.ts';
import { GpuLimitError } from '../gpu/errors.ts';
import { MATMUL_MIN_WORKGROUP_TILE, prepareMatmul, type MatmulKernel, type MatmulVariant } from '../kernels/matmul.ts';
import { prepareOrthogonal, prepareRandomFill, type RandomFillKernel } from '../kernels/init.ts';
import type { Segment, SegmentStats } from '../kernels/reduce.ts';
import { prepareLossGradient, prepareLossValue, type LossGradientKernel, type LossValueKernel } from '../kernels/loss.ts';
import type { MatmulUse, MemoryPlan } from './mlp.ts';
import type { LossKind } from './config.ts';
import { defaultRnnVariant, prepareRnn, type RnnDims, type RnnVariant } from '../kernels/rnn.ts';
import type { AdapterSummary } from '../gpu/context.ts';
import type { DecodedStep, StepRecord, StepRecorder, TrainerArenas, TrainerModel, TrainingConfig } from '../scheduler/trainer.ts';
import { checkLargestBuffer, window } from '../scheduler/trainer.ts';
import {
  RNN_STREAMS,
  addingProblem,
  bpttSteps,
  describeRnnMemory,
  planRnn,
  rnnInitStd,
  rnnMatmulUses,
  rnnMemoryPlan,
  tensorPlan,
  type ArenaTensor,
  type LossAt,
  type RnnConfig,
  type RnnPlan,
  type RnnTensorPlan,
} from './rnn.ts';

/** One RNN tensor's statistics in a step. */
export type RnnTensorStats = RecurrentTensorStats<RnnTensorPlan['name']>;

export interface RnnTimestepStats {
  /** 1..T */
  t: number;
  /** ‖∂L/∂h_t‖_F over the batch (DESIGN.md). */
  hiddenGradNorm: number;
  /** log10 ‖∂L/∂h_t‖ (finite wherever some entry is, even past float64's range of the norm). */
  log10HiddenGradNorm: number;
  /** ‖h_t‖_F over the batch (forward). */
  hiddenNorm: number;
}

/** One RNN training step: loss, global gradient norm, clip scale, non-finite counts, per-tensor norms and ‖∂L/∂h_t‖ for every t. */
export interface RnnStepStats extends StepRecord {
  /** ‖g‖ over the 5 gradients before clipping; null whenever `nonfinite` > 0 (never shown as a number). */
  gradNorm: number | null;
  /** The first timestep (forward 1..T, then backward T..1) holding a non-finite value; null if none. */
  nonfiniteTimestep: number | null;
  /** Empty for an RNN (the run report schema's per-layer list); see `tensors`. */
  layers: [];
  tensors: RnnTensorStats[];
  timesteps: RnnTimestepStats[];
}

interface Buffers {
  /** X [T, rows, in] */
  input: GPUBuffer;
  /** U [T, rows, H] */
  u: GPUBuffer;
  /** h [T+1, rows, H] */
  h: GPUBuffer;
  /** dh, dz [T, rows, H] */
  dh: GPUBuffer;
  dz: GPUBuffer;
  /** y, target, dy [readoutRows, out] */
  y: GPUBuffer;
  target: GPUBuffer;
  dy: GPUBuffer;
  ones: GPUBuffer;
}

/** Records 0..4 are the gradients of Wxh, Whh, bh, Why, by (the trainer's), then these. */
interface StatsLayout {
  /** Records of ‖dh_t‖, t = 1..T. */
  hiddenGrads: number;
  /** Records of ‖h_t‖, t = 1..T. */
  hidden: number;
  /** Records of the 5 parameters. */
  params: number;
  records: number;
}

function statsLayout(T: number): StatsLayout {
  const hiddenGrads = 5;
  const hidden = hiddenGrads + T;
  const params = hidden + T;
  return { hiddenGrads, hidden, params, records: params + 5 };
}

/** Refuses, before anything is allocated or tuned, an RNN that does not fit the adapter. */
export function checkRnnFits(ctx: GpuContext, config: RnnConfig, plan: RnnPlan = planRnn(config)): void {
  checkRecurrentFits(ctx, 'RNN', rnnMemoryPlan(config, plan), config.seqLen * plan.rows);
}

/**
 * Refuses a recurrent model (the RNN, the LSTM) whose largest buffer the
 * adapter cannot bind, or whose `rowsAll` = T·rows rows one matmul dispatch
 * cannot cover.
 */
export function checkRecurrentFits(ctx: GpuContext, what: string, memory: MemoryPlan, rowsAll: number): void {
  checkLargestBuffer(ctx, what, memory.largestBuffer, '--seq-len, --width or --batch', describeRnnMemory(memory));
  const perDimension = ctx.limits.maxComputeWorkgroupsPerDimension;
  if (Math.ceil(rowsAll / MATMUL_MIN_WORKGROUP_TILE) > perDimension) {
    throw new GpuLimitError(`--seq-len × --batch = ${rowsAll} rows exceed what one matmul dispatch covers on this adapter (${perDimension * MATMUL_MIN_WORKGROUP_TILE}); reduce --seq-len or --batch`);
  }
}

/** The config fields every recurrent model has (RnnConfig, LstmConfig). */
export type RecurrentConfig = TaskDataConfig & TrainingConfig & { width: number };

/** The plan fields every recurrent model has (RnnPlan, LstmPlan). */
export interface RecurrentPlan<Name extends string> {
  tensors: ArenaTensor<Name>[];
  paramElements: number;
  /** Rows of a timestep slab (≥ B) and rows·H. */
  rows: number;
  slab: number;
}

/** One parameter tensor's statistics in a step (the RNN's and the LSTM's). */
export interface RecurrentTensorStats<Name extends string> {
  name: Name;
  /** ‖∂L/∂param‖ before clipping. */
  gradNorm: number;
  /** ‖param‖ when the step ran (before its update). */
  norm: number;
  maxAbsGrad: number;
  nonfinite: number;
}

/**
 * What the recurrent models (the RNN, the LSTM) share on the trainer: the
 * parameter arena's layout, their buffers' life cycle, [T, rows, H] slabs and
 * their readback, the dims of the recurrence kernels. Each model adds its
 * buffers, initialisation, step and statistics.
 */
export abstract class RecurrentModel<
  Config extends RecurrentConfig,
  Name extends string,
  Plan extends RecurrentPlan<Name>,
  /** Every recurrent model keeps X [T, rows, in], the target and h [T+1, rows, H] (slot 0 = h_0). */
  Buffers extends { input: GPUBuffer; target: GPUBuffer; h: GPUBuffer },
  Fields,
>
  implements TrainerModel<Fields>
{
  readonly paramElements: number;
  readonly paramSegments: readonly Segment[];
  readonly labels;
  protected buffers: Buffers | null = null;

  /** `what` names the model in labels and scopes ('RNN', 'LSTM'). */
  constructor(
    readonly config: Config,
    readonly plan: Plan,
    readonly statsRecords: number,
    what: string,
  ) {
    this.paramElements = plan.paramElements;
    this.paramSegments = plan.tensors.map((t) => ({ offset: t.offset, length: t.length }));
    const lower = what.toLowerCase();
    this.labels = { allocating: `${what} (T ${config.seqLen}, H ${config.width})`, recording: `${what} training step`, step: `${lower} step`, prefix: `${lower}.` };
  }

  protected get b(): Buffers {
    if (!this.buffers) throw new Error(`${this.labels.allocating}: buffers used before allocation`);
    return this.buffers;
  }

  protected get dims(): RnnDims {
    return { steps: this.config.seqLen, batch: this.config.batch, hidden: this.config.width, slab: this.plan.slab };
  }

  protected param(name: Name, arena: GPUBuffer): BufferBinding {
    const t = tensorPlan(this.plan, name);
    return window(arena, t.offset, t.length);
  }

  /** The readout's weight and bias, and their gradients: what recordReadout binds. */
  protected readoutParams(weight: Name, bias: Name, arenas: TrainerArenas): { W: BufferBinding; bias: BufferBinding; dW: BufferBinding; dBias: BufferBinding } {
    return { W: this.param(weight, arenas.params), bias: this.param(bias, arenas.params), dW: this.param(weight, arenas.grads), dBias: this.param(bias, arenas.grads) };
  }

  /**
   * The input, recurrent and bias gradients as single matmuls over all T·rows
   * rows: dW_rec = dZᵀ H_prev, dW_in = dZᵀ X, db = 1ᵀ dZ, with dZ [T·rows,
   * `gateWidth`] (H for the RNN, 4H for the LSTM's gates).
   */
  protected recordWeightGrads(
    rec: StepRecorder,
    k: { weightGrad: MatmulKernel; biasGrad: MatmulKernel },
    gateWidth: number,
    b: { dz: GPUBuffer; ones: GPUBuffer },
    names: { input: Name; recurrent: Name; bias: Name },
    grads: GPUBuffer,
  ): void {
    const { config, plan } = this;
    const T = config.seqLen;
    const rowsAll = T * plan.rows;
    rec.push(k.weightGrad.bind({ m: gateWidth, n: config.width, k: rowsAll }, { a: b.dz, b: window(this.b.h, 0, T * plan.slab), c: this.param(names.recurrent, grads) }));
    rec.push(k.weightGrad.bind({ m: gateWidth, n: config.input, k: rowsAll }, { a: b.dz, b: this.b.input, c: this.param(names.input, grads) }));
    rec.push(k.biasGrad.bind({ m: 1, n: gateWidth, k: rowsAll }, { a: b.ones, b: b.dz, c: this.param(names.bias, grads) }));
  }

  /** The gradient records 0..n−1 and the parameter records from `paramsFirst`, by tensor. */
  protected tensorStats(records: readonly SegmentStats[], paramsFirst: number): RecurrentTensorStats<Name>[] {
    return this.plan.tensors.map((t, i) => {
      const g = records[i];
      return { name: t.name, gradNorm: g.norm, norm: records[paramsFirst + i].norm, maxAbsGrad: g.maxAbs, nonfinite: g.nonfinite };
    });
  }

  /** Drops the padding rows of a [slots, rows, width] buffer: [slots, B, width]. */
  protected readSlabs(ctx: GpuContext, buffer: GPUBuffer, slots: number, width: number, firstSlot = 0): Promise<Float32Array> {
    return readSlabs(ctx, buffer, { rows: this.plan.rows, batch: this.config.batch }, slots, width, firstSlot);
  }

  /** X [T, B, in]. */
  readInput(ctx: GpuContext): Promise<Float32Array> {
    return this.readSlabs(ctx, this.b.input, this.config.seqLen, this.config.input);
  }

  /** Runs the initialisation's dispatches (fills, data) and releases them. */
  protected async runInitialisation(ctx: GpuContext, work: Dispatch[]): Promise<void> {
    try {
      await ctx.run(work, `initialising the ${this.labels.allocating}`);
    } finally {
      releaseDispatches(work);
    }
  }

  abstract allocate(ctx: GpuContext): void;
  abstract initialise(ctx: GpuContext, arenas: TrainerArenas): Promise<void>;
  abstract recordStep(ctx: GpuContext, arenas: TrainerArenas, rec: StepRecorder): Promise<void>;
  abstract recordStatistics(ctx: GpuContext, arenas: TrainerArenas, rec: StepRecorder): void;
  abstract decode(records: readonly SegmentStats[], loss: number): DecodedStep<Fields>;
  abstract readTarget(ctx: GpuContext): Promise<Float32Array>;

  destroy(): void {
    if (!this.buffers) return;
    for (const buffer of Object.values(this.buffers) as GPUBuffer[]) buffer.destroy();
    this.buffers = null;
  }
}

/** The RNN as a {@link TrainerModel}: the 5 tensors of one arena, [T, rows, H] slabs, BPTT. */
export class RnnModel extends RecurrentModel<RnnConfig, RnnTensorPlan['name'], RnnPlan, Buffers, Omit<RnnStepStats, keyof StepRecord>> {
  readonly variant: RnnVariant;
  private readonly layout: StatsLayout;

  constructor(
    config: RnnConfig,
    adapter: AdapterSummary,
    private readonly options: { variant?: RnnVariant; matmulVariant?: MatmulVariant },
  ) {
    const layout = statsLayout(config.seqLen);
    super(config, planRnn(config), layout.records, 'RNN');
    this.layout = layout;
    this.variant = options.variant ?? defaultRnnVariant(adapter, config.batch, config.width);
  }

  allocate(ctx: GpuContext): void {
    const { config, plan } = this;
    const T = config.seqLen;
    const readout = plan.readoutRows * config.output * 4;
    this.buffers = {
      input: ctx.createStorage('rnn.input', T * plan.rows * config.input * 4),
      u: ctx.createStorage('rnn.u', T * plan.slab * 4),
      h: ctx.createStorage('rnn.h', (T + 1) * plan.slab * 4),
      dh: ctx.createStorage('rnn.dh', T * plan.slab * 4),
      dz: ctx.createStorage('rnn.dz', T * plan.slab * 4),
      y: ctx.createStorage('rnn.y', readout),
      target: ctx.createStorage('rnn.target', readout),
      dy: ctx.createStorage('rnn.dy', readout),
      ones: ctx.upload('rnn.ones', new Float32Array(Math.max(T * plan.rows, plan.readoutRows)).fill(1)),
    };
  }

  /** The hidden states the readout reads: h_T (B rows) or h_1..T (T·rows rows). */
  private readoutHidden(): BufferBinding {
    const { config, plan } = this;
    const T = config.seqLen;
    return config.lossAt === 'all' ? window(this.b.h, plan.slab, T * plan.slab) : window(this.b.h, T * plan.slab, config.batch * config.width);
  }

  /** Where the readout's direct term lands in dh: slot T (B rows) or every slot. */
  private readoutHiddenGrad(): BufferBinding {
    const { config, plan } = this;
    const T = config.seqLen;
    return config.lossAt === 'all' ? window(this.b.dh, 0, T * plan.slab) : window(this.b.dh, (T - 1) * plan.slab, config.batch * config.width);
  }

  /** Parameters, input and target (see src/models/rnn.ts for how each is drawn). */
  async initialise(ctx: GpuContext, arenas: TrainerArenas): Promise<void> {
    const { config, plan } = this;
    const buffers = this.b;
    const seed = config.seed;
    const normal = await prepareRandomFill(ctx, 'normal');
    const work: Dispatch[] = [];
    const fill = (name: 'Wxh' | 'Whh' | 'Why', std: number) =>
      work.push(normal.bind({ seed, stream: RNN_STREAMS[name], count: tensorPlan(plan, name).length, std }, this.param(name, arenas.params)));
    fill('Wxh', rnnInitStd(config, 'Wxh'));
    fill('Why', rnnInitStd(config, 'Why'));
    if (config.init === 'gaussian') fill('Whh', rnnInitStd(config, 'Whh'));
    else if (config.init === 'orthogonal') {
      const orthogonal = await prepareOrthogonal(ctx);
      work.push(...orthogonal.bind({ seed, stream: RNN_STREAMS.Whh, rows: config.width, cols: config.width, gain: config.gain }, this.param('Whh', arenas.params)));
    } else {
      const eye = new Float32Array(config.width * config.width);
      for (let j = 0; j < config.width; j++) eye[j * config.width + j] = config.gain;
      ctx.device.queue.writeBuffer(arenas.params, tensorPlan(plan, 'Whh').offset * 4, eye);
    }
    if (config.biasStd > 0) {
      for (const name of ['bh', 'by'] as const) {
        work.push(normal.bind({ seed, stream: RNN_STREAMS[name], count: tensorPlan(plan, name).length, std: config.biasStd }, this.param(name, arenas.params)));
      }
    }
    taskData(ctx, normal, work, config, plan.rows, buffers);
    await this.runInitialisation(ctx, work);
  }

  /** Forward through time, the readout and loss, BPTT, the weight gradients (see the module comment). */
  async recordStep(ctx: GpuContext, arenas: TrainerArenas, rec: StepRecorder): Promise<void> {
    const { config, plan } = this;
    const buffers = this.b;
    const T = config.seqLen;
    const H = config.width;
    const rowsAll = T * plan.rows;
    const mv = this.options.matmulVariant;
    const uses = rnnMatmulUses(plan, config);
    const kernels = await prepareRecurrentKernels(ctx, uses, config.loss, mv);
    const { inputProjection } = kernels;
    const forward = await prepareRnn(ctx, { direction: 'forward', variant: this.variant, activation: config.activation }, { batch: config.batch, hidden: H });
    const backward = await prepareRnn(ctx, { direction: 'backward', variant: this.variant, activation: config.activation }, { batch: config.batch, hidden: H });
    const P = arenas.params;
    const G = arenas.grads;
    const readoutRows = plan.readoutRows;
    const hR = this.readoutHidden();

    // input projection of every timestep at once: U = X W_xhᵀ + b_h
    rec.push(inputProjection.bind({ m: rowsAll, n: H, k: config.input }, { a: buffers.input, b: this.param('Wxh', P), bias: this.param('bh', P), c: buffers.u }));
    // the recurrence, t = 1..T
    rec.push(...forward.bindForward(this.dims, { w: this.param('Whh', P), u: buffers.u, h: buffers.h }));
    recordReadout(rec, kernels, { rows: readoutRows, hidden: H, output: config.output }, {
      ...buffers,
      ...this.readoutParams('Why', 'by', arenas),
      hidden: hR,
      hiddenGrad: this.readoutHiddenGrad(),
    }, arenas.stats);
    // backward through time, t = T..1 (truncation: see backwardSteps)
    rec.push(...backward.bindBackward(this.dims, { lossAll: config.lossAt === 'all', bptt: bpttSteps(config) }, { w: this.param('Whh', P), h: buffers.h, dh: buffers.dh, dz: buffers.dz }));
    this.recordWeightGrads(rec, kernels, H, { dz: buffers.dz, ones: buffers.ones }, { input: 'Wxh', recurrent: 'Whh', bias: 'bh' }, G);
  }

  /** ‖dh_t‖ and ‖h_t‖ for every t, and the 5 parameters. */
  recordStatistics(_ctx: GpuContext, arenas: TrainerArenas, rec: StepRecorder): void {
    const { config, plan, layout } = this;
    const steps = Array.from({ length: config.seqLen }, (_, i) => i);
    rec.reduce(steps.map((i) => ({ offset: i * plan.slab, length: plan.slab })), this.b.dh, layout.hiddenGrads);
    rec.reduce(steps.map((i) => ({ offset: (i + 1) * plan.slab, length: plan.slab })), this.b.h, layout.hidden);
    rec.reduce(this.paramSegments, arenas.params, layout.params);
  }

  decode(records: readonly SegmentStats[]): DecodedStep<Omit<RnnStepStats, keyof StepRecord>> {
    const { layout, config } = this;
    const T = config.seqLen;
    const tensors: RnnTensorStats[] = this.tensorStats(records, layout.params);
    const timesteps: RnnTimestepStats[] = [];
    for (let t = 1; t <= T; t++) {
      const g = records[layout.hiddenGrads + t - 1];
      timesteps.push({ t, hiddenGradNorm: g.norm, log10HiddenGradNorm: g.log10Norm, hiddenNorm: records[layout.hidden + t - 1].norm });
    }
    let nonfiniteTimestep: number | null = null;
    for (let t = 1; t <= T && nonfiniteTimestep === null; t++) if (records[layout.hidden + t - 1].nonfinite > 0) nonfiniteTimestep = t;
    for (let t = T; t >= 1 && nonfiniteTimestep === null; t--) if (records[layout.hiddenGrads + t - 1].nonfinite > 0) nonfiniteTimestep = t;
    let nonfinite = tensors.reduce((s, x) => s + x.nonfinite, 0);
    for (let t = 0; t < T; t++) nonfinite += records[layout.hiddenGrads + t].nonfinite + records[layout.hidden + t].nonfinite;
    return { nonfinite, fields: { nonfiniteTimestep, layers: [], tensors, timesteps } };
  }

  // ---------------------------------------------------------------------------
  // Copies of GPU tensors (dense, padding rows dropped) for the dump and tests

  /** probe: g [B, out] or [T, B, out]; adding: the sums [B]. */
  async readTarget(ctx: GpuContext): Promise<Float32Array> {
    const { config } = this;
    if (config.lossAt === 'all') return this.readSlabs(ctx, this.b.target, config.seqLen, config.output);
    return ctx.readF32(this.b.target, config.batch * config.output);
  }

  /** h_t for t = 1..T: [T, B, H]. */
  async readHidden(ctx: GpuContext): Promise<Float32Array> {
    return this.readSlabs(ctx, this.b.h, this.config.seqLen, this.config.width, 1);
  }

  /** ∂L/∂h_t for t = 1..T: [T, B, H]. */
  async readHiddenGrads(ctx: GpuContext): Promise<Float32Array> {
    return this.readSlabs(ctx, this.b.dh, this.config.seqLen, this.config.width);
  }

}

// ---------------------------------------------------------------------------
// What the recurrent models share (the RNN here, the LSTM in lstm-model.ts)

/** Drops the padding rows of a [slots, rows, width] buffer: [slots, B, width]. */
export async function readSlabs(ctx: GpuContext, buffer: GPUBuffer, size: { rows: number; batch: number }, slots: number, width: number, firstSlot = 0): Promise<Float32Array> {
  const { rows, batch: B } = size;
  const all = await ctx.readF32(buffer, slots * rows * width, firstSlot * rows * width);
  const out = new Float32Array(slots * B * width);
  for (let s = 0; s < slots; s++) out.set(all.subarray(s * rows * width, s * rows * width + B * width), s * B * width);
  return out;
}

/** The fields of a recurrent model's config its data depends on (no `lossAt`: the loss at the last step). */
export type TaskDataConfig = Pick<RnnConfig, 'task' | 'seqLen' | 'batch' | 'input' | 'output' | 'seed'> & { lossAt?: LossAt };

/**
 * A recurrent model's input [T, rows, in] and target (see src/models/rnn.ts):
 * probe: x_t ~ N(0, 1) and g_t ~ N(0, 1), one Philox stream per timestep, B
 * real rows per slab (fills pushed onto `work`); adding: the adding problem's
 * batch, written at once. The same seed gives the RNN and the LSTM the same data.
 */
export function taskData(ctx: GpuContext, normal: RandomFillKernel, work: Dispatch[], config: TaskDataConfig, rows: number, buffers: { input: GPUBuffer; target: GPUBuffer }): void {
  const { seed, seqLen: T, batch: B } = config;
  if (config.task === 'adding') {
    const batch = addingProblem(T, B, seed);
    const padded = new Float32Array(T * rows * 2);
    for (let t = 0; t < T; t++) padded.set(batch.input.subarray(t * B * 2, (t + 1) * B * 2), t * rows * 2);
    ctx.device.queue.writeBuffer(buffers.input, 0, padded);
    ctx.device.queue.writeBuffer(buffers.target, 0, batch.target);
    return;
  }
  for (let t = 1; t <= T; t++) {
    work.push(normal.bind({ seed, stream: RNN_STREAMS.input(t), count: B * config.input, offset: (t - 1) * rows * config.input, std: 1 }, buffers.input));
  }
  if (config.lossAt === 'all') {
    for (let t = 1; t <= T; t++) {
      work.push(normal.bind({ seed, stream: RNN_STREAMS.target(t), count: B * config.output, offset: (t - 1) * rows * config.output, std: 1 }, buffers.target));
    }
  } else {
    work.push(normal.bind({ seed, stream: RNN_STREAMS.target(T), count: B * config.output, std: 1 }, buffers.target));
  }
}

/**
 * The matmuls and loss kernels of a recurrent model's step (its uses: input
 * projection, readout, weight and bias gradients, the direct term), with a
 * fixed matmul variant or the tuned ones.
 */
export async function prepareRecurrentKernels(
  ctx: GpuContext,
  uses: Record<'inputProjection' | 'readout' | 'weightGrad' | 'biasGrad' | 'directTerm', MatmulUse>,
  loss: LossKind,
  variant: MatmulVariant | undefined,
): Promise<ReadoutKernels & { inputProjection: MatmulKernel }> {
  return {
    inputProjection: await prepareMatmul(ctx, { ...uses.inputProjection, bias: true, activation: 'linear', variant }),
    readout: await prepareMatmul(ctx, { ...uses.readout, bias: true, activation: 'linear', variant }),
    weightGrad: await prepareMatmul(ctx, { ...uses.weightGrad, variant }),
    biasGrad: await prepareMatmul(ctx, { ...uses.biasGrad, variant }),
    directTerm: await prepareMatmul(ctx, { ...uses.directTerm, variant }),
    lossGradient: await prepareLossGradient(ctx, { loss }),
    lossValue: await prepareLossValue(ctx, { loss }),
  };
}

/** The kernels of a recurrent model's readout and loss. */
export interface ReadoutKernels {
  readout: MatmulKernel;
  lossGradient: LossGradientKernel;
  lossValue: LossValueKernel;
  weightGrad: MatmulKernel;
  biasGrad: MatmulKernel;
  directTerm: MatmulKernel;
}

/**
 * The readout and loss of a recurrent model, then its gradients:
 *   Y = H_r W_hyᵀ + b_y, dY = ∂L/∂Y, L → the stats buffer,
 *   dW_hy = dYᵀ H_r, db_y = 1ᵀ dY, and the direct term dY W_hy into `hiddenGrad`.
 */
export function recordReadout(
  rec: StepRecorder,
  k: ReadoutKernels,
  size: { rows: number; hidden: number; output: number },
  b: { hidden: BufferBinding; hiddenGrad: BufferBinding; y: GPUBuffer; target: GPUBuffer; dy: GPUBuffer; ones: GPUBuffer; W: BufferBinding; bias: BufferBinding; dW: BufferBinding; dBias: BufferBinding },
  stats: GPUBuffer,
): void {
  const { rows, hidden: H, output } = size;
  rec.push(k.readout.bind({ m: rows, n: output, k: H }, { a: b.hidden, b: b.W, bias: b.bias, c: b.y }));
  const outputs = rows * output;
  rec.push(k.lossGradient.bind({ count: outputs }, { y: b.y, target: b.target, dy: b.dy }));
  rec.push(k.lossValue.bind({ count: outputs, outputWord: rec.lossWord }, { y: b.y, target: b.target, out: stats }));
  rec.push(k.weightGrad.bind({ m: output, n: H, k: rows }, { a: b.dy, b: b.hidden, c: b.dW }));
  rec.push(k.biasGrad.bind({ m: 1, n: output, k: rows }, { a: b.ones, b: b.dy, c: b.dBias }));
  rec.push(k.directTerm.bind({ m: rows, n: H, k: output }, { a: b.dy, b: b.W, c: b.hiddenGrad }));
}
