/**
 * The MLP training step, recorded once as GPU work and replayed every step:
 * one command encoder, one compute pass, one submit, one small readback.
 *
 *   forward   h_l = φ(h_{l−1} W_lᵀ + b_l)          l = 1 … L   (matmul nt, fused bias + φ; readout linear)
 *   loss      dY = ∂L/∂y, L itself               (loss kernels)
 *   backward  dW_l = dZ_lᵀ h_{l−1}                 l = L … 1   (matmul tn)
 *             db_l = 1ᵀ dZ_l                                   (matmul nn, 1×B ones)
 *             dZ_{l−1} = (dZ_l W_l) ⊙ φ'(h_{l−1})             (matmul nn, fused mask)
 *   stats     per tensor (scale, ssq, max|x|, non-finite) of dW, db, dZ, h, W   (segment reductions)
 *   clip      ‖g‖ over every dW and db → clip scale, on the GPU              (global norm)
 *   update    sgd | momentum | adam over the parameter arena, reading the clip scale   (optimizer)
 *   readback  the stats and step-state words → staging ring; step k is read while k+1 runs
 */
import type { BufferBinding, Dispatch, GpuContext } from '../gpu/context.ts';
import { releaseDispatches } from '../gpu/context.ts';
import { runPipelined, submitRecordedStep } from './step-loop.ts';
import { GpuLimitError, formatBytes } from '../gpu/errors.ts';
import { StagingRing } from '../gpu/staging.ts';
import { MATMUL_MIN_WORKGROUP_TILE, prepareMatmul, type MatmulKernel, type MatmulVariant } from '../kernels/matmul.ts';
import { prepareRandomFill, prepareOrthogonal } from '../kernels/init.ts';
import { prepareSegmentReduce, decodeSegmentStats, SEGMENT_STATS_BYTES, type Segment, type SegmentReduction, type SegmentStats } from '../kernels/reduce.ts';
import { prepareLossGradient, prepareLossValue } from '../kernels/loss.ts';
import { prepareGlobalNorm, prepareOptimizer, decodeStepState, STEP_STATE_BYTES } from '../kernels/optim.ts';
import type { MlpConfig } from '../models/config.ts';
import { describeMemory, initStd, memoryPlan, mlpMatmulUses, planMlp, type LayerPlan, type MlpPlan } from '../models/mlp.ts';

/** RNG streams: every tensor draws its own numbers from the run's seed. */
const STREAM = {
  weight: (l: number) => 2 * l,
  bias: (l: number) => 2 * l + 1,
  input: 1_000_001,
  target: 1_000_002,
  teacherHidden: 1_000_003,
  teacherReadout: 1_000_004,
} as const;

/** One layer of one step: Frobenius norms of ∂L/∂W, ∂L/∂b, δ = ∂L/∂z, the activation and the weights, and max |∂L/∂W|. Layer `index` runs 1..L from the input. */
export interface LayerStats {
  index: number;
  weightGradNorm: number;
  biasGradNorm: number;
  deltaNorm: number;
  activationNorm: number;
  weightNorm: number;
  maxAbsGrad: number;
  /** Non-finite values in this layer's activations, deltas and gradients. */
  nonfinite: number;
}

/** One training step as the GPU measured it: loss, global gradient norm, clip scale, non-finite counts and every layer's norms. */
export interface StepStats {
  step: number;
  loss: number;
  /**
   * ‖g‖ over every weight and bias gradient, before clipping; null whenever
   * `nonfinite` > 0: a gradient with non-finite entries has no norm, and is
   * never shown as a number (print it with describeGradNorm).
   */
  gradNorm: number | null;
  /** The norm over the finite entries alone (as the GPU computed it, and what clipping used). */
  finiteGradNorm: number;
  clipScale: number;
  nonfinite: number;
  /** The first layer, in the order the step computes them (forward 1..L, then backward L..1), holding a non-finite value. */
  nonfiniteLayer: number | null;
  layers: LayerStats[];
}

interface Buffers {
  params: GPUBuffer;
  grads: GPUBuffer;
  momentum?: GPUBuffer;
  variance?: GPUBuffer;
  activations: [GPUBuffer, GPUBuffer];
  deltas: [GPUBuffer, GPUBuffer];
  input: GPUBuffer;
  target: GPUBuffer;
  ones: GPUBuffer;
  stats: GPUBuffer;
  state: GPUBuffer;
}

function window(buffer: GPUBuffer, offsetElements: number, elements: number): BufferBinding {
  return { buffer, offset: offsetElements * 4, size: elements * 4 };
}

/** Where each statistic of the step lands in the stats buffer (records of 4 words). */
interface StatsLayout {
  /** dW_l at 2(l−1), db_l at 2(l−1)+1: contiguous, for the global norm. */
  gradRecord: (l: number, kind: 'weight' | 'bias') => number;
  deltaRecord: number[];
  activationRecord: number[];
  weightRecord: number[];
  records: number;
  /** Word offset of the loss value. */
  lossWord: number;
  bytes: number;
}

/**
 * An MLP on the GPU with its training step recorded once: `MlpTrainer.create(ctx, config)`,
 * then `run(steps, onStep)` or step by step (`submitStep()`), `readParams()`,
 * `readGrads()`, and `destroy()` when done.
 */
export class MlpTrainer {
  readonly plan: MlpPlan;
  private readonly dispatches: Dispatch[] = [];
  private readonly reductions: SegmentReduction[] = [];
  private ring!: StagingRing;
  private stepIndex = 0;
  private buffers!: Buffers;
  private layout!: StatsLayout;
  /** Dispatches recorded per step (for reports and benchmarks). */
  get dispatchCount(): number {
    return this.dispatches.length;
  }

  private constructor(
    readonly ctx: GpuContext,
    readonly config: MlpConfig,
    readonly matmulVariant: MatmulVariant | undefined,
  ) {
    this.plan = planMlp(config);
  }

  /**
   * Plans memory (refusing configs that do not fit the adapter, with both
   * numbers and the flag to change), allocates, initialises parameters, input
   * and target on the GPU, and records the step.
   */
  static async create(ctx: GpuContext, config: MlpConfig, options: { matmulVariant?: MatmulVariant } = {}): Promise<MlpTrainer> {
    MlpTrainer.checkFits(ctx, config);
    const trainer = new MlpTrainer(ctx, config, options.matmulVariant);
    try {
      await ctx.scoped(`allocating the ${config.depth}-layer MLP`, () => trainer.allocate());
      await trainer.initialise();
      await ctx.scoped('recording the training step', () => trainer.record());
    } catch (error) {
      trainer.destroy();
      throw error;
    }
    return trainer;
  }

  /** Refuses, before anything is allocated or tuned, a config that does not fit the adapter: both numbers and the flag to change. */
  static checkFits(ctx: GpuContext, config: MlpConfig, plan: MlpPlan = planMlp(config)): void {
    const memory = memoryPlan(config, plan);
    const limit = Math.min(ctx.limits.maxStorageBufferBindingSize, ctx.limits.maxBufferSize);
    if (memory.largestBuffer.bytes > limit) {
      const name = memory.largestBuffer.name;
      const flag = name.startsWith('activations') || name.startsWith('deltas') || name === 'teacher hidden layer'
        ? '--depth, --width or --batch'
        : name === 'input' || name === 'target'
          ? '--batch, --input or --output'
          : name === 'teacher weights'
            ? '--width, --input or --output'
            : '--depth or --width';
      throw new GpuLimitError(
        `this MLP does not fit the adapter: its ${memory.largestBuffer.name} need one buffer of ${formatBytes(memory.largestBuffer.bytes)}, ` +
          `the adapter binds at most ${formatBytes(limit)} (maxStorageBufferBindingSize). Reduce ${flag}. ` +
          `Memory plan: ${describeMemory(memory)}.`,
      );
    }
    const perDimension = ctx.limits.maxComputeWorkgroupsPerDimension;
    const rowsPerGroup = MATMUL_MIN_WORKGROUP_TILE;
    if (Math.ceil(config.batch / rowsPerGroup) > perDimension || Math.ceil(Math.max(config.width, config.input, config.output) / rowsPerGroup) > perDimension) {
      throw new GpuLimitError(`--batch, --width, --input and --output must stay below ${perDimension * rowsPerGroup} on this adapter`);
    }
  }

  private statsLayout(): StatsLayout {
    const L = this.config.depth;
    const deltaRecord: number[] = [];
    const activationRecord: number[] = [];
    const weightRecord: number[] = [];
    let next = 2 * L;
    // Parity arenas: each reduction writes its segments (layers of one parity, ascending) contiguously.
    for (const parity of [0, 1]) for (let l = 1; l <= L; l++) if (l % 2 === parity) deltaRecord[l] = next++;
    for (const parity of [0, 1]) for (let l = 1; l <= L; l++) if (l % 2 === parity) activationRecord[l] = next++;
    for (let l = 1; l <= L; l++) weightRecord[l] = next++;
    const records = next;
    return {
      gradRecord: (l, kind) => 2 * (l - 1) + (kind === 'bias' ? 1 : 0),
      deltaRecord,
      activationRecord,
      weightRecord,
      records,
      lossWord: records * 4,
      bytes: records * SEGMENT_STATS_BYTES + 16,
    };
  }

  private allocate(): void {
    const { ctx, config, plan } = this;
    const p = plan.paramElements * 4;
    const [even, odd] = plan.activationArenaElements;
    this.layout = this.statsLayout();
    this.buffers = {
      params: ctx.createStorage('parameters', p),
      grads: ctx.createStorage('gradients', p),
      momentum: config.optimizer === 'sgd' ? undefined : ctx.createStorage('optimizer.m', p),
      variance: config.optimizer === 'adam' ? ctx.createStorage('optimizer.v', p) : undefined,
      activations: [ctx.createStorage('activations.even', Math.max(1, even) * 4), ctx.createStorage('activations.odd', Math.max(1, odd) * 4)],
      deltas: [ctx.createStorage('deltas.even', Math.max(1, even) * 4), ctx.createStorage('deltas.odd', Math.max(1, odd) * 4)],
      input: ctx.createStorage('input', config.batch * config.input * 4),
      target: ctx.createStorage('target', config.batch * config.output * 4),
      ones: ctx.upload('ones', new Float32Array(config.batch).fill(1)),
      stats: ctx.createStorage('stats', this.layout.bytes),
      state: ctx.createStorage('step-state', STEP_STATE_BYTES),
    };
    this.ring = new StagingRing(ctx.device, 3, this.layout.bytes + STEP_STATE_BYTES, 'stats-readback');
  }

  /** h_l as a binding: h_0 is the input, h_l (l ≥ 1) lives in activation arena l % 2. */
  private hidden(l: number): BufferBinding {
    const { config, plan, buffers } = this;
    if (l === 0) return buffers.input;
    const layer = plan.layers[l - 1];
    return window(buffers.activations[l % 2], plan.activationOffsets[l], config.batch * layer.fanOut);
  }

  private delta(l: number): BufferBinding {
    const layer = this.plan.layers[l - 1];
    return window(this.buffers.deltas[l % 2], this.plan.activationOffsets[l], this.config.batch * layer.fanOut);
  }

  private weight(layer: LayerPlan, arena: GPUBuffer): BufferBinding {
    return window(arena, layer.weightOffset, layer.fanIn * layer.fanOut);
  }

  private bias(layer: LayerPlan, arena: GPUBuffer): BufferBinding {
    return window(arena, layer.biasOffset, layer.fanOut);
  }

  /** Parameters, input and target, drawn on the GPU from the seed. */
  private async initialise(): Promise<void> {
    const { ctx, config, plan, buffers } = this;
    const normal = await prepareRandomFill(ctx, 'normal');
    const seed = config.seed;
    const work: Dispatch[] = [];
    const orthogonal = config.init === 'orthogonal' ? await prepareOrthogonal(ctx) : null;
    for (const layer of plan.layers) {
      if (orthogonal) {
        work.push(...orthogonal.bind({ seed, stream: STREAM.weight(layer.index), rows: layer.fanOut, cols: layer.fanIn, gain: config.gain }, this.weight(layer, buffers.params)));
      } else {
        const std = initStd(config, layer.fanIn, layer.fanOut);
        work.push(normal.bind({ seed, stream: STREAM.weight(layer.index), count: layer.fanIn * layer.fanOut, std }, this.weight(layer, buffers.params)));
      }
      if (config.biasStd > 0) {
        work.push(normal.bind({ seed, stream: STREAM.bias(layer.index), count: layer.fanOut, std: config.biasStd }, this.bias(layer, buffers.params)));
      }
    }
    work.push(normal.bind({ seed, stream: STREAM.input, count: config.batch * config.input, std: 1 }, buffers.input));
    if (config.loss === 'probe') {
      // The probe's fixed cotangent g ~ N(0, 1): ∂L/∂y = g.
      work.push(normal.bind({ seed, stream: STREAM.target, count: config.batch * config.output, std: 1 }, buffers.target));
    }
    try {
      await ctx.run(work, 'initialising parameters');
    } finally {
      releaseDispatches(work);
    }
    if (config.loss === 'mse') await this.teacherTargets(normal);
  }

  /**
   * Teacher–student regression: a fixed random teacher (input → width tanh →
   * output, weights N(0, 1/fan_in), its own RNG streams) maps the gaussian
   * input to the targets, computed once on the GPU.
   */
  private async teacherTargets(normal: Awaited<ReturnType<typeof prepareRandomFill>>): Promise<void> {
    const { ctx, config, buffers } = this;
    const hiddenWidth = config.width;
    const w1 = ctx.createStorage('teacher.W1', hiddenWidth * config.input * 4);
    const w2 = ctx.createStorage('teacher.W2', config.output * hiddenWidth * 4);
    const hidden = ctx.createStorage('teacher.h', config.batch * hiddenWidth * 4);
    try {
      const layer1 = await prepareMatmul(ctx, { layout: 'nt', activation: 'tanh', variant: this.matmulVariant });
      const layer2 = await prepareMatmul(ctx, { layout: 'nt', variant: this.matmulVariant });
      const work = [
        normal.bind({ seed: config.seed, stream: STREAM.teacherHidden, count: hiddenWidth * config.input, std: 1 / Math.sqrt(config.input) }, w1),
        normal.bind({ seed: config.seed, stream: STREAM.teacherReadout, count: config.output * hiddenWidth, std: 1 / Math.sqrt(hiddenWidth) }, w2),
        layer1.bind({ m: config.batch, n: hiddenWidth, k: config.input }, { a: buffers.input, b: w1, c: hidden }),
        layer2.bind({ m: config.batch, n: config.output, k: hiddenWidth }, { a: hidden, b: w2, c: buffers.target }),
      ];
      try {
        await ctx.run(work, 'teacher targets');
      } finally {
        releaseDispatches(work);
      }
    } finally {
      w1.destroy();
      w2.destroy();
      hidden.destroy();
    }
  }

  /** Records the whole step: this list of dispatches is replayed every step. */
  private async record(): Promise<void> {
    const { ctx, config, plan, buffers, layout } = this;
    const B = config.batch;
    const L = config.depth;
    const variant = this.matmulVariant;
    const uses = mlpMatmulUses(plan, B);
    const forwardHidden = await prepareMatmul(ctx, { ...uses.forwardHidden, bias: true, activation: config.activation, variant });
    const forwardReadout = await prepareMatmul(ctx, { ...uses.forwardReadout, bias: true, activation: 'linear', variant });
    const weightGrad = await prepareMatmul(ctx, { ...uses.weightGrad, variant });
    const biasGrad = await prepareMatmul(ctx, { ...uses.biasGrad, variant });
    const inputGrad: MatmulKernel = await prepareMatmul(ctx, { ...uses.inputGrad, gradMask: config.activation, variant });
    const lossGradient = await prepareLossGradient(ctx, { loss: config.loss });
    const lossValue = await prepareLossValue(ctx, { loss: config.loss });
    const reduce = await prepareSegmentReduce(ctx);
    const globalNorm = await prepareGlobalNorm(ctx, { clip: config.clip.kind });
    const optimizer = await prepareOptimizer(ctx, { optimizer: config.optimizer, clip: config.clip.kind });
    const d = this.dispatches;

    // forward, layer by layer
    for (const layer of plan.layers) {
      const kernel = layer.readout ? forwardReadout : forwardHidden;
      d.push(kernel.bind(
        { m: B, n: layer.fanOut, k: layer.fanIn },
        { a: this.hidden(layer.index - 1), b: this.weight(layer, buffers.params), bias: this.bias(layer, buffers.params), c: this.hidden(layer.index) },
      ));
    }
    // loss: dZ_L = ∂L/∂y (the readout is linear)
    const outputs = B * config.output;
    d.push(lossGradient.bind({ count: outputs }, { y: this.hidden(L), target: buffers.target, dy: this.delta(L) }));
    d.push(lossValue.bind({ count: outputs, outputWord: layout.lossWord }, { y: this.hidden(L), target: buffers.target, out: buffers.stats }));
    // backward, in reverse
    for (let l = L; l >= 1; l--) {
      const layer = plan.layers[l - 1];
      d.push(weightGrad.bind({ m: layer.fanOut, n: layer.fanIn, k: B }, { a: this.delta(l), b: this.hidden(l - 1), c: this.weight(layer, buffers.grads) }));
      d.push(biasGrad.bind({ m: 1, n: layer.fanOut, k: B }, { a: buffers.ones, b: this.delta(l), c: this.bias(layer, buffers.grads) }));
      if (l > 1) {
        d.push(inputGrad.bind(
          { m: B, n: layer.fanIn, k: layer.fanOut },
          { a: this.delta(l), b: this.weight(layer, buffers.params), mask: this.hidden(l - 1), c: this.delta(l - 1) },
        ));
      }
    }
    // statistics of every tensor, into the stats buffer
    const gradSegments: Segment[] = plan.layers.flatMap((layer) => [
      { offset: layer.weightOffset, length: layer.fanIn * layer.fanOut },
      { offset: layer.biasOffset, length: layer.fanOut },
    ]);
    const track = (r: SegmentReduction) => {
      this.reductions.push(r);
      d.push(...r.dispatches);
    };
    track(reduce.bind(gradSegments, { data: buffers.grads, stats: buffers.stats }, { outputOffset: 0 }));
    for (const parity of [0, 1] as const) {
      const layers = plan.layers.filter((layer) => layer.index % 2 === parity);
      if (layers.length === 0) continue;
      const segments = layers.map((layer) => ({ offset: plan.activationOffsets[layer.index], length: B * layer.fanOut }));
      track(reduce.bind(segments, { data: buffers.deltas[parity], stats: buffers.stats }, { outputOffset: layout.deltaRecord[layers[0].index] }));
      track(reduce.bind(segments, { data: buffers.activations[parity], stats: buffers.stats }, { outputOffset: layout.activationRecord[layers[0].index] }));
    }
    track(reduce.bind(
      plan.layers.map((layer) => ({ offset: layer.weightOffset, length: layer.fanIn * layer.fanOut })),
      { data: buffers.params, stats: buffers.stats },
      { outputOffset: layout.weightRecord[1] },
    ));
    // global gradient norm and clip scale, on the GPU
    const clipThreshold = config.clip.kind === 'none' ? 0 : config.clip.threshold;
    d.push(globalNorm.bind({ first: 0, count: 2 * L, clipThreshold }, { stats: buffers.stats, state: buffers.state }));
    // update
    d.push(optimizer.bind(
      { count: plan.paramElements, lr: config.lr, clipThreshold },
      { params: buffers.params, grads: buffers.grads, state: buffers.state, ...(buffers.momentum ? { m: buffers.momentum } : {}), ...(buffers.variance ? { v: buffers.variance } : {}) },
    ));
  }

  /** Submits one step; resolves with its statistics once they are read back. */
  async submitStep(): Promise<StepStats> {
    const step = ++this.stepIndex;
    const bytes = await submitRecordedStep(this.ctx, this.ring, `step ${step}`, this.dispatches, this.buffers.stats, this.layout.bytes, this.buffers.state);
    return this.decode(step, bytes);
  }

  /** Runs `steps` steps, one in flight while the previous one is read back; `onStep` in order. */
  run(steps: number, onStep: (stats: StepStats) => void, shouldStop?: () => boolean): Promise<void> {
    return runPipelined(steps, () => this.submitStep(), onStep, shouldStop);
  }

  private decode(step: number, bytes: ArrayBuffer): StepStats {
    const { layout, config } = this;
    const records = decodeSegmentStats(bytes.slice(0, layout.records * SEGMENT_STATS_BYTES), layout.records);
    const loss = new Float32Array(bytes, layout.lossWord * 4, 1)[0];
    const state = decodeStepState(bytes.slice(layout.bytes));
    const layers: LayerStats[] = [];
    const at = (i: number): SegmentStats => records[i];
    for (let l = 1; l <= config.depth; l++) {
      const w = at(layout.gradRecord(l, 'weight'));
      const b = at(layout.gradRecord(l, 'bias'));
      const delta = at(layout.deltaRecord[l]);
      const act = at(layout.activationRecord[l]);
      layers.push({
        index: l,
        weightGradNorm: w.norm,
        biasGradNorm: b.norm,
        deltaNorm: delta.norm,
        activationNorm: act.norm,
        weightNorm: at(layout.weightRecord[l]).norm,
        maxAbsGrad: Math.max(w.maxAbs, b.maxAbs),
        nonfinite: w.nonfinite + b.nonfinite + delta.nonfinite + act.nonfinite,
      });
    }
    const forwardFirst = layers.find((x) => records[layout.activationRecord[x.index]].nonfinite > 0);
    const backwardFirst = [...layers].reverse().find((x) => x.nonfinite > 0);
    const nonfinite = layers.reduce((s, x) => s + x.nonfinite, 0) + (Number.isFinite(loss) ? 0 : 1);
    return {
      step,
      loss,
      gradNorm: nonfinite > 0 ? null : state.gradNorm,
      finiteGradNorm: state.gradNorm,
      clipScale: state.clipScale,
      nonfinite,
      nonfiniteLayer: (forwardFirst ?? backwardFirst)?.index ?? null,
      layers,
    };
  }

  /** Copies of GPU tensors for the dump and for tests. */
  async readParams(): Promise<Float32Array> {
    return this.ctx.readF32(this.buffers.params, this.plan.paramElements);
  }

  async readGrads(): Promise<Float32Array> {
    return this.ctx.readF32(this.buffers.grads, this.plan.paramElements);
  }

  async readInput(): Promise<Float32Array> {
    return this.ctx.readF32(this.buffers.input, this.config.batch * this.config.input);
  }

  async readTarget(): Promise<Float32Array> {
    return this.ctx.readF32(this.buffers.target, this.config.batch * this.config.output);
  }

  destroy(): void {
    releaseDispatches(this.dispatches);
    this.dispatches.length = 0;
    for (const r of this.reductions) r.destroy();
    this.ring?.destroy();
    if (!this.buffers) return;
    const b = this.buffers;
    for (const buffer of [b.params, b.grads, b.momentum, b.variance, ...b.activations, ...b.deltas, b.input, b.target, b.ones, b.stats, b.state]) buffer?.destroy();
  }
}
