/**
 * The MLP on the trainer (src/scheduler/trainer.ts): its buffers, its
 * initialisation, its forward/backward dispatches, its statistics.
 *
 *   forward   h_l = φ(h_{l−1} W_lᵀ + b_l)          l = 1 … L   (matmul nt, fused bias + φ; readout linear)
 *   loss      dY = ∂L/∂y, L itself               (loss kernels)
 *   backward  dW_l = dZ_lᵀ h_{l−1}                 l = L … 1   (matmul tn)
 *             db_l = 1ᵀ dZ_l                                   (matmul nn, 1×B ones)
 *             dZ_{l−1} = (dZ_l W_l) ⊙ φ'(h_{l−1})             (matmul nn, fused mask)
 *   stats     dW_l, db_l (the trainer), then δ_l = dZ_l, h_l and W_l of every layer
 *
 * Pre-activation residual blocks (config.residual = A > 0, layers 2..L−1; src/models/config.ts):
 *   forward   u_l = φ(h_{l−1})                          (elementwise; u_l kept in the branch arena)
 *             z_l = u_l W_lᵀ + b_l                      (matmul nt, fused bias, into a scratch buffer)
 *             h_l = h_{l−1} + A·z_l                     (residual add)
 *   backward  G_l = ∂L/∂h_l, carried in two ping-pong buffers:
 *             G_{L−1} = dZ_L W_L                         (matmul nn, no mask)
 *             dZ_l = A·G_l                               (residual branch, linear)
 *             dW_l = dZ_lᵀ u_l
 *             G_{l−1} = G_l + (dZ_l W_l) ⊙ φ'(h_{l−1})  (matmul nn with the mask u_l into the scratch, residual add)
 *             dZ_1 = G_1 ⊙ φ'(z_1)                      (residual branch with a = 1, φ' from h_1)
 *
 * LayerNorm in the blocks (config.norm = 'layer'; γ_l, β_l after W_L, b_L in the arena; src/kernels/layernorm.ts):
 *   pre       n_l = LN_l(h_{l−1}) (scratch, μ and 1/σ saved),  u_l = φ(n_l),  z_l, h_l as above
 *             G_{l−1} = G_l + LN_lᵀ((dZ_l W_l) ⊙ φ'(n_l))     (masked matmul → scratch, LN dx → scratch2, add)
 *             readout y = LN_L(h_{L−1}) W_Lᵀ + b_L (the final LayerNorm, kept in scratch2 for dW_L),
 *             G_{L−1} = LN_Lᵀ(dZ_L W_L)                        (matmul → scratch, LN dx → carry)
 *   post      s_l = h_{l−1} + A·z_l (kept),  h_l = LN_l(s_l)
 *             S_l = ∂L/∂s_l = LN_lᵀ G_l (scratch2),  dZ_l = A·S_l,  G_{l−1} = S_l + (dZ_l W_l) ⊙ φ'(h_{l−1})
 *   ∂L/∂γ_l, ∂L/∂β_l: the LayerNorm params kernel, from the same dy and x as its dx.
 */
import type { BufferBinding, Dispatch, GpuContext } from '../gpu/context.ts';
import { releaseDispatches } from '../gpu/context.ts';
import { GpuLimitError } from '../gpu/errors.ts';
import { MATMUL_MIN_WORKGROUP_TILE, prepareMatmul, type MatmulVariant } from '../kernels/matmul.ts';
import { prepareRandomFill, prepareOrthogonal, type RandomFillKernel } from '../kernels/init.ts';
import type { Segment, SegmentStats } from '../kernels/reduce.ts';
import { prepareLossGradient, prepareLossValue } from '../kernels/loss.ts';
import { prepareResidual } from '../kernels/residual.ts';
import { prepareLayerNorm } from '../kernels/layernorm.ts';
import { prepareElementwise } from '../kernels/elementwise.ts';
import type { DecodedStep, StepRecord, StepRecorder, TrainerArenas, TrainerModel } from '../scheduler/trainer.ts';
import { checkLargestBuffer, window } from '../scheduler/trainer.ts';
import type { MlpConfig } from './config.ts';
import { describeMemory, initStd, memoryPlan, mlpMatmulUses, planMlp, type LayerPlan, type MlpPlan } from './mlp.ts';

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
  /** `--norm layer`, blocks only: ‖(∂L/∂γ_l, ∂L/∂β_l)‖ of the block's LayerNorm. */
  normGradNorm?: number;
}

/** One training step as the GPU measured it: loss, global gradient norm, clip scale, non-finite counts and every layer's norms. */
export interface StepStats extends StepRecord {
  /**
   * ‖g‖ over every weight and bias gradient, before clipping; null whenever
   * `nonfinite` > 0: a gradient with non-finite entries has no norm, and is
   * never shown as a number (print it with describeGradNorm).
   */
  gradNorm: number | null;
  /** The first layer, in the order the step computes them (forward 1..L, then backward L..1), holding a non-finite value. */
  nonfiniteLayer: number | null;
  layers: LayerStats[];
}

interface Buffers {
  /** LayerNorm: per-row (μ, 1/σ) of every block; post-norm sums s_l; the B×width scratch of LNᵀ. */
  normStats?: GPUBuffer;
  normSums?: GPUBuffer;
  scratch2?: GPUBuffer;
  /** Residual nets: u_l = φ(h_{l−1}) of every block; ∂L/∂h_l ping-pong (by l % 2); the scratch of z_l (forward) and δ_l W_l (backward). */
  branches?: GPUBuffer;
  carry?: [GPUBuffer, GPUBuffer];
  scratch?: GPUBuffer;
  activations: [GPUBuffer, GPUBuffer];
  deltas: [GPUBuffer, GPUBuffer];
  input: GPUBuffer;
  target: GPUBuffer;
  ones: GPUBuffer;
}

/** Where each statistic lands (records of 4 words): dW_l at 2(l−1), db_l at 2(l−1)+1 (the trainer's gradient records), then these. */
interface StatsLayout {
  deltaRecord: number[];
  activationRecord: number[];
  weightRecord: number[];
  records: number;
}

function statsLayout(L: number, normTensors: number): StatsLayout {
  const deltaRecord: number[] = [];
  const activationRecord: number[] = [];
  const weightRecord: number[] = [];
  // After dW_l, db_l of every layer come ∂L/∂γ, ∂L/∂β of every LayerNorm (gradient records too).
  let next = 2 * L + normTensors;
  // Parity arenas: each reduction writes its segments (layers of one parity, ascending) contiguously.
  for (const parity of [0, 1]) for (let l = 1; l <= L; l++) if (l % 2 === parity) deltaRecord[l] = next++;
  for (const parity of [0, 1]) for (let l = 1; l <= L; l++) if (l % 2 === parity) activationRecord[l] = next++;
  for (let l = 1; l <= L; l++) weightRecord[l] = next++;
  return { deltaRecord, activationRecord, weightRecord, records: next };
}

/** Refuses, before anything is allocated or tuned, an MLP that does not fit the adapter: both numbers and the flag to change. */
export function checkMlpFits(ctx: GpuContext, config: MlpConfig, plan: MlpPlan = planMlp(config)): void {
  const memory = memoryPlan(config, plan);
  const name = memory.largestBuffer.name;
  const flag = name.startsWith('activations') || name.startsWith('deltas') || name === 'teacher hidden layer' || name === 'residual branches'
    ? '--depth, --width or --batch'
    : name === 'input' || name === 'target'
      ? '--batch, --input or --output'
      : name === 'teacher weights'
        ? '--width, --input or --output'
        : '--depth or --width';
  checkLargestBuffer(ctx, 'MLP', memory.largestBuffer, flag, describeMemory(memory));
  const perDimension = ctx.limits.maxComputeWorkgroupsPerDimension;
  const rowsPerGroup = MATMUL_MIN_WORKGROUP_TILE;
  if (Math.ceil(config.batch / rowsPerGroup) > perDimension || Math.ceil(Math.max(config.width, config.input, config.output) / rowsPerGroup) > perDimension) {
    throw new GpuLimitError(`--batch, --width, --input and --output must stay below ${perDimension * rowsPerGroup} on this adapter`);
  }
}

/** The MLP as a {@link TrainerModel}: layer plan, parity arenas of activations and deltas, the step's matmuls. */
export class MlpModel implements TrainerModel<Omit<StepStats, keyof StepRecord>> {
  readonly plan: MlpPlan;
  readonly paramElements: number;
  readonly paramSegments: readonly Segment[];
  readonly statsRecords: number;
  readonly labels;
  private readonly layout: StatsLayout;
  private buffers: Buffers | null = null;

  constructor(
    readonly config: MlpConfig,
    readonly matmulVariant: MatmulVariant | undefined,
  ) {
    this.plan = planMlp(config);
    this.paramElements = this.plan.paramElements;
    this.paramSegments = this.plan.layers.flatMap((layer) => [
      { offset: layer.weightOffset, length: layer.fanIn * layer.fanOut },
      { offset: layer.biasOffset, length: layer.fanOut },
    ]).concat(this.plan.norms.flatMap((norm) => [
      { offset: norm.gammaOffset, length: config.width },
      { offset: norm.betaOffset, length: config.width },
    ]));
    this.layout = statsLayout(config.depth, 2 * this.plan.norms.length);
    this.statsRecords = this.layout.records;
    this.labels = { allocating: `${config.depth}-layer MLP`, recording: 'training step', step: 'step', prefix: '' };
  }

  private get b(): Buffers {
    if (!this.buffers) throw new Error('MLP buffers used before allocation');
    return this.buffers;
  }

  allocate(ctx: GpuContext): void {
    const { config, plan } = this;
    const [even, odd] = plan.activationArenaElements;
    this.buffers = {
      activations: [ctx.createStorage('activations.even', Math.max(1, even) * 4), ctx.createStorage('activations.odd', Math.max(1, odd) * 4)],
      deltas: [ctx.createStorage('deltas.even', Math.max(1, even) * 4), ctx.createStorage('deltas.odd', Math.max(1, odd) * 4)],
      input: ctx.createStorage('input', config.batch * config.input * 4),
      target: ctx.createStorage('target', config.batch * config.output * 4),
      ones: ctx.upload('ones', new Float32Array(config.batch).fill(1)),
    };
    if (plan.branchArenaElements > 0) {
      this.buffers.branches = ctx.createStorage('residual.branches', plan.branchArenaElements * 4);
      this.buffers.carry = [ctx.createStorage('residual.dh.even', plan.carryElements * 4), ctx.createStorage('residual.dh.odd', plan.carryElements * 4)];
      this.buffers.scratch = ctx.createStorage('residual.scratch', plan.carryElements * 4);
    }
    if (plan.normPlace) {
      this.buffers.normStats = ctx.createStorage('layernorm.stats', Math.max(1, plan.normStatsElements) * 4);
      this.buffers.scratch2 = ctx.createStorage('layernorm.scratch', plan.carryElements * 4);
      if (plan.normSumElements > 0) this.buffers.normSums = ctx.createStorage('layernorm.sums', plan.normSumElements * 4);
    }
  }

  /** Block l's LayerNorm: γ_l, β_l (in `arena`: the parameters or their gradients), its saved (μ, 1/σ), and (post) its input s_l. */
  private norm(l: number, arena: GPUBuffer): { gamma: BufferBinding; beta: BufferBinding; stats: BufferBinding; sum: BufferBinding | null } {
    const { config, plan } = this;
    const norm = plan.norms.find((x) => x.index === l);
    if (!norm || !this.b.normStats) throw new Error(`layer ${l} has no LayerNorm`);
    return {
      gamma: window(arena, norm.gammaOffset, config.width),
      beta: window(arena, norm.betaOffset, config.width),
      stats: window(this.b.normStats, norm.statsOffset, 2 * config.batch),
      sum: this.b.normSums ? window(this.b.normSums, norm.sumOffset, config.batch * config.width) : null,
    };
  }

  private scratch2(): BufferBinding {
    if (!this.b.scratch2) throw new Error('no LayerNorm');
    return window(this.b.scratch2, 0, this.config.batch * this.config.width);
  }

  /** u_l = φ(h_{l−1}), the input of block l's matmul. */
  private branch(l: number): BufferBinding {
    if (!this.b.branches) throw new Error(`layer ${l} is not a residual block`);
    return window(this.b.branches, this.plan.branchOffsets[l], this.config.batch * this.config.width);
  }

  /** ∂L/∂h_l (residual nets), in carry buffer l % 2. */
  private carried(l: number): BufferBinding {
    if (!this.b.carry) throw new Error('no residual blocks');
    return window(this.b.carry[l % 2], 0, this.config.batch * this.config.width);
  }

  private scratch(): BufferBinding {
    if (!this.b.scratch) throw new Error('no residual blocks');
    return window(this.b.scratch, 0, this.config.batch * this.config.width);
  }

  /** h_l as a binding: h_0 is the input, h_l (l ≥ 1) lives in activation arena l % 2. */
  private hidden(l: number): BufferBinding {
    const { config, plan } = this;
    if (l === 0) return this.b.input;
    const layer = plan.layers[l - 1];
    return window(this.b.activations[l % 2], plan.activationOffsets[l], config.batch * layer.fanOut);
  }

  private delta(l: number): BufferBinding {
    const layer = this.plan.layers[l - 1];
    return window(this.b.deltas[l % 2], this.plan.activationOffsets[l], this.config.batch * layer.fanOut);
  }

  private weight(layer: LayerPlan, arena: GPUBuffer): BufferBinding {
    return window(arena, layer.weightOffset, layer.fanIn * layer.fanOut);
  }

  private bias(layer: LayerPlan, arena: GPUBuffer): BufferBinding {
    return window(arena, layer.biasOffset, layer.fanOut);
  }

  /** Parameters, input and target, drawn on the GPU from the seed. */
  async initialise(ctx: GpuContext, arenas: TrainerArenas): Promise<void> {
    const { config, plan } = this;
    const normal = await prepareRandomFill(ctx, 'normal');
    const seed = config.seed;
    const work: Dispatch[] = [];
    const orthogonal = config.init === 'orthogonal' ? await prepareOrthogonal(ctx) : null;
    for (const layer of plan.layers) {
      if (orthogonal) {
        work.push(...orthogonal.bind({ seed, stream: STREAM.weight(layer.index), rows: layer.fanOut, cols: layer.fanIn, gain: config.gain }, this.weight(layer, arenas.params)));
      } else {
        const std = initStd(config, layer.fanIn, layer.fanOut);
        work.push(normal.bind({ seed, stream: STREAM.weight(layer.index), count: layer.fanIn * layer.fanOut, std }, this.weight(layer, arenas.params)));
      }
      if (config.biasStd > 0) {
        work.push(normal.bind({ seed, stream: STREAM.bias(layer.index), count: layer.fanOut, std: config.biasStd }, this.bias(layer, arenas.params)));
      }
    }
    // LayerNorm: γ = 1 (β = 0: the arena starts zeroed), as PyTorch's nn.LayerNorm.
    const ones = new Float32Array(config.width).fill(1);
    for (const norm of plan.norms) ctx.device.queue.writeBuffer(arenas.params, norm.gammaOffset * 4, ones);
    work.push(normal.bind({ seed, stream: STREAM.input, count: config.batch * config.input, std: 1 }, this.b.input));
    if (config.loss === 'probe') {
      // The probe's fixed cotangent g ~ N(0, 1): ∂L/∂y = g.
      work.push(normal.bind({ seed, stream: STREAM.target, count: config.batch * config.output, std: 1 }, this.b.target));
    }
    try {
      await ctx.run(work, 'initialising parameters');
    } finally {
      releaseDispatches(work);
    }
    if (config.loss === 'mse') await this.teacherTargets(ctx, normal);
  }

  /**
   * Teacher–student regression: a fixed random teacher (input → width tanh →
   * output, weights N(0, 1/fan_in), its own RNG streams) maps the gaussian
   * input to the targets, computed once on the GPU.
   */
  private async teacherTargets(ctx: GpuContext, normal: RandomFillKernel): Promise<void> {
    const { config } = this;
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
        layer1.bind({ m: config.batch, n: hiddenWidth, k: config.input }, { a: this.b.input, b: w1, c: hidden }),
        layer2.bind({ m: config.batch, n: config.output, k: hiddenWidth }, { a: hidden, b: w2, c: this.b.target }),
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

  /** Forward layer by layer, the loss, backward in reverse (see the module comment). */
  async recordStep(ctx: GpuContext, arenas: TrainerArenas, rec: StepRecorder): Promise<void> {
    const { config, plan } = this;
    const B = config.batch;
    const L = config.depth;
    const variant = this.matmulVariant;
    const uses = mlpMatmulUses(plan, B);
    const forwardHidden = await prepareMatmul(ctx, { ...uses.forwardHidden, bias: true, activation: config.activation, variant });
    const forwardReadout = await prepareMatmul(ctx, { ...uses.forwardReadout, bias: true, activation: 'linear', variant });
    const weightGrad = await prepareMatmul(ctx, { ...uses.weightGrad, variant });
    const biasGrad = await prepareMatmul(ctx, { ...uses.biasGrad, variant });
    const inputGrad = await prepareMatmul(ctx, { ...uses.inputGrad, gradMask: config.activation, variant });
    const lossGradient = await prepareLossGradient(ctx, { loss: config.loss });
    const lossValue = await prepareLossValue(ctx, { loss: config.loss });
    const { params, grads, stats } = arenas;

    const residual = plan.residual > 0 && plan.layers.some((layer) => layer.block);
    const blocks = residual
      ? {
          activate: await prepareElementwise(ctx, { activation: config.activation, direction: 'forward' }),
          branchForward: await prepareMatmul(ctx, { ...uses.forwardHidden, bias: true, activation: 'linear', variant }),
          add: await prepareResidual(ctx, { op: 'add' }),
          scale: await prepareResidual(ctx, { op: 'branch', activation: 'linear' }),
          stemGrad: await prepareResidual(ctx, { op: 'branch', activation: config.activation }),
          readoutGrad: await prepareMatmul(ctx, { ...uses.inputGrad, variant }),
        }
      : null;
    const place = plan.normPlace;
    const ln = place
      ? { forward: await prepareLayerNorm(ctx, 'forward'), backward: await prepareLayerNorm(ctx, 'backward'), params: await prepareLayerNorm(ctx, 'params') }
      : null;
    /** LNᵀ of block l: dx from dy (and x, the input it normalized) into scratch2, and ∂L/∂γ_l, ∂L/∂β_l into the gradient arena. */
    const normBackward = (l: number, dy: BufferBinding, x: BufferBinding, dx: BufferBinding = this.scratch2()) => {
      if (!ln) throw new Error('no LayerNorm');
      const p = this.norm(l, params);
      const g = this.norm(l, grads);
      const rows = { rows: B, n: config.width };
      rec.push(ln.backward.bind(rows, { dy, x, gamma: p.gamma, stats: p.stats, dx }));
      rec.push(ln.params.bind(rows, { dy, x, stats: p.stats, dgamma: g.gamma, dbeta: g.beta }));
    };
    const A = plan.residual;
    const n = B * config.width;

    // forward, layer by layer
    for (const layer of plan.layers) {
      const l = layer.index;
      const wb = { b: this.weight(layer, params), bias: this.bias(layer, params) };
      if (layer.block && blocks) {
        if (ln && place === 'pre') {
          // n_l = LN_l(h_{l−1}) into the scratch, then u_l = φ(n_l).
          const p = this.norm(l, params);
          rec.push(ln.forward.bind({ rows: B, n: config.width }, { x: this.hidden(l - 1), gamma: p.gamma, beta: p.beta, y: this.scratch(), stats: p.stats }));
          rec.push(blocks.activate.bind(n, { x: this.scratch(), y: this.branch(l) }));
        } else {
          rec.push(blocks.activate.bind(n, { x: this.hidden(l - 1), y: this.branch(l) }));
        }
        rec.push(blocks.branchForward.bind({ m: B, n: layer.fanOut, k: layer.fanIn }, { a: this.branch(l), ...wb, c: this.scratch() }));
        if (ln && place === 'post') {
          // s_l = h_{l−1} + A·z_l (kept for LNᵀ), h_l = LN_l(s_l).
          const p = this.norm(l, params);
          rec.push(blocks.add.bind({ count: n, a: A }, { x: this.hidden(l - 1), f: this.scratch(), out: p.sum! }));
          rec.push(ln.forward.bind({ rows: B, n: config.width }, { x: p.sum!, gamma: p.gamma, beta: p.beta, y: this.hidden(l), stats: p.stats }));
        } else {
          rec.push(blocks.add.bind({ count: n, a: A }, { x: this.hidden(l - 1), f: this.scratch(), out: this.hidden(l) }));
        }
        continue;
      }
      if (layer.readout && ln && place === 'pre') {
        // The final LayerNorm: the readout reads LN_L(h_{L−1}), kept in scratch2 until dW_L is made.
        const p = this.norm(l, params);
        rec.push(ln.forward.bind({ rows: B, n: config.width }, { x: this.hidden(l - 1), gamma: p.gamma, beta: p.beta, y: this.scratch2(), stats: p.stats }));
        rec.push(forwardReadout.bind({ m: B, n: layer.fanOut, k: layer.fanIn }, { a: this.scratch2(), ...wb, c: this.hidden(l) }));
        continue;
      }
      const kernel = layer.readout ? forwardReadout : forwardHidden;
      rec.push(kernel.bind({ m: B, n: layer.fanOut, k: layer.fanIn }, { a: this.hidden(l - 1), ...wb, c: this.hidden(l) }));
    }
    // loss: dZ_L = ∂L/∂y (the readout is linear)
    const outputs = B * config.output;
    rec.push(lossGradient.bind({ count: outputs }, { y: this.hidden(L), target: this.b.target, dy: this.delta(L) }));
    rec.push(lossValue.bind({ count: outputs, outputWord: rec.lossWord }, { y: this.hidden(L), target: this.b.target, out: stats }));
    // backward, in reverse
    for (let l = L; l >= 1; l--) {
      const layer = plan.layers[l - 1];
      const finalNorm = layer.readout && place === 'pre' && blocks !== null;
      const layerInput = layer.block ? this.branch(l) : finalNorm ? this.scratch2() : this.hidden(l - 1);
      rec.push(weightGrad.bind({ m: layer.fanOut, n: layer.fanIn, k: B }, { a: this.delta(l), b: layerInput, c: this.weight(layer, grads) }));
      rec.push(biasGrad.bind({ m: 1, n: layer.fanOut, k: B }, { a: this.b.ones, b: this.delta(l), c: this.bias(layer, grads) }));
      if (l === 1) continue;
      const dims = { m: B, n: layer.fanIn, k: layer.fanOut };
      if (!blocks) {
        rec.push(inputGrad.bind(dims, { a: this.delta(l), b: this.weight(layer, params), mask: this.hidden(l - 1), c: this.delta(l - 1) }));
        continue;
      }
      // The skip path: G_{l−1} = G_l + (δ_l W_l) ⊙ φ'(h_{l−1}) below a block, δ_L W_L below the readout.
      if (layer.block) {
        // The mask φ'(·) is read from u_l = φ(branch input): h_{l−1}, or n_l pre-norm.
        rec.push(inputGrad.bind(dims, { a: this.delta(l), b: this.weight(layer, params), mask: this.branch(l), c: this.scratch() }));
        // The skip carries G_l, or post-norm S_l = LN_lᵀ G_l (left in scratch2 when δ_l was made).
        const skip = place === 'post' ? this.scratch2() : this.carried(l);
        if (place === 'pre') {
          normBackward(l, this.scratch(), this.hidden(l - 1));
          rec.push(blocks.add.bind({ count: n, a: 1 }, { x: skip, f: this.scratch2(), out: this.carried(l - 1) }));
        } else {
          rec.push(blocks.add.bind({ count: n, a: 1 }, { x: skip, f: this.scratch(), out: this.carried(l - 1) }));
        }
      } else if (finalNorm) {
        // G_{L−1} = LN_Lᵀ(δ_L W_L) (after dW_L has read LN_L(h_{L−1}) from scratch2).
        rec.push(blocks.readoutGrad.bind(dims, { a: this.delta(l), b: this.weight(layer, params), c: this.scratch() }));
        normBackward(l, this.scratch(), this.hidden(l - 1), this.carried(l - 1));
      } else {
        rec.push(blocks.readoutGrad.bind(dims, { a: this.delta(l), b: this.weight(layer, params), c: this.carried(l - 1) }));
      }
      // δ_{l−1}: A·G_{l−1} in a block (the linear branch kernel ignores f), G_1 ⊙ φ'(z_1) at the stem (φ' from h_1).
      const below = plan.layers[l - 2];
      if (below.block && place === 'post') {
        // S_{l−1} = LN_{l−1}ᵀ G_{l−1} into scratch2, δ_{l−1} = A·S_{l−1}.
        normBackward(l - 1, this.carried(l - 1), this.norm(l - 1, params).sum!);
        rec.push(blocks.scale.bind({ count: n, a: A }, { dh: this.scratch2(), f: this.branch(l - 1), dz: this.delta(l - 1) }));
        continue;
      }
      rec.push(
        below.block
          ? blocks.scale.bind({ count: n, a: A }, { dh: this.carried(l - 1), f: this.branch(l - 1), dz: this.delta(l - 1) })
          : blocks.stemGrad.bind({ count: n, a: 1 }, { dh: this.carried(l - 1), f: this.hidden(l - 1), dz: this.delta(l - 1) }),
      );
    }
  }

  /** δ_l and h_l of every layer (one reduction per parity arena), and every W_l. */
  recordStatistics(_ctx: GpuContext, arenas: TrainerArenas, rec: StepRecorder): void {
    const { config, plan, layout } = this;
    for (const parity of [0, 1] as const) {
      const layers = plan.layers.filter((layer) => layer.index % 2 === parity);
      if (layers.length === 0) continue;
      const segments = layers.map((layer) => ({ offset: plan.activationOffsets[layer.index], length: config.batch * layer.fanOut }));
      rec.reduce(segments, this.b.deltas[parity], layout.deltaRecord[layers[0].index]);
      rec.reduce(segments, this.b.activations[parity], layout.activationRecord[layers[0].index]);
    }
    rec.reduce(plan.layers.map((layer) => ({ offset: layer.weightOffset, length: layer.fanIn * layer.fanOut })), arenas.params, layout.weightRecord[1]);
  }

  decode(records: readonly SegmentStats[]): DecodedStep<Omit<StepStats, keyof StepRecord>> {
    const { layout, config, plan } = this;
    const layers: LayerStats[] = [];
    for (let l = 1; l <= config.depth; l++) {
      const w = records[2 * (l - 1)];
      const b = records[2 * (l - 1) + 1];
      const delta = records[layout.deltaRecord[l]];
      const act = records[layout.activationRecord[l]];
      const k = plan.norms.findIndex((x) => x.index === l);
      const gamma = k >= 0 ? records[2 * config.depth + 2 * k] : null;
      const beta = k >= 0 ? records[2 * config.depth + 2 * k + 1] : null;
      layers.push({
        index: l,
        weightGradNorm: w.norm,
        biasGradNorm: b.norm,
        deltaNorm: delta.norm,
        activationNorm: act.norm,
        weightNorm: records[layout.weightRecord[l]].norm,
        maxAbsGrad: Math.max(w.maxAbs, b.maxAbs),
        nonfinite: w.nonfinite + b.nonfinite + delta.nonfinite + act.nonfinite + (gamma?.nonfinite ?? 0) + (beta?.nonfinite ?? 0),
        ...(gamma && beta ? { normGradNorm: Math.hypot(gamma.norm, beta.norm) } : {}),
      });
    }
    const forwardFirst = layers.find((x) => records[layout.activationRecord[x.index]].nonfinite > 0);
    const backwardFirst = [...layers].reverse().find((x) => x.nonfinite > 0);
    return {
      nonfinite: layers.reduce((s, x) => s + x.nonfinite, 0),
      fields: { nonfiniteLayer: (forwardFirst ?? backwardFirst)?.index ?? null, layers },
    };
  }

  readInput(ctx: GpuContext): Promise<Float32Array> {
    return ctx.readF32(this.b.input, this.config.batch * this.config.input);
  }

  readTarget(ctx: GpuContext): Promise<Float32Array> {
    return ctx.readF32(this.b.target, this.config.batch * this.config.output);
  }

  destroy(): void {
    if (!this.buffers) return;
    const b = this.buffers;
    for (const buffer of [...b.activations, ...b.deltas, b.input, b.target, b.ones, b.branches, ...(b.carry ?? []), b.scratch, b.normStats, b.normSums, b.scratch2]) buffer?.destroy();
    this.buffers = null;
  }
}
