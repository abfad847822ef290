import { lstmShader, type LstmDirection, type LstmShaderOptions } from '../../shaders/lstm.wgsl.ts';
import type { AdapterSummary, BufferBinding, Dispatch, GpuContext, PreparedKernel } from '../gpu/context.ts';
import { ceilDiv, linearGrid, type KernelSpec, type StorageBinding } from './spec.ts';
import { checkDims, checkSize, type RnnDims } from './rnn.ts';

export type { LstmDirection, LstmShaderOptions } from '../../shaders/lstm.wgsl.ts';
/** The two LSTM recurrence kernels. */
export const LSTM_DIRECTIONS: readonly LstmDirection[] = ['forward', 'backward'];

/**
 * The LSTM recurrence kernels (shaders/lstm.wgsl.ts), gate order i, f, g, o:
 * the forward step z_t = zx_t + h_{t−1} W_hhᵀ → gates, c_t, h_t, and the
 * backward step dh_t, dc_t → dz_t, one dispatch per timestep, one invocation
 * per (block of rowsPerThread batch rows, unit).
 *
 *   const fwd = await prepareLstm(ctx, { direction: 'forward' });
 *   fwd.bindForward(dims, { w, zx, gates, c, h })          // T dispatches, t = 1..T
 *   const bwd = await prepareLstm(ctx, { direction: 'backward' });
 *   bwd.bindBackward(dims, { w, gates, c, dh, dc, dcf, dz })    // T dispatches, t = T..1
 *   lstmForwardStepReference / lstmBackwardStepReference: the float64 contracts of one step.
 *
 * Dims are the RNN's (RnnDims): `slab` = rows·H elements per timestep of
 * h, c, dh, dc; the gate buffers (zx, gates, dz) hold 4·slab per timestep.
 */

/** Invocations per workgroup (one per (batch row, unit)). */
export const LSTM_WORKGROUP = 64;

type ForwardUniforms = { batch: 'u32'; hidden: 'u32'; slab: 'u32'; t: 'u32' };
type BackwardUniforms = { batch: 'u32'; hidden: 'u32'; slab: 'u32'; t: 'u32'; carry: 'u32'; direct: 'u32' };
type LstmUniforms = ForwardUniforms | BackwardUniforms;

/** The spec of one LSTM kernel: its bindings and uniforms, declared once here. */
export function lstmSpec(o: LstmShaderOptions): KernelSpec<LstmUniforms> {
  const f32 = 'array<f32>';
  const storage: StorageBinding[] =
    o.direction === 'forward'
      ? [
          { name: 'w', access: 'read', type: f32 },
          { name: 'zx', access: 'read', type: f32 },
          { name: 'gates', access: 'read_write', type: f32 },
          { name: 'c', access: 'read_write', type: f32 },
          { name: 'h', access: 'read_write', type: f32 },
        ]
      : [
          { name: 'w', access: 'read', type: f32 },
          { name: 'gates', access: 'read', type: f32 },
          { name: 'c', access: 'read', type: f32 },
          { name: 'dh', access: 'read_write', type: f32 },
          { name: 'dc', access: 'read_write', type: f32 },
          { name: 'dcf', access: 'read_write', type: f32 },
          { name: 'dz', access: 'read_write', type: f32 },
        ];
  const base = { batch: 'u32', hidden: 'u32', slab: 'u32', t: 'u32' } as const;
  return {
    key: `lstm/${o.direction}/rows${o.rowsPerThread}/wg${o.workgroupSize}`,
    label: `lstm.${o.direction}[${o.rowsPerThread} row${o.rowsPerThread === 1 ? '' : 's'}]`,
    entryPoint: `lstm_${o.direction}`,
    uniforms: (o.direction === 'forward' ? base : { ...base, carry: 'u32', direct: 'u32' }) as LstmUniforms,
    storage,
    workgroupSize: [o.workgroupSize, 1, 1],
    workgroupBytes: 0,
    body: lstmShader(o),
  };
}

/** Batch rows per invocation the family compiles. */
export const LSTM_ROWS_PER_THREAD = [1, 2, 4, 8] as const;

/** Specs of the family (the registry and the spec-vs-WGSL test): both directions at every rows-per-invocation. */
export function lstmSpecs(): KernelSpec[] {
  return LSTM_DIRECTIONS.flatMap((direction) =>
    LSTM_ROWS_PER_THREAD.map((rowsPerThread) => lstmSpec({ direction, rowsPerThread, workgroupSize: LSTM_WORKGROUP }) as unknown as KernelSpec),
  );
}

/**
 * Rows per invocation by adapter: software adapters (SwiftShader) are bound
 * by loads, so up to 4 batch rows share each W_hh load there. Measured on
 * SwiftShader (2 busy cores), T 1000, H 64, B 16, forward / backward
 * recurrence: 1 row 2.1 / 4.0 s, 2 rows 1.1 / 2.9 s, 4 rows 1.0 / 1.8 s,
 * 8 rows 0.9 / 1.8 s. A GPU gets one row per invocation and more invocations.
 */
export function defaultLstmRows(adapter: Pick<AdapterSummary, 'software'>, batch: number): number {
  if (!adapter.software) return 1;
  return batch >= 4 ? 4 : batch >= 2 ? 2 : 1;
}

export interface LstmForwardBuffers {
  /** W_hh [4H, H]. */
  w: BufferBinding;
  /** zx [T, rows, 4H]: x_t W_ihᵀ + b. */
  zx: BufferBinding;
  /** gates [T, 4, rows, H] (written). */
  gates: BufferBinding;
  /** c, h [T+1, rows, H]; slot 0 = 0 (never written). */
  c: BufferBinding;
  h: BufferBinding;
}

export interface LstmBackwardBuffers {
  w: BufferBinding;
  /** gates [T, 4, rows, H] and c [T+1, rows, H] from the forward pass. */
  gates: BufferBinding;
  c: BufferBinding;
  /** dh [T, rows, H]: the readout's direct term at the steps with a loss on entry; ∂L/∂h_t on exit. */
  dh: BufferBinding;
  /** dc [T, rows, H]: ∂L/∂c_t on exit. */
  dc: BufferBinding;
  /** dcf [T, rows, H]: f_t ⊙ ∂L/∂c_t on exit (the cell path's share of ∂L/∂c_{t−1}). */
  dcf: BufferBinding;
  /** dz [T, rows, 4H]: ∂L/∂z_t on exit. */
  dz: BufferBinding;
}

/** A compiled LSTM kernel (one direction). */
export class LstmKernel {
  constructor(
    readonly options: LstmShaderOptions,
    private readonly prepared: PreparedKernel<LstmUniforms>,
    private readonly maxPerDimension: number,
  ) {}

  get label(): string {
    return this.prepared.spec.label;
  }

  private grid(dims: RnnDims): readonly [number, number] {
    return linearGrid(ceilDiv(dims.batch, this.options.rowsPerThread) * dims.hidden, this.options.workgroupSize, this.maxPerDimension);
  }

  private checkCommon(dims: RnnDims, b: { w: BufferBinding; gates: BufferBinding; c: BufferBinding }): void {
    checkDims(this.label, dims);
    checkSize(this.label, 'w', b.w, 4 * dims.hidden * dims.hidden);
    checkSize(this.label, 'gates', b.gates, 4 * dims.steps * dims.slab);
    checkSize(this.label, 'c', b.c, (dims.steps + 1) * dims.slab);
  }

  /** The forward recurrence t = 1..T: T dispatches, encode them in order. */
  bindForward(dims: RnnDims, buffers: LstmForwardBuffers): Dispatch[] {
    if (this.options.direction !== 'forward') throw new Error(`${this.label}: bindForward on a backward kernel`);
    this.checkCommon(dims, buffers);
    checkSize(this.label, 'zx', buffers.zx, 4 * dims.steps * dims.slab);
    checkSize(this.label, 'h', buffers.h, (dims.steps + 1) * dims.slab);
    const base = { batch: dims.batch, hidden: dims.hidden, slab: dims.slab };
    const grid = this.grid(dims);
    const bound = { w: buffers.w, zx: buffers.zx, gates: buffers.gates, c: buffers.c, h: buffers.h };
    const out: Dispatch[] = [];
    for (let t = 1; t <= dims.steps; t++) out.push(this.prepared.bind({ ...base, t }, bound, grid));
    return out;
  }

  /**
   * The backward recurrence t = T..1: T dispatches. `lossAll` says whether
   * every step has a direct readout term (else only t = T does).
   */
  bindBackward(dims: RnnDims, buffers: LstmBackwardBuffers, lossAll = false): Dispatch[] {
    if (this.options.direction !== 'backward') throw new Error(`${this.label}: bindBackward on a forward kernel`);
    this.checkCommon(dims, buffers);
    for (const name of ['dh', 'dc', 'dcf'] as const) checkSize(this.label, name, buffers[name], dims.steps * dims.slab);
    checkSize(this.label, 'dz', buffers.dz, 4 * dims.steps * dims.slab);
    const base = { batch: dims.batch, hidden: dims.hidden, slab: dims.slab };
    const grid = this.grid(dims);
    const bound = { w: buffers.w, gates: buffers.gates, c: buffers.c, dh: buffers.dh, dc: buffers.dc, dcf: buffers.dcf, dz: buffers.dz };
    const out: Dispatch[] = [];
    const T = dims.steps;
    for (let t = T; t >= 1; t--) out.push(this.prepared.bind({ ...base, t, carry: t < T ? 1 : 0, direct: lossAll || t === T ? 1 : 0 }, bound, grid));
    return out;
  }
}

/** Compiles an LSTM kernel; rows per invocation default to defaultLstmRows for the adapter and `batch` (1 without it). */
export async function prepareLstm(ctx: GpuContext, options: { direction: LstmDirection; rowsPerThread?: number; workgroupSize?: number; batch?: number }): Promise<LstmKernel> {
  const rowsPerThread = options.rowsPerThread ?? (options.batch === undefined ? 1 : defaultLstmRows(ctx.summary, options.batch));
  const o: LstmShaderOptions = { direction: options.direction, rowsPerThread, workgroupSize: options.workgroupSize ?? LSTM_WORKGROUP };
  return new LstmKernel(o, await ctx.prepare(lstmSpec(o)), ctx.limits.maxComputeWorkgroupsPerDimension);
}

// ---------------------------------------------------------------------------
// float64 references of one step (the kernels' contracts)

type Numbers = ArrayLike<number>;

/** σ(z) in float64. */
export function sigmoidRef(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

export interface LstmForwardStepReference {
  /** h_t, c_t [B, H]. */
  h: Float64Array;
  c: Float64Array;
  /** i, f, g, o [4, B, H] (gate-major, as the kernel's `gates` slot). */
  gates: Float64Array;
  /** Per gate pre-activation, Σ|terms| of its dot product (+|zx|) [4, B, H]: the scale of its rounding error. */
  magnitude: Float64Array;
}

/**
 * One forward step in float64: zx [B, 4H] (dense rows), hPrev, cPrev [B, H],
 * w = W_hh [4H, H].
 */
export function lstmForwardStepReference(batch: number, hidden: number, w: Numbers, zx: Numbers, hPrev: Numbers, cPrev: Numbers): LstmForwardStepReference {
  const H = hidden;
  const n = batch * H;
  const h = new Float64Array(n);
  const c = new Float64Array(n);
  const gates = new Float64Array(4 * n);
  const magnitude = new Float64Array(4 * n);
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < H; j++) {
      const z = [0, 0, 0, 0];
      for (let q = 0; q < 4; q++) {
        let sum = zx[b * 4 * H + q * H + j];
        let mag = Math.abs(sum);
        for (let k = 0; k < H; k++) {
          const p = hPrev[b * H + k] * w[(q * H + j) * H + k];
          sum += p;
          mag += Math.abs(p);
        }
        z[q] = sum;
        magnitude[q * n + b * H + j] = mag;
      }
      const [i, f, g, o] = [sigmoidRef(z[0]), sigmoidRef(z[1]), Math.tanh(z[2]), sigmoidRef(z[3])];
      const u = b * H + j;
      c[u] = f * cPrev[u] + i * g;
      h[u] = o * Math.tanh(c[u]);
      gates[u] = i;
      gates[n + u] = f;
      gates[2 * n + u] = g;
      gates[3 * n + u] = o;
    }
  }
  return { h, c, gates, magnitude };
}

export interface LstmBackwardStepReference {
  /** ∂L/∂h_t, ∂L/∂c_t and f_t ⊙ ∂L/∂c_t [B, H]. */
  dh: Float64Array;
  dc: Float64Array;
  dcf: Float64Array;
  /** ∂L/∂z_t [B, 4H] (rows: i | f | g | o). */
  dz: Float64Array;
  /** Σ|terms| of each dh_t (its recurrent dot product, +|direct|) [B, H]. */
  magnitude: Float64Array;
}

/** What step t + 1 passes back (all null at t = T). */
export interface LstmCarry {
  /** dz_{t+1} [B, 4H]. */
  dz: Numbers;
  /** f_{t+1} ⊙ dc_{t+1} [B, H]. */
  dcf: Numbers;
}

/**
 * One backward step in float64 (the module comment of shaders/lstm.wgsl.ts):
 * gates = i, f, g, o of step t [4, B, H], c = c_t, cPrev = c_{t−1} [B, H],
 * direct = the readout term of dh_t or null, carry = step t + 1's or null.
 */
export function lstmBackwardStepReference(
  batch: number,
  hidden: number,
  w: Numbers,
  gates: Numbers,
  c: Numbers,
  cPrev: Numbers,
  direct: Numbers | null,
  carry: LstmCarry | null,
): LstmBackwardStepReference {
  const H = hidden;
  const n = batch * H;
  const dh = new Float64Array(n);
  const dc = new Float64Array(n);
  const dcf = new Float64Array(n);
  const dz = new Float64Array(4 * n);
  const magnitude = new Float64Array(n);
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < H; j++) {
      const u = b * H + j;
      let sum = direct ? direct[u] : 0;
      let mag = Math.abs(sum);
      if (carry) {
        for (let k = 0; k < 4 * H; k++) {
          const p = carry.dz[b * 4 * H + k] * w[k * H + j];
          sum += p;
          mag += Math.abs(p);
        }
      }
      const [i, f, g, o] = [gates[u], gates[n + u], gates[2 * n + u], gates[3 * n + u]];
      const tc = Math.tanh(c[u]);
      let dcu = sum * o * (1 - tc * tc);
      if (carry) dcu += carry.dcf[u];
      dh[u] = sum;
      dc[u] = dcu;
      dcf[u] = f * dcu;
      magnitude[u] = mag;
      const row = b * 4 * H;
      dz[row + j] = dcu * g * i * (1 - i);
      dz[row + H + j] = dcu * cPrev[u] * f * (1 - f);
      dz[row + 2 * H + j] = dcu * i * (1 - g * g);
      dz[row + 3 * H + j] = sum * tc * o * (1 - o);
    }
  }
  return { dh, dc, dcf, dz, magnitude };
}
