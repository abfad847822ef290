/**
 * The LSTM on the trainer (src/scheduler/trainer.ts): its buffers,
 * initialisation, BPTT dispatches and statistics.
 *
 *   input     ZX = X W_ihᵀ + b over all T·rows rows, 4H columns   (ONE matmul nt, fused bias)
 *   forward   gates, c_t, h_t   t = 1 … T                          (lstm forward: T dispatches)
 *   readout   Y = h_T W_hyᵀ + b_y; loss; dW_hy, db_y; dh_T ← dY W_hy   (recordReadout, shared with the RNN)
 *   backward  dh_t, dc_t, dcf_t = f_t ⊙ dc_t, dz_t   t = T … 1     (lstm backward: T dispatches)
 *   weights   dW_hh = dZᵀ H_prev, dW_ih = dZᵀ X, db = 1ᵀ dZ over all T·rows rows   (3 matmuls)
 *   stats     the 5 gradients (the trainer), then per timestep ‖dh_t‖, ‖dc_t‖, ‖f_t ⊙ dc_t‖,
 *             ‖f_t‖ (rms and max), ‖h_t‖, and the 5 parameters
 */
import type { Dispatch, GpuContext } from '../gpu/context.ts';
import type { MatmulVariant } from '../kernels/matmul.ts';
import { prepareRandomFill } from '../kernels/init.ts';
import type { SegmentStats } from '../kernels/reduce.ts';
import { prepareLstm } from '../kernels/lstm.ts';
import type { DecodedStep, StepRecord, StepRecorder, TrainerArenas } from '../scheduler/trainer.ts';
import { window } from '../scheduler/trainer.ts';
import { LSTM_STREAMS, lstmInitStd, lstmMatmulUses, lstmMemoryPlan, planLstm, type LstmConfig, type LstmPlan, type LstmTensorName } from './lstm.ts';
import { tensorPlan } from './rnn.ts';
import { RecurrentModel, checkRecurrentFits, prepareRecurrentKernels, recordReadout, taskData, type RecurrentTensorStats } from './rnn-model.ts';

/** One LSTM tensor's statistics in a step. */
export type LstmTensorStats = RecurrentTensorStats<LstmTensorName>;

/** One timestep of an LSTM step: the hidden and the cell gradient, the forget gates. */
export interface LstmTimestepStats {
  /** 1..T */
  t: number;
  /** ‖∂L/∂h_t‖_F over the batch. */
  hiddenGradNorm: number;
  /** log10 ‖∂L/∂h_t‖ (finite wherever some entry is, even past float64's range of the norm). */
  log10HiddenGradNorm: number;
  /** ‖h_t‖_F over the batch (forward). */
  hiddenNorm: number;
  /** ‖∂L/∂c_t‖_F over the batch (both paths: through c_{t+1} and through h_t). */
  cellGradNorm: number;
  log10CellGradNorm: number;
  /** ‖f_t ⊙ ∂L/∂c_t‖_F: the part of ∂L/∂c_{t−1} that comes along the cell path. */
  cellPathGradNorm: number;
  log10CellPathGradNorm: number;
  /** rms of the forget gate f_t over the batch and units, and its largest value. */
  forgetRms: number;
  forgetMax: number;
}

/** One LSTM training step: loss, global gradient norm, clip scale, non-finite counts, per-tensor norms and per-timestep norms. */
export interface LstmStepStats extends StepRecord {
  /** ‖g‖ over the 5 gradients before clipping; null whenever `nonfinite` > 0. */
  gradNorm: number | null;
  /** The first timestep (forward 1..T, then backward T..1) holding a non-finite value; null if none. */
  nonfiniteTimestep: number | null;
  /** Empty for an LSTM (the run report schema's per-layer list); see `tensors`. */
  layers: [];
  tensors: LstmTensorStats[];
  timesteps: LstmTimestepStats[];
}

interface Buffers {
  /** X [T, rows, in] */
  input: GPUBuffer;
  /** ZX, gates [T, rows, 4H] and [T, 4, rows, H] */
  zx: GPUBuffer;
  gates: GPUBuffer;
  /** h, c [T+1, rows, H] */
  h: GPUBuffer;
  c: GPUBuffer;
  /** dh, dc, dcf [T, rows, H]; dz [T, rows, 4H] */
  dh: GPUBuffer;
  dc: GPUBuffer;
  dcf: GPUBuffer;
  dz: GPUBuffer;
  /** y, target, dy [B, out] */
  y: GPUBuffer;
  target: GPUBuffer;
  dy: GPUBuffer;
  ones: GPUBuffer;
}

/** The first record of each per-timestep block (T records each) and of the parameters (5). */
interface StatsLayout {
  hiddenGrads: number;
  cellGrads: number;
  cellPath: number;
  forget: number;
  hidden: number;
  params: number;
  records: number;
}

function statsLayout(T: number): StatsLayout {
  const hiddenGrads = 5;
  const [cellGrads, cellPath, forget, hidden, params] = [1, 2, 3, 4, 5].map((k) => hiddenGrads + k * T);
  return { hiddenGrads, cellGrads, cellPath, forget, hidden, params, records: params + 5 };
}

/** Refuses, before anything is allocated or tuned, an LSTM that does not fit the adapter. */
export function checkLstmFits(ctx: GpuContext, config: LstmConfig, plan: LstmPlan = planLstm(config)): void {
  checkRecurrentFits(ctx, 'LSTM', lstmMemoryPlan(config, plan), config.seqLen * plan.rows);
}

/** The LSTM as a {@link TrainerModel}: the 5 tensors of one arena, [T, rows, H] slabs, BPTT. */
export class LstmModel extends RecurrentModel<LstmConfig, LstmTensorName, LstmPlan, Buffers, Omit<LstmStepStats, keyof StepRecord>> {
  private readonly layout: StatsLayout;

  constructor(
    config: LstmConfig,
    private readonly options: { matmulVariant?: MatmulVariant } = {},
  ) {
    const layout = statsLayout(config.seqLen);
    super(config, planLstm(config), layout.records, 'LSTM');
    this.layout = layout;
  }

  allocate(ctx: GpuContext): void {
    const { config, plan } = this;
    const T = config.seqLen;
    const s = plan.slab * 4;
    const readout = config.batch * config.output * 4;
    this.buffers = {
      input: ctx.createStorage('lstm.input', T * plan.rows * config.input * 4),
      zx: ctx.createStorage('lstm.zx', 4 * T * s),
      gates: ctx.createStorage('lstm.gates', 4 * T * s),
      h: ctx.createStorage('lstm.h', (T + 1) * s),
      c: ctx.createStorage('lstm.c', (T + 1) * s),
      dh: ctx.createStorage('lstm.dh', T * s),
      dc: ctx.createStorage('lstm.dc', T * s),
      dcf: ctx.createStorage('lstm.dcf', T * s),
      dz: ctx.createStorage('lstm.dz', 4 * T * s),
      y: ctx.createStorage('lstm.y', readout),
      target: ctx.createStorage('lstm.target', readout),
      dy: ctx.createStorage('lstm.dy', readout),
      ones: ctx.upload('lstm.ones', new Float32Array(T * plan.rows).fill(1)),
    };
  }

  /** Parameters (src/models/lstm.ts says how each is drawn), input and target (the RNN's tasks). */
  async initialise(ctx: GpuContext, arenas: TrainerArenas): Promise<void> {
    const { config, plan } = this;
    const seed = config.seed;
    const H = config.width;
    const normal = await prepareRandomFill(ctx, 'normal');
    const work: Dispatch[] = [];
    for (const name of ['W_ih', 'W_hh', 'W_hy'] as const) {
      const std = lstmInitStd(config, name);
      if (std > 0) work.push(normal.bind({ seed, stream: LSTM_STREAMS[name], count: tensorPlan(plan, name).length, std }, this.param(name, arenas.params)));
    }
    const bias = new Float32Array(4 * H);
    bias.fill(config.forgetBias, H, 2 * H);
    ctx.device.queue.writeBuffer(arenas.params, tensorPlan(plan, 'b').offset * 4, bias);
    taskData(ctx, normal, work, config, plan.rows, this.b);
    await this.runInitialisation(ctx, work);
  }

  /** Input part of the gates, forward through time, readout and loss, BPTT, the weight gradients (see the module comment). */
  async recordStep(ctx: GpuContext, arenas: TrainerArenas, rec: StepRecorder): Promise<void> {
    const { config, plan } = this;
    const buffers = this.b;
    const T = config.seqLen;
    const H = config.width;
    const B = config.batch;
    const rowsAll = T * plan.rows;
    const variant = this.options.matmulVariant;
    const uses = lstmMatmulUses(plan, config);
    const kernels = await prepareRecurrentKernels(ctx, uses, config.loss, variant);
    const { inputProjection } = kernels;
    const forward = await prepareLstm(ctx, { direction: 'forward', batch: B });
    const backward = await prepareLstm(ctx, { direction: 'backward', batch: B });
    const P = arenas.params;
    const W = this.param('W_hh', P);

    // the input part of every timestep's gates at once: ZX = X W_ihᵀ + b
    rec.push(inputProjection.bind({ m: rowsAll, n: 4 * H, k: config.input }, { a: buffers.input, b: this.param('W_ih', P), bias: this.param('b', P), c: buffers.zx }));
    rec.push(...forward.bindForward(this.dims, { w: W, zx: buffers.zx, gates: buffers.gates, c: buffers.c, h: buffers.h }));
    recordReadout(rec, kernels, { rows: B, hidden: H, output: config.output }, {
      ...buffers,
      ...this.readoutParams('W_hy', 'b_y', arenas),
      hidden: window(buffers.h, T * plan.slab, B * H),
      hiddenGrad: window(buffers.dh, (T - 1) * plan.slab, B * H),
    }, arenas.stats);
    rec.push(...backward.bindBackward(this.dims, { w: W, gates: buffers.gates, c: buffers.c, dh: buffers.dh, dc: buffers.dc, dcf: buffers.dcf, dz: buffers.dz }));
    this.recordWeightGrads(rec, kernels, 4 * H, { dz: buffers.dz, ones: buffers.ones }, { input: 'W_ih', recurrent: 'W_hh', bias: 'b' }, arenas.grads);
  }

  /** Per timestep ‖dh_t‖, ‖dc_t‖, ‖f_t ⊙ dc_t‖, ‖f_t‖, ‖h_t‖, and the 5 parameters. */
  recordStatistics(_ctx: GpuContext, arenas: TrainerArenas, rec: StepRecorder): void {
    const { config, plan, layout } = this;
    const b = this.b;
    const slab = plan.slab;
    const steps = Array.from({ length: config.seqLen }, (_, i) => i);
    const slots = (first: number, stride = 1) => steps.map((i) => ({ offset: (first + i * stride) * slab, length: slab }));
    rec.reduce(slots(0), b.dh, layout.hiddenGrads);
    rec.reduce(slots(0), b.dc, layout.cellGrads);
    rec.reduce(slots(0), b.dcf, layout.cellPath);
    // f_t: gate 1 of the gate-major [T, 4, rows, H] slots
    rec.reduce(slots(1, 4), b.gates, layout.forget);
    rec.reduce(slots(1), b.h, layout.hidden);
    rec.reduce(this.paramSegments, arenas.params, layout.params);
  }

  decode(records: readonly SegmentStats[]): DecodedStep<Omit<LstmStepStats, keyof StepRecord>> {
    const { layout, config } = this;
    const T = config.seqLen;
    const units = config.batch * config.width;
    const tensors: LstmTensorStats[] = this.tensorStats(records, layout.params);
    const timesteps: LstmTimestepStats[] = [];
    let nonfinite = tensors.reduce((s, x) => s + x.nonfinite, 0);
    let forwardBad: number | null = null;
    let backwardBad: number | null = null;
    for (let t = 1; t <= T; t++) {
      const at = (first: number) => records[first + t - 1];
      const [dh, dc, dcf, f, h] = [at(layout.hiddenGrads), at(layout.cellGrads), at(layout.cellPath), at(layout.forget), at(layout.hidden)];
      timesteps.push({
        t,
        hiddenGradNorm: dh.norm,
        log10HiddenGradNorm: dh.log10Norm,
        hiddenNorm: h.norm,
        cellGradNorm: dc.norm,
        log10CellGradNorm: dc.log10Norm,
        cellPathGradNorm: dcf.norm,
        log10CellPathGradNorm: dcf.log10Norm,
        forgetRms: f.norm / Math.sqrt(units),
        forgetMax: f.maxAbs,
      });
      const forwardCount = f.nonfinite + h.nonfinite;
      const backwardCount = dh.nonfinite + dc.nonfinite + dcf.nonfinite;
      nonfinite += forwardCount + backwardCount;
      if (forwardCount > 0 && forwardBad === null) forwardBad = t;
      if (backwardCount > 0) backwardBad = t;
    }
    return { nonfinite, fields: { nonfiniteTimestep: forwardBad ?? backwardBad, layers: [], tensors, timesteps } };
  }

  // ---------------------------------------------------------------------------
  // Copies of GPU tensors (dense, padding rows dropped) for the dump and tests

  /** probe: g [B, out]; adding: the sums [B]. */
  readTarget(ctx: GpuContext): Promise<Float32Array> {
    return ctx.readF32(this.b.target, this.config.batch * this.config.output);
  }

  /** h_t or c_t for t = 1..T: [T, B, H]. */
  readState(ctx: GpuContext, which: 'h' | 'c'): Promise<Float32Array> {
    return this.readSlabs(ctx, this.b[which], this.config.seqLen, this.config.width, 1);
  }

  /** ∂L/∂h_t, ∂L/∂c_t or f_t ⊙ ∂L/∂c_t for t = 1..T: [T, B, H]. */
  readStateGrads(ctx: GpuContext, which: 'dh' | 'dc' | 'dcf'): Promise<Float32Array> {
    return this.readSlabs(ctx, this.b[which], this.config.seqLen, this.config.width);
  }

}
