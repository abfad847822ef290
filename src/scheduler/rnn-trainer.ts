/**
 * The RNN training step, recorded once as GPU work and replayed every step:
 * one command encoder, one compute pass, one submit, one small readback
 * (the pattern of MlpTrainer).
 *
 *   input     U = X W_xhᵀ + b_h over all T·rows rows            (ONE matmul nt, fused bias)
 *   forward   h_t = φ(u_t + h_{t−1} W_hhᵀ)   t = 1 … T           (rnn forward: T dispatches, or 1 persistent)
 *   readout   Y = H_r W_hyᵀ + b_y   H_r = h_T or h_1..T          (matmul nt, fused bias)
 *   loss      dY = ∂L/∂y, L                                     (loss kernels)
 *             dW_hy = dYᵀ H_r, db_y = 1ᵀ dY                       (matmul tn, nn)
 *             dh_t ← dY_t W_hy  (the direct term, all readout steps at once)   (matmul nn)
 *   backward  dh_t += dz_{t+1} W_hh, dz_t = dh_t ⊙ φ'(h_t)   t = T … 1   (rnn backward; truncation cuts the carry)
 *   weights   dW_hh = dZᵀ H_prev, dW_xh = dZᵀ X, db_h = 1ᵀ dZ over all T·rows rows   (3 matmuls)
 *   stats     per tensor (scale, ssq, max|x|, non-finite) of the 5 gradients, ‖dh_t‖ and ‖h_t‖ per
 *             timestep, the 5 parameters                        (segment reductions)
 *   clip      ‖g‖ over the 5 gradients → clip scale, on the GPU  (global norm)
 *   update    sgd | momentum | adam over the parameter arena     (optimizer)
 *   readback  stats + step state → staging ring
 */
import type { BufferBinding, Dispatch, GpuContext } from '../gpu/context.ts';
import { releaseDispatches } from '../gpu/context.ts';
import { GpuLimitError, formatBytes } from '../gpu/errors.ts';
import { StagingRing } from '../gpu/staging.ts';
import { MATMUL_MIN_WORKGROUP_TILE, prepareMatmul, type MatmulVariant } from '../kernels/matmul.ts';
import { prepareOrthogonal, prepareRandomFill, type RandomFillKernel } from '../kernels/init.ts';
import { SEGMENT_STATS_BYTES, decodeSegmentStats, prepareSegmentReduce, type Segment, type SegmentReduction } from '../kernels/reduce.ts';
import { prepareLossGradient, prepareLossValue } from '../kernels/loss.ts';
import { STEP_STATE_BYTES, decodeStepState, prepareGlobalNorm, prepareOptimizer } from '../kernels/optim.ts';
import { defaultRnnVariant, prepareRnn, type RnnDims, type RnnVariant } from '../kernels/rnn.ts';
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
  type RnnConfig,
  type RnnPlan,
  type RnnTensorPlan,
} from '../models/rnn.ts';
import { runPipelined, submitRecordedStep } from './step-loop.ts';

export interface RnnTensorStats {
  name: RnnTensorPlan['name'];
  /** ‖∂L/∂param‖ before clipping. */
  gradNorm: number;
  /** ‖param‖ when the step ran (before its update). */
  norm: number;
  maxAbsGrad: number;
  nonfinite: number;
}

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
export interface RnnStepStats {
  step: number;
  loss: number;
  /** ‖g‖ over the 5 gradients before clipping; null whenever `nonfinite` > 0 (never shown as a number). */
  gradNorm: number | null;
  /** The norm over the finite entries alone (as the GPU computed it, and what clipping used). */
  finiteGradNorm: number;
  clipScale: number;
  nonfinite: number;
  /** The first timestep (forward 1..T, then backward T..1) holding a non-finite value; null if none. */
  nonfiniteTimestep: number | null;
  /** Empty for an RNN (the run report schema's per-layer list); see `tensors`. */
  layers: [];
  tensors: RnnTensorStats[];
  timesteps: RnnTimestepStats[];
}

interface Buffers {
  params: GPUBuffer;
  grads: GPUBuffer;
  momentum?: GPUBuffer;
  variance?: GPUBuffer;
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
  stats: GPUBuffer;
  state: GPUBuffer;
}

function window(buffer: GPUBuffer, offsetElements: number, elements: number): BufferBinding {
  return { buffer, offset: offsetElements * 4, size: elements * 4 };
}

interface StatsLayout {
  /** Records 0..4: the gradients of Wxh, Whh, bh, Why, by (contiguous for the global norm). */
  grads: number;
  /** Records of ‖dh_t‖, t = 1..T. */
  hiddenGrads: number;
  /** Records of ‖h_t‖, t = 1..T. */
  hidden: number;
  /** Records of the 5 parameters. */
  params: number;
  records: number;
  lossWord: number;
  bytes: number;
}

export interface RnnTrainerOptions {
  /** step-per-dispatch or persistent; default per adapter and size (defaultRnnVariant). */
  variant?: RnnVariant;
  matmulVariant?: MatmulVariant;
}

/** A vanilla RNN on the GPU with its BPTT step recorded once: `RnnTrainer.create(ctx, config)`, then `run(steps, onStep)`; `destroy()` when done. */
export class RnnTrainer {
  readonly plan: RnnPlan;
  readonly variant: RnnVariant;
  private readonly dispatches: Dispatch[] = [];
  private readonly reductions: SegmentReduction[] = [];
  private ring!: StagingRing;
  private stepIndex = 0;
  private buffers!: Buffers;
  private layout!: StatsLayout;

  get dispatchCount(): number {
    return this.dispatches.length;
  }

  private constructor(
    readonly ctx: GpuContext,
    readonly config: RnnConfig,
    private readonly options: RnnTrainerOptions,
  ) {
    this.plan = planRnn(config);
    this.variant = options.variant ?? defaultRnnVariant(ctx.summary, config.batch, config.width);
  }

  static async create(ctx: GpuContext, config: RnnConfig, options: RnnTrainerOptions = {}): Promise<RnnTrainer> {
    RnnTrainer.checkFits(ctx, config);
    const trainer = new RnnTrainer(ctx, config, options);
    try {
      await ctx.scoped(`allocating the RNN (T ${config.seqLen}, H ${config.width})`, () => trainer.allocate());
      await trainer.initialise();
      await ctx.scoped('recording the RNN training step', () => trainer.record());
    } catch (error) {
      trainer.destroy();
      throw error;
    }
    return trainer;
  }

  private get dims(): RnnDims {
    return { steps: this.config.seqLen, batch: this.config.batch, hidden: this.config.width, slab: this.plan.slab };
  }

  /** Refuses, before anything is allocated or tuned, a config that does not fit the adapter. */
  static checkFits(ctx: GpuContext, config: RnnConfig, plan: RnnPlan = planRnn(config)): void {
    const memory = rnnMemoryPlan(config, plan);
    const limit = Math.min(ctx.limits.maxStorageBufferBindingSize, ctx.limits.maxBufferSize);
    if (memory.largestBuffer.bytes > limit) {
      throw new GpuLimitError(
        `this RNN does not fit the adapter: its ${memory.largestBuffer.name} need one buffer of ${formatBytes(memory.largestBuffer.bytes)}, ` +
          `the adapter binds at most ${formatBytes(limit)} (maxStorageBufferBindingSize). Reduce --seq-len, --width or --batch. ` +
          `Memory plan: ${describeRnnMemory(memory)}.`,
      );
    }
    const perDimension = ctx.limits.maxComputeWorkgroupsPerDimension;
    const rows = config.seqLen * plan.rows;
    if (Math.ceil(rows / MATMUL_MIN_WORKGROUP_TILE) > perDimension) {
      throw new GpuLimitError(`--seq-len × --batch = ${rows} rows exceed what one matmul dispatch covers on this adapter (${perDimension * MATMUL_MIN_WORKGROUP_TILE}); reduce --seq-len or --batch`);
    }
  }

  private statsLayout(): StatsLayout {
    const T = this.config.seqLen;
    const grads = 0;
    const hiddenGrads = 5;
    const hidden = hiddenGrads + T;
    const params = hidden + T;
    const records = params + 5;
    return { grads, hiddenGrads, hidden, params, records, lossWord: records * 4, bytes: records * SEGMENT_STATS_BYTES + 16 };
  }

  private allocate(): void {
    const { ctx, config, plan } = this;
    const T = config.seqLen;
    const p = plan.paramElements * 4;
    this.layout = this.statsLayout();
    const readout = plan.readoutRows * config.output * 4;
    this.buffers = {
      params: ctx.createStorage('rnn.parameters', p),
      grads: ctx.createStorage('rnn.gradients', p),
      momentum: config.optimizer === 'sgd' ? undefined : ctx.createStorage('rnn.optimizer.m', p),
      variance: config.optimizer === 'adam' ? ctx.createStorage('rnn.optimizer.v', p) : undefined,
      input: ctx.createStorage('rnn.input', T * plan.rows * config.input * 4),
      u: ctx.createStorage('rnn.u', T * plan.slab * 4),
      h: ctx.createStorage('rnn.h', (T + 1) * plan.slab * 4),
      dh: ctx.createStorage('rnn.dh', T * plan.slab * 4),
      dz: ctx.createStorage('rnn.dz', T * plan.slab * 4),
      y: ctx.createStorage('rnn.y', readout),
      target: ctx.createStorage('rnn.target', readout),
      dy: ctx.createStorage('rnn.dy', readout),
      ones: ctx.upload('rnn.ones', new Float32Array(Math.max(T * plan.rows, plan.readoutRows)).fill(1)),
      stats: ctx.createStorage('rnn.stats', this.layout.bytes),
      state: ctx.createStorage('rnn.step-state', STEP_STATE_BYTES),
    };
    this.ring = new StagingRing(ctx.device, 3, this.layout.bytes + STEP_STATE_BYTES, 'rnn-stats-readback');
  }

  private param(name: RnnTensorPlan['name'], arena: GPUBuffer): BufferBinding {
    const t = tensorPlan(this.plan, name);
    return window(arena, t.offset, t.length);
  }

  /** The hidden states the readout reads: h_T (B rows) or h_1..T (T·rows rows). */
  private readoutHidden(): BufferBinding {
    const { config, plan, buffers } = this;
    const T = config.seqLen;
    return config.lossAt === 'all' ? window(buffers.h, plan.slab, T * plan.slab) : window(buffers.h, T * plan.slab, config.batch * config.width);
  }

  /** Where the readout's direct term lands in dh: slot T (B rows) or every slot. */
  private readoutHiddenGrad(): BufferBinding {
    const { config, plan, buffers } = this;
    const T = config.seqLen;
    return config.lossAt === 'all' ? window(buffers.dh, 0, T * plan.slab) : window(buffers.dh, (T - 1) * plan.slab, config.batch * config.width);
  }

  /** Parameters, input and target (see src/models/rnn.ts for how each is drawn). */
  private async initialise(): Promise<void> {
    const { ctx, config, plan, buffers } = this;
    const seed = config.seed;
    const T = config.seqLen;
    const B = config.batch;
    const normal = await prepareRandomFill(ctx, 'normal');
    const work: Dispatch[] = [];
    const fill = (name: 'Wxh' | 'Whh' | 'Why', std: number) =>
      work.push(normal.bind({ seed, stream: RNN_STREAMS[name], count: tensorPlan(plan, name).length, std }, this.param(name, buffers.params)));
    fill('Wxh', rnnInitStd(config, 'Wxh'));
    fill('Why', rnnInitStd(config, 'Why'));
    if (config.init === 'gaussian') fill('Whh', rnnInitStd(config, 'Whh'));
    else if (config.init === 'orthogonal') {
      const orthogonal = await prepareOrthogonal(ctx);
      work.push(...orthogonal.bind({ seed, stream: RNN_STREAMS.Whh, rows: config.width, cols: config.width, gain: config.gain }, this.param('Whh', buffers.params)));
    } else {
      const eye = new Float32Array(config.width * config.width);
      for (let j = 0; j < config.width; j++) eye[j * config.width + j] = config.gain;
      ctx.device.queue.writeBuffer(buffers.params, tensorPlan(plan, 'Whh').offset * 4, eye);
    }
    if (config.biasStd > 0) {
      for (const name of ['bh', 'by'] as const) {
        work.push(normal.bind({ seed, stream: RNN_STREAMS[name], count: tensorPlan(plan, name).length, std: config.biasStd }, this.param(name, buffers.params)));
      }
    }
    if (config.task === 'probe') {
      this.probeData(normal, work);
    } else {
      const batch = addingProblem(T, B, seed);
      const padded = new Float32Array(T * plan.rows * 2);
      for (let t = 0; t < T; t++) padded.set(batch.input.subarray(t * B * 2, (t + 1) * B * 2), t * plan.rows * 2);
      ctx.device.queue.writeBuffer(buffers.input, 0, padded);
      ctx.device.queue.writeBuffer(buffers.target, 0, batch.target);
    }
    try {
      await ctx.run(work, 'initialising the RNN');
    } finally {
      releaseDispatches(work);
    }
  }

  /** probe: x_t ~ N(0, 1) and g_t ~ N(0, 1), one Philox stream per timestep, B real rows per slab. */
  private probeData(normal: RandomFillKernel, work: Dispatch[]): void {
    const { config, plan, buffers } = this;
    const { seed, seqLen: T, batch: B } = config;
    for (let t = 1; t <= T; t++) {
      work.push(normal.bind({ seed, stream: RNN_STREAMS.input(t), count: B * config.input, offset: (t - 1) * plan.rows * config.input, std: 1 }, buffers.input));
    }
    if (config.lossAt === 'all') {
      for (let t = 1; t <= T; t++) {
        work.push(normal.bind({ seed, stream: RNN_STREAMS.target(t), count: B * config.output, offset: (t - 1) * plan.rows * config.output, std: 1 }, buffers.target));
      }
    } else {
      work.push(normal.bind({ seed, stream: RNN_STREAMS.target(T), count: B * config.output, std: 1 }, buffers.target));
    }
  }

  /** Records the whole step (see the module comment); replayed every step. */
  private async record(): Promise<void> {
    const { ctx, config, plan, buffers, layout } = this;
    const T = config.seqLen;
    const H = config.width;
    const rowsAll = T * plan.rows;
    const mv = this.options.matmulVariant;
    const uses = rnnMatmulUses(plan, config);
    const [inputProjection, readout, weightGrad, biasGrad, directTerm, forward, backward, lossGradient, lossValue, reduce, globalNorm, optimizer] = [
      await prepareMatmul(ctx, { ...uses.inputProjection, bias: true, activation: 'linear', variant: mv }),
      await prepareMatmul(ctx, { ...uses.readout, bias: true, activation: 'linear', variant: mv }),
      await prepareMatmul(ctx, { ...uses.weightGrad, variant: mv }),
      await prepareMatmul(ctx, { ...uses.biasGrad, variant: mv }),
      await prepareMatmul(ctx, { ...uses.directTerm, variant: mv }),
      await prepareRnn(ctx, { direction: 'forward', variant: this.variant, activation: config.activation }, { batch: config.batch, hidden: H }),
      await prepareRnn(ctx, { direction: 'backward', variant: this.variant, activation: config.activation }, { batch: config.batch, hidden: H }),
      await prepareLossGradient(ctx, { loss: config.loss }),
      await prepareLossValue(ctx, { loss: config.loss }),
      await prepareSegmentReduce(ctx),
      await prepareGlobalNorm(ctx, { clip: config.clip.kind }),
      await prepareOptimizer(ctx, { optimizer: config.optimizer, clip: config.clip.kind }),
    ];
    const d = this.dispatches;
    const P = buffers.params;
    const G = buffers.grads;
    const readoutRows = plan.readoutRows;
    const hR = this.readoutHidden();

    // input projection of every timestep at once: U = X W_xhᵀ + b_h
    d.push(inputProjection.bind({ m: rowsAll, n: H, k: config.input }, { a: buffers.input, b: this.param('Wxh', P), bias: this.param('bh', P), c: buffers.u }));
    // the recurrence, t = 1..T
    d.push(...forward.bindForward(this.dims, { w: this.param('Whh', P), u: buffers.u, h: buffers.h }));
    // readout and loss
    d.push(readout.bind({ m: readoutRows, n: config.output, k: H }, { a: hR, b: this.param('Why', P), bias: this.param('by', P), c: buffers.y }));
    const outputs = readoutRows * config.output;
    d.push(lossGradient.bind({ count: outputs }, { y: buffers.y, target: buffers.target, dy: buffers.dy }));
    d.push(lossValue.bind({ count: outputs, outputWord: layout.lossWord }, { y: buffers.y, target: buffers.target, out: buffers.stats }));
    // readout gradients and the direct term dY W_hy into dh
    d.push(weightGrad.bind({ m: config.output, n: H, k: readoutRows }, { a: buffers.dy, b: hR, c: this.param('Why', G) }));
    d.push(biasGrad.bind({ m: 1, n: config.output, k: readoutRows }, { a: buffers.ones, b: buffers.dy, c: this.param('by', G) }));
    d.push(directTerm.bind({ m: readoutRows, n: H, k: config.output }, { a: buffers.dy, b: this.param('Why', P), c: this.readoutHiddenGrad() }));
    // backward through time, t = T..1 (truncation: see backwardSteps)
    d.push(...backward.bindBackward(this.dims, { lossAll: config.lossAt === 'all', bptt: bpttSteps(config) }, { w: this.param('Whh', P), h: buffers.h, dh: buffers.dh, dz: buffers.dz }));
    // weight gradients over all T·rows rows at once
    d.push(weightGrad.bind({ m: H, n: H, k: rowsAll }, { a: buffers.dz, b: window(buffers.h, 0, T * plan.slab), c: this.param('Whh', G) }));
    d.push(weightGrad.bind({ m: H, n: config.input, k: rowsAll }, { a: buffers.dz, b: buffers.input, c: this.param('Wxh', G) }));
    d.push(biasGrad.bind({ m: 1, n: H, k: rowsAll }, { a: buffers.ones, b: buffers.dz, c: this.param('bh', G) }));
    // statistics
    const track = (r: SegmentReduction) => {
      this.reductions.push(r);
      d.push(...r.dispatches);
    };
    const tensorSegments: Segment[] = plan.tensors.map((t) => ({ offset: t.offset, length: t.length }));
    track(reduce.bind(tensorSegments, { data: G, stats: buffers.stats }, { outputOffset: layout.grads }));
    const steps = Array.from({ length: T }, (_, i) => i);
    track(reduce.bind(steps.map((i) => ({ offset: i * plan.slab, length: plan.slab })), { data: buffers.dh, stats: buffers.stats }, { outputOffset: layout.hiddenGrads }));
    track(reduce.bind(steps.map((i) => ({ offset: (i + 1) * plan.slab, length: plan.slab })), { data: buffers.h, stats: buffers.stats }, { outputOffset: layout.hidden }));
    track(reduce.bind(tensorSegments, { data: P, stats: buffers.stats }, { outputOffset: layout.params }));
    // global norm and clip scale on the GPU, then the update
    const clipThreshold = config.clip.kind === 'none' ? 0 : config.clip.threshold;
    d.push(globalNorm.bind({ first: layout.grads, count: 5, clipThreshold }, { stats: buffers.stats, state: buffers.state }));
    d.push(optimizer.bind(
      { count: plan.paramElements, lr: config.lr, clipThreshold },
      { params: P, grads: G, state: buffers.state, ...(buffers.momentum ? { m: buffers.momentum } : {}), ...(buffers.variance ? { v: buffers.variance } : {}) },
    ));
  }

  /** Submits one step; resolves with its statistics once they are read back. */
  async submitStep(): Promise<RnnStepStats> {
    const step = ++this.stepIndex;
    const bytes = await submitRecordedStep(this.ctx, this.ring, `rnn step ${step}`, this.dispatches, this.buffers.stats, this.layout.bytes, this.buffers.state);
    return this.decode(step, bytes);
  }

  /** Runs `steps` steps with one in flight while the previous one is read back; `onStep` in order. */
  run(steps: number, onStep: (stats: RnnStepStats) => void, shouldStop?: () => boolean): Promise<void> {
    return runPipelined(steps, () => this.submitStep(), onStep, shouldStop);
  }

  private decode(step: number, bytes: ArrayBuffer): RnnStepStats {
    const { layout, config, plan } = this;
    const T = config.seqLen;
    const records = decodeSegmentStats(bytes.slice(0, layout.records * SEGMENT_STATS_BYTES), layout.records);
    const loss = new Float32Array(bytes, layout.lossWord * 4, 1)[0];
    const state = decodeStepState(bytes.slice(layout.bytes));
    const tensors: RnnTensorStats[] = plan.tensors.map((t, i) => {
      const g = records[layout.grads + i];
      return { name: t.name, gradNorm: g.norm, norm: records[layout.params + i].norm, maxAbsGrad: g.maxAbs, nonfinite: g.nonfinite };
    });
    const timesteps: RnnTimestepStats[] = [];
    for (let t = 1; t <= T; t++) {
      const g = records[layout.hiddenGrads + t - 1];
      timesteps.push({ t, hiddenGradNorm: g.norm, log10HiddenGradNorm: g.log10Norm, hiddenNorm: records[layout.hidden + t - 1].norm });
    }
    let nonfiniteTimestep: number | null = null;
    for (let t = 1; t <= T && nonfiniteTimestep === null; t++) if (records[layout.hidden + t - 1].nonfinite > 0) nonfiniteTimestep = t;
    for (let t = T; t >= 1 && nonfiniteTimestep === null; t--) if (records[layout.hiddenGrads + t - 1].nonfinite > 0) nonfiniteTimestep = t;
    let nonfinite = tensors.reduce((s, x) => s + x.nonfinite, 0) + (Number.isFinite(loss) ? 0 : 1);
    for (let t = 0; t < T; t++) nonfinite += records[layout.hiddenGrads + t].nonfinite + records[layout.hidden + t].nonfinite;
    return { step, loss, gradNorm: nonfinite > 0 ? null : state.gradNorm, finiteGradNorm: state.gradNorm, clipScale: state.clipScale, nonfinite, nonfiniteTimestep, layers: [], tensors, timesteps };
  }

  // ---------------------------------------------------------------------------
  // Copies of GPU tensors (dense, padding rows dropped) for the dump and tests

  async readParams(): Promise<Float32Array> {
    return this.ctx.readF32(this.buffers.params, this.plan.paramElements);
  }

  async readGrads(): Promise<Float32Array> {
    return this.ctx.readF32(this.buffers.grads, this.plan.paramElements);
  }

  /** Drops the padding rows of a [slots, rows, width] buffer: [slots, B, width]. */
  private async readSlabs(buffer: GPUBuffer, slots: number, width: number, firstSlot = 0): Promise<Float32Array> {
    const { rows } = this.plan;
    const B = this.config.batch;
    const all = await this.ctx.readF32(buffer, slots * rows * width, firstSlot * rows * width);
    const out = new Float32Array(slots * B * width);
    for (let s = 0; s < slots; s++) out.set(all.subarray(s * rows * width, s * rows * width + B * width), s * B * width);
    return out;
  }

  /** X [T, B, in]. */
  async readInput(): Promise<Float32Array> {
    return this.readSlabs(this.buffers.input, this.config.seqLen, this.config.input);
  }

  /** probe: g [B, out] or [T, B, out]; adding: the sums [B]. */
  async readTarget(): Promise<Float32Array> {
    const { config } = this;
    if (config.lossAt === 'all') return this.readSlabs(this.buffers.target, config.seqLen, config.output);
    return this.ctx.readF32(this.buffers.target, config.batch * config.output);
  }

  /** h_t for t = 1..T: [T, B, H]. */
  async readHidden(): Promise<Float32Array> {
    return this.readSlabs(this.buffers.h, this.config.seqLen, this.config.width, 1);
  }

  /** ∂L/∂h_t for t = 1..T: [T, B, H]. */
  async readHiddenGrads(): Promise<Float32Array> {
    return this.readSlabs(this.buffers.dh, this.config.seqLen, this.config.width);
  }

  destroy(): void {
    releaseDispatches(this.dispatches);
    this.dispatches.length = 0;
    for (const r of this.reductions) r.destroy();
    this.ring?.destroy();
    if (!this.buffers) return;
    for (const buffer of Object.values(this.buffers) as (GPUBuffer | undefined)[]) buffer?.destroy();
  }
}
