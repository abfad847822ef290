/**
 * The one trainer: what every model's training step shares. A model (the MLP,
 * the RNN: src/models/mlp-model.ts, rnn-model.ts) implements `TrainerModel`:
 * its buffers, its initialisation, its forward/backward dispatches, which of
 * its tensors get statistics, and how its statistics read back. The trainer
 * owns the rest:
 *
 *   arenas    parameters, gradients, optimizer state (m, v), the stats buffer and the step state
 *   record    model.recordStep (forward, loss, backward)
 *             ‖·‖ of every parameter gradient → stats records 0..n−1   (segment reductions)
 *             model.recordStatistics (its other tensors)             (segment reductions)
 *             ‖g‖ over records 0..n−1 → clip scale, on the GPU       (global norm)
 *             sgd | momentum | adam over the parameter arena          (optimizer)
 *   submit    the recorded list in one pass, one submit; stats + step state → staging ring
 *   run       one step in flight while the previous one is read back (step-loop.ts); runTrainer
 *             adds the first step's dump, step timing and interruption (interruption.ts)
 *
 * The stats buffer: `records` segment records (SEGMENT_STATS_BYTES each),
 * then the loss value (one f32 word) padded to 16 bytes.
 */
import type { BufferBinding, Dispatch, GpuContext } from '../gpu/context.ts';
import { releaseDispatches } from '../gpu/context.ts';
import { GpuLimitError, formatBytes } from '../gpu/errors.ts';
import { StagingRing } from '../gpu/staging.ts';
import { SEGMENT_STATS_BYTES, decodeSegmentStats, prepareSegmentReduce, type Segment, type SegmentReduction, type SegmentStats } from '../kernels/reduce.ts';
import { STEP_STATE_BYTES, decodeStepState, prepareGlobalNorm, prepareOptimizer, type ClipConfig, type OptimizerKind } from '../kernels/optim.ts';
import { runPipelined, submitRecordedStep } from './step-loop.ts';
import { timeDispatches } from '../gpu/timer.ts';
import { runInterruptible, type Interruption } from './interruption.ts';

/** What the trainer's optimizer and clipping read of a model's config (MlpConfig, RnnConfig and LstmConfig alike). */
export interface TrainingConfig {
  optimizer: OptimizerKind;
  clip: ClipConfig;
  lr: number;
}

/** The fields every model's step record starts with, in this order (the run report's step fields). */
export interface StepRecord {
  step: number;
  loss: number;
  /** ‖g‖ over every parameter gradient before clipping; null whenever `nonfinite` > 0 (never shown as a number). */
  gradNorm: number | null;
  /** The norm over the finite entries alone (as the GPU computed it, and what clipping used). */
  finiteGradNorm: number;
  clipScale: number;
  nonfinite: number;
}

/** One kernel's share of a profiled step: its label, the time of all its dispatches, and how many there were. */
export interface StepProfileRow {
  label: string;
  ms: number;
  dispatches: number;
}

/** The buffers the trainer owns and lends to its model: [paramElements] f32 each, and the stats buffer. */
export interface TrainerArenas {
  params: GPUBuffer;
  grads: GPUBuffer;
  stats: GPUBuffer;
}

/** What a model records into: its dispatches, its statistics, and where the loss value goes. */
export interface StepRecorder {
  /** Appends dispatches to the step, in order. */
  push(...dispatches: Dispatch[]): void;
  /** Reduces `segments` of `data` into consecutive stats records from `firstRecord` (scale, ssq, max|x|, non-finite). */
  reduce(segments: readonly Segment[], data: GPUBuffer, firstRecord: number): void;
  /** Word offset of the loss value in the stats buffer (the loss-value kernel's `outputWord`). */
  readonly lossWord: number;
}

/** What a model's `decode` gives back: its own fields of the step record, and the non-finite values among its statistics. */
export interface DecodedStep<Fields> {
  /** Non-finite values in the model's tensors (the loss is counted by the trainer). */
  nonfinite: number;
  fields: Fields;
}

/**
 * A model on the trainer. Its parameters are the tensors `paramSegments` of
 * one arena of `paramElements` f32 (gradients share the layout); their
 * gradients' statistics are records 0..n−1 and the global norm runs over
 * them; the model's own statistics take records n..statsRecords−1.
 */
export interface TrainerModel<Fields> {
  readonly config: TrainingConfig;
  readonly paramElements: number;
  /** Every parameter tensor, in arena order: gradient records 0..n−1, the global norm's range. */
  readonly paramSegments: readonly Segment[];
  /** Stats records in all, the gradients' included. */
  readonly statsRecords: number;
  /** Names for scopes and labels: `allocating` and `recording` finish "allocating the …", `prefix` starts buffer labels. */
  readonly labels: { allocating: string; recording: string; step: string; prefix: string };
  /** Creates the model's own buffers (activations, data). */
  allocate(ctx: GpuContext): void;
  /** Draws parameters, input and target on the GPU. */
  initialise(ctx: GpuContext, arenas: TrainerArenas): Promise<void>;
  /** Forward, loss (value into `rec.lossWord`) and backward: every gradient in `arenas.grads`. */
  recordStep(ctx: GpuContext, arenas: TrainerArenas, rec: StepRecorder): Promise<void>;
  /** The statistics of the model's other tensors, into records paramSegments.length..statsRecords−1. */
  recordStatistics(ctx: GpuContext, arenas: TrainerArenas, rec: StepRecorder): void;
  /** The model's fields of a step record from every stats record (the loss value is the trainer's). */
  decode(records: readonly SegmentStats[], loss: number): DecodedStep<Fields>;
  /** Copies of the step's input and target (dense, as the dump writes them). */
  readInput(ctx: GpuContext): Promise<Float32Array>;
  readTarget(ctx: GpuContext): Promise<Float32Array>;
  /** Releases the model's buffers. */
  destroy(): void;
}

/** `elements` f32 of `buffer` from element `offsetElements`, as a binding. */
export function window(buffer: GPUBuffer, offsetElements: number, elements: number): BufferBinding {
  return { buffer, offset: offsetElements * 4, size: elements * 4 };
}

/**
 * Refuses a model whose largest buffer the adapter cannot bind: both sizes,
 * the flag to change and the memory plan. `what` names the model ("MLP").
 */
export function checkLargestBuffer(ctx: GpuContext, what: string, largest: { name: string; bytes: number }, flag: string, memoryText: string): void {
  const limit = Math.min(ctx.limits.maxStorageBufferBindingSize, ctx.limits.maxBufferSize);
  if (largest.bytes <= limit) return;
  throw new GpuLimitError(
    `this ${what} does not fit the adapter: its ${largest.name} need one buffer of ${formatBytes(largest.bytes)}, ` +
      `the adapter binds at most ${formatBytes(limit)} (maxStorageBufferBindingSize). Reduce ${flag}. ` +
      `Memory plan: ${memoryText}.`,
  );
}

/**
 * A model on the GPU with its training step recorded once: `build()` (by the
 * model's `create`), then `run(steps, onStep)` or `submitStep()`,
 * `readParams()`, `readGrads()`, and `destroy()` when done.
 */
export class Trainer<Stats extends StepRecord, Model extends TrainerModel<Omit<Stats, keyof StepRecord>> = TrainerModel<Omit<Stats, keyof StepRecord>>> {
  private readonly dispatches: Dispatch[] = [];
  private readonly reductions: SegmentReduction[] = [];
  private ring: StagingRing | null = null;
  private arenas: (TrainerArenas & { momentum?: GPUBuffer; variance?: GPUBuffer; state: GPUBuffer }) | null = null;
  private stepIndex = 0;
  private readonly statsBytes: number;
  private readonly lossWord: number;

  protected constructor(
    readonly ctx: GpuContext,
    protected readonly model: Model,
  ) {
    this.lossWord = model.statsRecords * 4;
    this.statsBytes = model.statsRecords * SEGMENT_STATS_BYTES + 16;
  }

  /** Dispatches recorded per step (for reports and benchmarks). */
  get dispatchCount(): number {
    return this.dispatches.length;
  }

  /** Allocates, initialises and records the step; on failure releases everything and rethrows. */
  protected async build(): Promise<void> {
    const { ctx, model } = this;
    try {
      await ctx.scoped(`allocating the ${model.labels.allocating}`, () => this.allocate());
      await model.initialise(ctx, this.arenasOrThrow());
      await ctx.scoped(`recording the ${model.labels.recording}`, () => this.record());
    } catch (error) {
      this.destroy();
      throw error;
    }
  }

  private arenasOrThrow() {
    if (!this.arenas) throw new Error('trainer used before it was allocated');
    return this.arenas;
  }

  private allocate(): void {
    const { ctx, model } = this;
    const { optimizer } = model.config;
    const prefix = model.labels.prefix;
    const p = model.paramElements * 4;
    this.arenas = {
      params: ctx.createStorage(`${prefix}parameters`, p),
      grads: ctx.createStorage(`${prefix}gradients`, p),
      momentum: optimizer === 'sgd' ? undefined : ctx.createStorage(`${prefix}optimizer.m`, p),
      variance: optimizer === 'adam' ? ctx.createStorage(`${prefix}optimizer.v`, p) : undefined,
      stats: ctx.createStorage(`${prefix}stats`, this.statsBytes),
      state: ctx.createStorage(`${prefix}step-state`, STEP_STATE_BYTES),
    };
    model.allocate(ctx);
    this.ring = new StagingRing(ctx.device, 3, this.statsBytes + STEP_STATE_BYTES, `${prefix}stats-readback`);
  }

  /** Records the whole step (see the module comment): this list of dispatches is replayed every step. */
  private async record(): Promise<void> {
    const { ctx, model } = this;
    const arenas = this.arenasOrThrow();
    const { clip, optimizer: kind, lr } = model.config;
    const reduce = await prepareSegmentReduce(ctx);
    const globalNorm = await prepareGlobalNorm(ctx, { clip: clip.kind });
    const optimizer = await prepareOptimizer(ctx, { optimizer: kind, clip: clip.kind });
    const d = this.dispatches;
    const rec: StepRecorder = {
      push: (...dispatches) => d.push(...dispatches),
      reduce: (segments, data, firstRecord) => {
        const r = reduce.bind(segments, { data, stats: arenas.stats }, { outputOffset: firstRecord });
        this.reductions.push(r);
        d.push(...r.dispatches);
      },
      lossWord: this.lossWord,
    };
    await model.recordStep(ctx, arenas, rec);
    rec.reduce(model.paramSegments, arenas.grads, 0);
    model.recordStatistics(ctx, arenas, rec);
    // global gradient norm and clip scale, on the GPU, then the update
    const clipThreshold = clip.kind === 'none' ? 0 : clip.threshold;
    d.push(globalNorm.bind({ first: 0, count: model.paramSegments.length, clipThreshold }, { stats: arenas.stats, state: arenas.state }));
    d.push(optimizer.bind(
      { count: model.paramElements, lr, clipThreshold },
      { params: arenas.params, grads: arenas.grads, state: arenas.state, ...(arenas.momentum ? { m: arenas.momentum } : {}), ...(arenas.variance ? { v: arenas.variance } : {}) },
    ));
  }

  /** Submits one step; resolves with its statistics once they are read back. */
  async submitStep(): Promise<Stats> {
    const step = ++this.stepIndex;
    const arenas = this.arenasOrThrow();
    if (!this.ring) throw new Error('trainer used before it was allocated');
    const bytes = await submitRecordedStep(this.ctx, this.ring, `${this.model.labels.step} ${step}`, this.dispatches, arenas.stats, this.statsBytes, arenas.state);
    return this.decode(step, bytes);
  }

  /**
   * Where a step's time goes: the recorded dispatches run once, in order
   * (one step's work: parameters move as in a step), each in its own timed
   * pass, summed by kernel label, slowest first. Per-pass overhead is
   * counted in every row, so the total exceeds a real step's time a little.
   */
  async profileStep(): Promise<StepProfileRow[]> {
    const rows = new Map<string, StepProfileRow>();
    for (const dispatch of this.dispatches) {
      const { ms } = await timeDispatches(this.ctx, [dispatch]);
      const row = rows.get(dispatch.label) ?? { label: dispatch.label, ms: 0, dispatches: 0 };
      row.ms += ms;
      row.dispatches++;
      rows.set(dispatch.label, row);
    }
    return [...rows.values()].sort((x, y) => y.ms - x.ms);
  }

  /** Runs `steps` steps, one in flight while the previous one is read back; `onStep` in order. */
  run(steps: number, onStep: (stats: Stats) => void, shouldStop?: () => boolean): Promise<void> {
    return runPipelined(steps, () => this.submitStep(), onStep, shouldStop);
  }

  private decode(step: number, bytes: ArrayBuffer): Stats {
    const { model } = this;
    const records = decodeSegmentStats(bytes.slice(0, model.statsRecords * SEGMENT_STATS_BYTES), model.statsRecords);
    const loss = new Float32Array(bytes, this.lossWord * 4, 1)[0];
    const state = decodeStepState(bytes.slice(this.statsBytes));
    const own = model.decode(records, loss);
    const nonfinite = own.nonfinite + (Number.isFinite(loss) ? 0 : 1);
    const common: StepRecord = { step, loss, gradNorm: nonfinite > 0 ? null : state.gradNorm, finiteGradNorm: state.gradNorm, clipScale: state.clipScale, nonfinite };
    return { ...common, ...own.fields } as Stats;
  }

  /** Copies of GPU tensors for the dump and for tests. */
  async readParams(): Promise<Float32Array> {
    return this.ctx.readF32(this.arenasOrThrow().params, this.model.paramElements);
  }

  async readGrads(): Promise<Float32Array> {
    return this.ctx.readF32(this.arenasOrThrow().grads, this.model.paramElements);
  }

  /** The step's input, as the dump writes it. */
  readInput(): Promise<Float32Array> {
    return this.model.readInput(this.ctx);
  }

  /** The step's target (the probe's cotangent, the teacher's outputs or the task's answers), as the dump writes it. */
  readTarget(): Promise<Float32Array> {
    return this.model.readTarget(this.ctx);
  }

  destroy(): void {
    releaseDispatches(this.dispatches);
    this.dispatches.length = 0;
    for (const r of this.reductions) r.destroy();
    this.reductions.length = 0;
    this.ring?.destroy();
    this.ring = null;
    this.model.destroy();
    if (!this.arenas) return;
    const a = this.arenas;
    for (const buffer of [a.params, a.grads, a.momentum, a.variance, a.stats, a.state]) buffer?.destroy();
    this.arenas = null;
  }
}

/** The first step's tensors, for a dump. */
export interface FirstStepTensors {
  loss: number;
  params: Float32Array;
  grads: Float32Array;
  input: Float32Array;
  target: Float32Array;
}

/** Options of {@link runTrainer}. */
export interface RunTrainerOptions<Stats, Dump> {
  steps: number;
  /** With a builder, the first step runs alone and its tensors become the dump. */
  dump?: (first: FirstStepTensors) => Dump;
  /** Stops after the step in flight (interruption.ts). */
  signal?: AbortSignal;
  /** Every step's statistics, in order. */
  onRecord: (stats: Stats) => void;
}

/** What a run of a trainer gives back (the report is the model's to build). */
export interface TrainerRun<Dump> {
  /** Wall time per step, from its submission (or the previous step's readback) to its readback. */
  stepMs: number[];
  dump: Dump | null;
  /** null when every step was recorded. */
  interruption: Interruption | null;
}

/**
 * The run loop every model shares: the first step alone when a dump is
 * asked (parameters, input and target read before it, gradients after),
 * then the rest pipelined; step times; a stop by the signal, or a device
 * loss or kernel error once a step is recorded, ends it as an interruption
 * (shared contract 1). Destroys the trainer when done.
 */
export async function runTrainer<Stats extends StepRecord, Dump>(trainer: Trainer<Stats>, options: RunTrainerOptions<Stats, Dump>): Promise<TrainerRun<Dump>> {
  try {
    const stepMs: number[] = [];
    let recorded = 0;
    let dump: Dump | null = null;
    const record = (s: Stats) => {
      recorded++;
      options.onRecord(s);
    };
    const { signal, steps } = options;
    const train = async () => {
      let remaining = steps;
      if (options.dump) {
        const [params, input, target] = [await trainer.readParams(), await trainer.readInput(), await trainer.readTarget()];
        const start = performance.now();
        const first = await trainer.submitStep();
        stepMs.push(performance.now() - start);
        const grads = await trainer.readGrads();
        dump = options.dump({ loss: first.loss, params, grads, input, target });
        record(first);
        remaining--;
      }
      let last = performance.now();
      const onStep = (s: Stats) => {
        const now = performance.now();
        stepMs.push(now - last);
        last = now;
        record(s);
      };
      await trainer.run(remaining, onStep, () => signal?.aborted ?? false);
    };
    const interruption = await runInterruptible(train, () => recorded, steps, signal);
    return { stepMs, dump, interruption };
  } finally {
    trainer.destroy();
  }
}
