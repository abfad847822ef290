import { rnnShader, type RnnDirection, type RnnShaderOptions, type RnnVariant } from '../../shaders/rnn.wgsl.ts';
import type { Activation } from '../../shaders/activation.wgsl.ts';
import type { AdapterSummary, BufferBinding, Dispatch, GpuContext, PreparedKernel } from '../gpu/context.ts';
import { GpuLimitError } from '../gpu/errors.ts';
import { ceilDiv, linearGrid, type KernelSpec, type StorageBinding, type UniformType } from './spec.ts';
import { ACTIVATIONS, activationGradFromOutputRef, activationRef } from './elementwise.ts';

export type { RnnDirection, RnnShaderOptions, RnnVariant } from '../../shaders/rnn.wgsl.ts';
/** The recurrence kernels: `step` (one dispatch per timestep) and `persistent` (all T steps in one single-workgroup dispatch, for small batch × hidden). */
export const RNN_VARIANTS: readonly RnnVariant[] = ['step', 'persistent'];
export const RNN_DIRECTIONS: readonly RnnDirection[] = ['forward', 'backward'];

/**
 * The recurrent kernels (shaders/rnn.wgsl.ts): the forward step
 * h_t = φ(u_t + h_{t−1} W_hhᵀ) and the backward step
 * dh_t = [direct]·dh_t + [carry]·dz_{t+1} W_hh, dz_t = dh_t ⊙ φ'(h_t),
 * one dispatch per timestep ('step') or all timesteps in one single-workgroup
 * dispatch ('persistent').
 *
 *   const fwd = await prepareRnn(ctx, { direction: 'forward', variant: 'step', activation }, { batch, hidden });
 *   fwd.bindForward(dims, { w, u, h })           // dispatches for t = 1..T (step: T of them; persistent: 1)
 *   const bwd = await prepareRnn(ctx, { direction: 'backward', variant, activation }, { batch, hidden });
 *   bwd.bindBackward(dims, { lossAll, bptt }, { w, h, dh, dz })
 *   rnnForwardStepReference / rnnBackwardStepReference: the float64 contracts of one step.
 */

/** Sizes shared by every RNN kernel. `rows` ≥ batch rows per timestep slab; slab = rows·hidden. */
export interface RnnDims {
  /** T, timesteps. */
  steps: number;
  /** B, real batch rows (rows past it are never written). */
  batch: number;
  /** H. */
  hidden: number;
  /** Elements per timestep slab (≥ batch·hidden). */
  slab: number;
}

export interface RnnKernelOptions {
  direction: RnnDirection;
  variant: RnnVariant;
  activation: Activation;
  /** Tile and workgroup shape; default rnnKernelShape for the adapter and size. */
  rowsPerThread?: number;
  colsPerThread?: number;
  workgroupSize?: number;
}

export interface RnnKernelShape {
  rowsPerThread: number;
  colsPerThread: number;
  workgroupSize: number;
}

function pow2AtLeast(n: number, max: number): number {
  let p = 1;
  while (p < n && p < max) p *= 2;
  return p;
}

/**
 * Tile and workgroup shape per adapter and size (bench/rnn-step.ts measured
 * them on SwiftShader; every shape computes each output with the same
 * sequential dot product, so the numbers do not depend on it):
 *   software (SwiftShader: workgroups run on CPU threads, invocations in SIMD
 *     groups, barriers switch between all of them): fat tiles of up to 8
 *     batch rows × 8 units; step: 16 invocations a workgroup; persistent: one
 *     invocation per tile (4 units wide while that leaves ≤ 64 tiles), so
 *     each storageBarrier has few invocations to switch.
 *   GPU: thin tiles and many invocations (step: 2×4 tiles, 64 a workgroup;
 *     persistent: 4×4 tiles, up to 256 invocations, 8 units wide past that).
 * Rows per tile never exceed the batch rounded up to a power of two.
 */
export function rnnKernelShape(adapter: Pick<AdapterSummary, 'software'>, variant: RnnVariant, batch: number, hidden: number, maxInvocations = 256): RnnKernelShape {
  if (adapter.software) {
    const rowsPerThread = pow2AtLeast(batch, 8);
    if (variant === 'step') return { rowsPerThread, colsPerThread: hidden >= 8 ? 8 : 4, workgroupSize: 16 };
    const narrow = ceilDiv(batch, rowsPerThread) * ceilDiv(hidden, 4);
    const colsPerThread = narrow <= 64 ? 4 : 8;
    return { rowsPerThread, colsPerThread, workgroupSize: Math.min(maxInvocations, ceilDiv(batch, rowsPerThread) * ceilDiv(hidden, colsPerThread)) };
  }
  if (variant === 'step') return { rowsPerThread: pow2AtLeast(batch, 2), colsPerThread: 4, workgroupSize: 64 };
  const rowsPerThread = pow2AtLeast(batch, 4);
  const narrow = ceilDiv(batch, rowsPerThread) * ceilDiv(hidden, 4);
  const colsPerThread = narrow <= maxInvocations ? 4 : 8;
  const tiles = ceilDiv(batch, rowsPerThread) * ceilDiv(hidden, colsPerThread);
  return { rowsPerThread, colsPerThread, workgroupSize: Math.min(maxInvocations, ceilDiv(tiles, 32) * 32) };
}

/** The fixed shapes rnnSpecs() lists (the registry and the spec-vs-WGSL test). */
const LISTED_SHAPES: Record<RnnVariant, RnnKernelShape> = {
  step: { rowsPerThread: 4, colsPerThread: 4, workgroupSize: 64 },
  persistent: { rowsPerThread: 4, colsPerThread: 4, workgroupSize: 256 },
};

export function rnnShaderOptions(o: RnnKernelOptions, shape: RnnKernelShape = LISTED_SHAPES[o.variant]): RnnShaderOptions {
  return {
    direction: o.direction,
    variant: o.variant,
    activation: o.activation,
    rowsPerThread: o.rowsPerThread ?? shape.rowsPerThread,
    colsPerThread: o.colsPerThread ?? shape.colsPerThread,
    workgroupSize: o.workgroupSize ?? shape.workgroupSize,
  };
}

type ForwardStepUniforms = { batch: 'u32'; hidden: 'u32'; slab: 'u32'; t: 'u32' };
type ForwardPersistentUniforms = { batch: 'u32'; hidden: 'u32'; slab: 'u32'; steps: 'u32' };
type BackwardStepUniforms = { batch: 'u32'; hidden: 'u32'; slab: 'u32'; t: 'u32'; carry: 'u32'; direct: 'u32' };
type BackwardPersistentUniforms = { batch: 'u32'; hidden: 'u32'; slab: 'u32'; steps: 'u32'; first: 'u32'; bptt: 'u32'; loss_all: 'u32' };
type RnnUniforms = ForwardStepUniforms | ForwardPersistentUniforms | BackwardStepUniforms | BackwardPersistentUniforms;

function uniformsOf(o: RnnShaderOptions): Record<string, UniformType> {
  const base = { batch: 'u32', hidden: 'u32', slab: 'u32' } as const;
  if (o.direction === 'forward') return o.variant === 'step' ? { ...base, t: 'u32' } : { ...base, steps: 'u32' };
  return o.variant === 'step'
    ? { ...base, t: 'u32', carry: 'u32', direct: 'u32' }
    : { ...base, steps: 'u32', first: 'u32', bptt: 'u32', loss_all: 'u32' };
}

export function rnnSpec(o: RnnShaderOptions): KernelSpec<RnnUniforms> {
  const storage: StorageBinding[] =
    o.direction === 'forward'
      ? [
          { name: 'w', access: 'read', type: 'array<f32>' },
          { name: 'u', access: 'read', type: 'array<f32>' },
          { name: 'h', access: 'read_write', type: 'array<f32>' },
        ]
      : [
          { name: 'w', access: 'read', type: 'array<f32>' },
          { name: 'h', access: 'read', type: 'array<f32>' },
          { name: 'dh', access: 'read_write', type: 'array<f32>' },
          { name: 'dz', access: 'read_write', type: 'array<f32>' },
        ];
  const shape = `${o.rowsPerThread}x${o.colsPerThread}`;
  return {
    key: `rnn/${o.direction}/${o.variant}/${o.activation}/${shape}/wg${o.workgroupSize}`,
    label: `rnn.${o.direction}[${o.variant}, ${o.activation}, ${shape}]`,
    entryPoint: `rnn_${o.direction}_${o.variant}`,
    uniforms: uniformsOf(o) as RnnUniforms,
    storage,
    workgroupSize: [o.workgroupSize, 1, 1],
    workgroupBytes: 0,
    body: rnnShader(o),
  };
}

/**
 * Specs of the family for the spec-vs-WGSL unit test and the registry: every
 * direction × variant × activation at the listed shape, plus the tile shapes
 * that exercise the other code paths (1, 2, 8 rows; 8 units).
 */
export function rnnSpecs(): KernelSpec[] {
  const specs: KernelSpec[] = [];
  const extra: RnnKernelShape[] = [
    { rowsPerThread: 1, colsPerThread: 4, workgroupSize: 64 },
    { rowsPerThread: 2, colsPerThread: 8, workgroupSize: 16 },
    { rowsPerThread: 8, colsPerThread: 8, workgroupSize: 16 },
  ];
  for (const direction of RNN_DIRECTIONS) {
    for (const variant of RNN_VARIANTS) {
      for (const activation of ACTIVATIONS) specs.push(rnnSpec(rnnShaderOptions({ direction, variant, activation })) as unknown as KernelSpec);
      for (const shape of extra) specs.push(rnnSpec(rnnShaderOptions({ direction, variant, activation: 'tanh' }, shape)) as unknown as KernelSpec);
    }
  }
  return specs;
}

/** Tiles of one timestep: ⌈B/TB⌉·⌈H/TC⌉. */
export function rnnTileCount(o: Pick<RnnShaderOptions, 'rowsPerThread' | 'colsPerThread'>, batch: number, hidden: number): number {
  return ceilDiv(batch, o.rowsPerThread) * ceilDiv(hidden, o.colsPerThread);
}

/**
 * Whether the persistent variant "fits": every tile of a timestep, at the
 * largest tile (8 batch rows × 8 units), has its own invocation in the one
 * workgroup: ⌈B/8⌉·⌈H/8⌉ ≤ 256 (H = 128 fits up to B = 128). Past that it
 * still runs correctly, invocations looping over tiles, but one workgroup
 * then does the work of many.
 */
export function persistentFits(batch: number, hidden: number, maxInvocations = 256): boolean {
  return ceilDiv(batch, pow2AtLeast(batch, 8)) * ceilDiv(hidden, 8) <= maxInvocations;
}

/**
 * B·H up to which the persistent variant is the default on software adapters.
 * Measured on SwiftShader (2 cores, T = 200, forward + backward recurrence):
 * B·H 32: persistent 4.6 ms vs step 87; 512: 76 vs 124; 1024: 152 vs 108;
 * 4096: persistent ≈ 2–3× slower (one workgroup runs on one CPU thread).
 */
export const SOFTWARE_PERSISTENT_MAX_STATE = 512;

/**
 * The default variant: persistent where it fits, step-per-dispatch otherwise.
 * On SwiftShader the one workgroup of the persistent variant runs on one CPU
 * thread while the step variant's workgroups spread over all of them, so
 * there persistent is the default only for small states
 * (B·H ≤ SOFTWARE_PERSISTENT_MAX_STATE), where per-dispatch overhead dominates.
 */
export function defaultRnnVariant(adapter: Pick<AdapterSummary, 'software'>, batch: number, hidden: number): RnnVariant {
  if (!persistentFits(batch, hidden)) return 'step';
  if (adapter.software) return batch * hidden <= SOFTWARE_PERSISTENT_MAX_STATE ? 'persistent' : 'step';
  return 'persistent';
}

function bindingElements(b: BufferBinding): number {
  if ('mapState' in b) return b.size / 4;
  return Math.floor((b.size ?? b.buffer.size - (b.offset ?? 0)) / 4);
}

/** Refuses dims that are not integers ≥ 1 or a slab smaller than batch·hidden (the LSTM kernels share it). */
export function checkDims(label: string, d: RnnDims): void {
  for (const [name, v] of Object.entries(d)) {
    if (!Number.isInteger(v) || v < 1 || v > 0xffffffff) throw new Error(`${label}: ${name} = ${v}, must be an integer ≥ 1`);
  }
  if (d.slab < d.batch * d.hidden) throw new Error(`${label}: slab ${d.slab} is smaller than batch·hidden = ${d.batch * d.hidden}`);
}

/** Refuses a binding holding fewer than `elements` f32 (the LSTM kernels share it). */
export function checkSize(label: string, name: string, b: BufferBinding, elements: number): void {
  const have = bindingElements(b);
  if (have < elements) throw new Error(`${label}: '${name}' holds ${have} elements, ${elements} needed`);
}

export interface RnnForwardBuffers {
  /** W_hh [H, H]. */
  w: BufferBinding;
  /** u [T, rows, H]: the input projection x_t W_xhᵀ + b_h. */
  u: BufferBinding;
  /** h [T+1, rows, H], slot 0 = h_0 = 0 (never written). */
  h: BufferBinding;
}

export interface RnnBackwardBuffers {
  w: BufferBinding;
  /** h [T+1, rows, H] from the forward pass. */
  h: BufferBinding;
  /** dh [T, rows, H]: holds the direct readout term of the steps with a loss on entry; ∂L/∂h_t on exit. */
  dh: BufferBinding;
  /** dz [T, rows, H]: ∂L/∂z_t on exit. */
  dz: BufferBinding;
}

export interface BackwardSchedule {
  /** A loss at every step (direct term every step) or at the last only. */
  lossAll: boolean;
  /** Truncated BPTT: gradients flow back through at most `bptt` timesteps (chunks aligned to the end); ≥ T is full BPTT. */
  bptt: number;
}

/**
 * Which timesteps the backward pass visits and, at each, whether the
 * recurrence carries dz_{t+1} (carry) and whether the readout contributes (direct).
 * Truncation cuts the recurrence between t and t+1 where (T − t) mod k = 0,
 * so chunks of k steps end at T: with the loss at the last step, gradients
 * reach h_T … h_{T−k+1} and no further (those steps are not visited: their dh
 * and dz stay zero).
 */
export function backwardSteps(T: number, s: BackwardSchedule): { t: number; carry: boolean; direct: boolean }[] {
  const k = Math.min(Math.max(1, s.bptt), T);
  const first = s.lossAll ? 1 : T - k + 1;
  const out: { t: number; carry: boolean; direct: boolean }[] = [];
  for (let t = T; t >= first; t--) out.push({ t, carry: t < T && (T - t) % k !== 0, direct: s.lossAll || t === T });
  return out;
}

/** A compiled RNN kernel (one direction, one variant). */
export class RnnKernel {
  constructor(
    readonly options: RnnShaderOptions,
    private readonly prepared: PreparedKernel<RnnUniforms>,
    private readonly maxPerDimension: number,
  ) {}

  get label(): string {
    return this.prepared.spec.label;
  }

  /** persistent: one workgroup; step: one invocation per tile, folded into 2-D past the per-dimension limit. */
  private grid(dims: RnnDims): readonly [number, number?, number?] {
    if (this.options.variant === 'persistent') return [1];
    return linearGrid(rnnTileCount(this.options, dims.batch, dims.hidden), this.options.workgroupSize, this.maxPerDimension);
  }

  private checkCommon(dims: RnnDims, buffers: { w: BufferBinding; h: BufferBinding }): void {
    checkDims(this.label, dims);
    checkSize(this.label, 'w', buffers.w, dims.hidden * dims.hidden);
    checkSize(this.label, 'h', buffers.h, (dims.steps + 1) * dims.slab);
  }

  /** The forward recurrence t = 1..T: T dispatches (step) or one (persistent). Encode them in order. */
  bindForward(dims: RnnDims, buffers: RnnForwardBuffers, steps: { from?: number; to?: number } = {}): Dispatch[] {
    if (this.options.direction !== 'forward') throw new Error(`${this.label}: bindForward on a backward kernel`);
    this.checkCommon(dims, buffers);
    checkSize(this.label, 'u', buffers.u, dims.steps * dims.slab);
    const base = { batch: dims.batch, hidden: dims.hidden, slab: dims.slab };
    const grid = this.grid(dims);
    const bound = { w: buffers.w, u: buffers.u, h: buffers.h };
    if (this.options.variant === 'persistent') return [this.prepared.bind({ ...base, steps: dims.steps }, bound, grid)];
    const from = steps.from ?? 1;
    const to = steps.to ?? dims.steps;
    const out: Dispatch[] = [];
    for (let t = from; t <= to; t++) out.push(this.prepared.bind({ ...base, t }, bound, grid));
    return out;
  }

  /** The backward recurrence t = T down to the first visited step (see backwardSteps). */
  bindBackward(dims: RnnDims, schedule: BackwardSchedule, buffers: RnnBackwardBuffers): Dispatch[] {
    if (this.options.direction !== 'backward') throw new Error(`${this.label}: bindBackward on a forward kernel`);
    this.checkCommon(dims, buffers);
    checkSize(this.label, 'dh', buffers.dh, dims.steps * dims.slab);
    checkSize(this.label, 'dz', buffers.dz, dims.steps * dims.slab);
    if (!Number.isInteger(schedule.bptt) || schedule.bptt < 1) throw new Error(`${this.label}: bptt ${schedule.bptt} must be an integer ≥ 1`);
    const base = { batch: dims.batch, hidden: dims.hidden, slab: dims.slab };
    const grid = this.grid(dims);
    const bound = { w: buffers.w, h: buffers.h, dh: buffers.dh, dz: buffers.dz };
    const visits = backwardSteps(dims.steps, schedule);
    if (this.options.variant === 'persistent') {
      const k = Math.min(schedule.bptt, dims.steps);
      const first = visits[visits.length - 1].t;
      return [this.prepared.bind({ ...base, steps: dims.steps, first, bptt: k, loss_all: schedule.lossAll ? 1 : 0 }, bound, grid)];
    }
    return visits.map((v) => this.prepared.bind({ ...base, t: v.t, carry: v.carry ? 1 : 0, direct: v.direct ? 1 : 0 }, bound, grid));
  }
}

/**
 * Compiles an RNN kernel. With `size` the tile and workgroup shape default to
 * rnnKernelShape(adapter, variant, batch, hidden); without it, to the listed shapes.
 */
export async function prepareRnn(ctx: GpuContext, options: RnnKernelOptions, size?: { batch: number; hidden: number }): Promise<RnnKernel> {
  const shape = size
    ? rnnKernelShape(ctx.summary, options.variant, size.batch, size.hidden, ctx.limits.maxComputeInvocationsPerWorkgroup)
    : LISTED_SHAPES[options.variant];
  const o = rnnShaderOptions(options, shape);
  if (o.variant === 'persistent' && o.workgroupSize > ctx.limits.maxComputeInvocationsPerWorkgroup) {
    throw new GpuLimitError(`rnn persistent: ${o.workgroupSize} invocations exceed the adapter's ${ctx.limits.maxComputeInvocationsPerWorkgroup}`);
  }
  return new RnnKernel(o, await ctx.prepare(rnnSpec(o)), ctx.limits.maxComputeWorkgroupsPerDimension);
}

// ---------------------------------------------------------------------------
// float64 references of one step (the kernels' contracts)

export interface RnnStepReference {
  /** The step's output [B, H] in float64 (h_t forward; dz_t backward). */
  out: Float64Array;
  /** backward: dh_t [B, H]. */
  dh?: Float64Array;
  /** Σ_k |terms| of each output's dot product (+|u| or +|direct|): the scale of its rounding error. */
  magnitude: Float64Array;
}

type Numbers = ArrayLike<number>;

/** h_t = φ(u_t + h_{t−1} W_hhᵀ) for one timestep: hPrev, u [B, H] (dense), w [H, H]. */
export function rnnForwardStepReference(activation: Activation, batch: number, hidden: number, w: Numbers, u: Numbers, hPrev: Numbers): RnnStepReference {
  const H = hidden;
  const out = new Float64Array(batch * H);
  const magnitude = new Float64Array(batch * H);
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < H; j++) {
      let sum = u[b * H + j];
      let mag = Math.abs(sum);
      for (let k = 0; k < H; k++) {
        const p = hPrev[b * H + k] * w[j * H + k];
        sum += p;
        mag += Math.abs(p);
      }
      out[b * H + j] = activationRef(activation, sum);
      magnitude[b * H + j] = mag;
    }
  }
  return { out, magnitude };
}

/**
 * dh_t = direct + dz_{t+1} W_hh (each term optional), dz_t = dh_t ⊙ φ'(h_t),
 * with φ' written from h_t as the kernel does. Arrays are dense [B, H].
 */
export function rnnBackwardStepReference(
  activation: Activation,
  batch: number,
  hidden: number,
  w: Numbers,
  hT: Numbers,
  dzNext: Numbers | null,
  direct: Numbers | null,
): RnnStepReference {
  const H = hidden;
  const dh = new Float64Array(batch * H);
  const out = new Float64Array(batch * H);
  const magnitude = new Float64Array(batch * H);
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < H; j++) {
      let sum = direct ? direct[b * H + j] : 0;
      let mag = Math.abs(sum);
      if (dzNext) {
        for (let k = 0; k < H; k++) {
          const p = dzNext[b * H + k] * w[k * H + j];
          sum += p;
          mag += Math.abs(p);
        }
      }
      const i = b * H + j;
      dh[i] = sum;
      const g = activationGradFromOutputRef(activation, hT[i]);
      out[i] = sum * g;
      magnitude[i] = mag;
    }
  }
  return { out, dh, magnitude };
}
