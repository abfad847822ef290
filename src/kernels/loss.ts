import {
  LOSS_BLOCK,
  lossGradientShader,
  lossValueShader,
  lossValueWorkgroupBytes,
  type LossKind,
  type LossShaderOptions,
} from '../../shaders/loss.wgsl.ts';
import type { AdapterSummary, BufferBinding, Dispatch, GpuContext, PreparedKernel } from '../gpu/context.ts';
import { bindingBytes } from '../gpu/context.ts';
import { ceilDiv, linearGrid, type KernelSpec } from './spec.ts';

export type { LossKind, LossShaderOptions } from '../../shaders/loss.wgsl.ts';
export const LOSS_KINDS: readonly LossKind[] = ['mse', 'probe'];

/**
 * Loss of a training step over the output y [B, out] (shaders/loss.wgsl.ts):
 *   mse:   L = mean (y − t)²,  dY = 2(y − t)/(B·out)     (PyTorch MSELoss)
 *   probe: L = Σ g ⊙ y,        dY = g                     (`target` holds g)
 *
 *   const grad = await prepareLossGradient(ctx, { loss });
 *   const value = await prepareLossValue(ctx, { loss });
 *   grad.bind({ count }, { y, target, dy })                    // elementwise, any count
 *   value.bind({ count, outputWord }, { y, target, out })      // one workgroup; f32 L → out[outputWord]
 */

// ---------------------------------------------------------------------------
// Specs

const GRADIENT_WORKGROUP = 256;
type GradientUniforms = { count: 'u32'; scale: 'f32' };
type ValueUniforms = { count: 'u32'; output_word: 'u32'; scale: 'f32' };

/** Value-kernel workgroup size: 256 on GPUs; 64 on software adapters (shallower barrier tree). */
export function defaultLossValueWorkgroup(adapter: AdapterSummary): number {
  return adapter.software ? 64 : 256;
}

export const LOSS_VALUE_WORKGROUPS: readonly number[] = [64, 256];

export function lossGradientSpec(o: LossShaderOptions): KernelSpec<GradientUniforms> {
  return {
    key: `loss/gradient/${o.loss}`,
    label: `loss.gradient[${o.loss}]`,
    entryPoint: 'loss_gradient',
    // scale = f32(4/count) for mse (see the shader); unused by probe.
    uniforms: { count: 'u32', scale: 'f32' },
    storage: [
      { name: 'y', access: 'read', type: 'array<f32>' },
      // `target` is a WGSL reserved word: the binding is `tgt` (bind() maps `target` to it).
      { name: 'tgt', access: 'read', type: 'array<f32>' },
      { name: 'dy', access: 'read_write', type: 'array<f32>' },
    ],
    workgroupSize: [GRADIENT_WORKGROUP, 1, 1],
    workgroupBytes: 0,
    body: lossGradientShader(o),
  };
}

export function lossValueSpec(o: LossShaderOptions, workgroupSize: number): KernelSpec<ValueUniforms> {
  if (!Number.isInteger(workgroupSize) || workgroupSize < 2 || (workgroupSize & (workgroupSize - 1)) !== 0) {
    throw new Error(`loss value: workgroup size must be a power of two ≥ 2, got ${workgroupSize}`);
  }
  return {
    key: `loss/value/${o.loss}/wg${workgroupSize}`,
    label: `loss.value[${o.loss}, wg${workgroupSize}]`,
    entryPoint: 'loss_value',
    // scale = f32(1/count) for mse, 1 for probe.
    uniforms: { count: 'u32', output_word: 'u32', scale: 'f32' },
    storage: [
      { name: 'y', access: 'read', type: 'array<f32>' },
      // `target` is a WGSL reserved word: the binding is `tgt` (bind() maps `target` to it).
      { name: 'tgt', access: 'read', type: 'array<f32>' },
      // Raw bits: the non-finite results are written as bits.
      { name: 'out', access: 'read_write', type: 'array<u32>' },
    ],
    workgroupSize: [workgroupSize, 1, 1],
    workgroupBytes: lossValueWorkgroupBytes(workgroupSize),
    body: lossValueShader(o, workgroupSize),
  };
}

/** Every spec of the family (for the spec-vs-WGSL unit test and the registry). */
export function lossSpecs(): KernelSpec[] {
  return LOSS_KINDS.flatMap((loss) => [
    lossGradientSpec({ loss }) as unknown as KernelSpec,
    ...LOSS_VALUE_WORKGROUPS.map((wg) => lossValueSpec({ loss }, wg) as unknown as KernelSpec),
  ]);
}

// ---------------------------------------------------------------------------
// Kernels

function checkCount(label: string, count: number): void {
  if (!Number.isInteger(count) || count < 1 || count > 0xffffffff) {
    throw new Error(`${label}: count ${count} must be an integer ≥ 1`);
  }
}

function checkElements(label: string, buffers: Readonly<Record<string, BufferBinding>>, names: readonly string[], count: number): void {
  for (const name of names) {
    const b = buffers[name];
    if (!b) throw new Error(`${label}: buffer '${name}' not given`);
    const elements = Math.floor(bindingBytes(b) / 4);
    if (elements < count) throw new Error(`${label}: '${name}' holds ${elements} elements, ${count} needed`);
  }
}

export interface LossGradientBuffers {
  /** The output y [B, out]. */
  y: BufferBinding;
  /** mse: the target; probe: the cotangent g. */
  target: BufferBinding;
  /** Receives ∂L/∂y (overwritten). */
  dy: BufferBinding;
}

export class LossGradientKernel {
  constructor(
    readonly options: LossShaderOptions,
    private readonly prepared: PreparedKernel<GradientUniforms>,
    private readonly maxPerDimension: number,
  ) {}

  get label(): string {
    return this.prepared.spec.label;
  }

  /** dY = ∂L/∂y over `count` = B·out elements. */
  bind(sizes: { count: number }, buffers: LossGradientBuffers): Dispatch {
    const { count } = sizes;
    checkCount(this.label, count);
    checkElements(this.label, { ...buffers }, ['y', 'target', 'dy'], count);
    const scale = this.options.loss === 'mse' ? Math.fround(4 / count) : 1;
    return this.prepared.bind({ count, scale }, { y: buffers.y, tgt: buffers.target, dy: buffers.dy }, linearGrid(count, GRADIENT_WORKGROUP, this.maxPerDimension));
  }
}

export interface LossValueBuffers {
  y: BufferBinding;
  target: BufferBinding;
  /** Receives the loss (f32 bits) at word `outputWord`; no other word is written. */
  out: BufferBinding;
}

export class LossValueKernel {
  constructor(
    readonly options: LossShaderOptions,
    readonly workgroupSize: number,
    private readonly prepared: PreparedKernel<ValueUniforms>,
  ) {}

  get label(): string {
    return this.prepared.spec.label;
  }

  /** Additions on the longest path of the sum (see lossValueSumDepth). */
  sumDepth(count: number): number {
    return lossValueSumDepth(count, this.workgroupSize);
  }

  /** L over `count` = B·out elements, written as an f32 into out[outputWord]. One workgroup. */
  bind(sizes: { count: number; outputWord: number }, buffers: LossValueBuffers): Dispatch {
    const { count, outputWord } = sizes;
    checkCount(this.label, count);
    checkElements(this.label, { y: buffers.y, target: buffers.target }, ['y', 'target'], count);
    const words = Math.floor(bindingBytes(buffers.out) / 4);
    if (!Number.isInteger(outputWord) || outputWord < 0 || outputWord >= words) {
      throw new Error(`${this.label}: outputWord ${outputWord} is outside the 'out' binding (${words} words)`);
    }
    const scale = this.options.loss === 'mse' ? Math.fround(1 / count) : 1;
    return this.prepared.bind({ count, output_word: outputWord, scale }, { y: buffers.y, tgt: buffers.target, out: buffers.out }, [1, 1, 1]);
  }
}

export async function prepareLossGradient(
  ctx: GpuContext,
  options: LossShaderOptions & {
    /** Fold the grid into 2-D past this many workgroups (default and maximum: the adapter's limit; tests lower it). */
    maxWorkgroupsPerDimension?: number;
  },
): Promise<LossGradientKernel> {
  const prepared = await ctx.prepare(lossGradientSpec({ loss: options.loss }));
  const adapterMax = ctx.limits.maxComputeWorkgroupsPerDimension;
  return new LossGradientKernel({ loss: options.loss }, prepared, Math.min(adapterMax, options.maxWorkgroupsPerDimension ?? adapterMax));
}

export async function prepareLossValue(
  ctx: GpuContext,
  options: LossShaderOptions & { workgroupSize?: number },
): Promise<LossValueKernel> {
  const wg = options.workgroupSize ?? defaultLossValueWorkgroup(ctx.summary);
  const prepared = await ctx.prepare(lossValueSpec({ loss: options.loss }, wg));
  return new LossValueKernel({ loss: options.loss }, wg, prepared);
}

/**
 * Additions on the longest path from a term to the loss: a block of
 * LOSS_BLOCK terms, the running total over ⌈count/(WG·BLOCK)⌉ blocks and the
 * log2 WG tree. Each rescaling is by a power of two (exact unless it
 * underflows, which only drops terms below 2⁻¹⁰⁰ of the largest), so the
 * sum errs by at most γ_d·Σ|terms| (Higham §4.2); forming each term adds 2
 * roundings (mse: ½y − ½t and its square; probe: the product's 1) and the
 * final ·scale one more.
 */
export function lossValueSumDepth(count: number, workgroupSize: number): number {
  const perThread = ceilDiv(count, workgroupSize);
  return Math.min(LOSS_BLOCK, perThread) + ceilDiv(perThread, LOSS_BLOCK) + Math.log2(workgroupSize);
}

// ---------------------------------------------------------------------------
// float64 references

export interface LossValueReference {
  /** L in float64 (NaN / ±Infinity as IEEE summation of the terms gives). */
  value: number;
  /** Σ|terms|·scale: the magnitude that bounds the rounding error of L. */
  magnitude: number;
}

/** L in float64: mse = Σ(y − t)²/count, probe = Σ t·y. */
export function lossValueReference(loss: LossKind, y: ArrayLike<number>, target: ArrayLike<number>): LossValueReference {
  if (y.length !== target.length) throw new Error(`loss reference: y has ${y.length} elements, target ${target.length}`);
  let sum = 0;
  let compensation = 0;
  let magnitude = 0;
  for (let i = 0; i < y.length; i++) {
    const term = loss === 'mse' ? (y[i] - target[i]) ** 2 : target[i] * y[i];
    // Neumaier summation: the reference must be far more accurate than the kernel.
    const t = sum + term;
    if (Number.isFinite(t)) compensation += Math.abs(sum) >= Math.abs(term) ? sum - t + term : term - t + sum;
    sum = t;
    magnitude += Math.abs(term);
  }
  const total = Number.isFinite(sum) ? sum + compensation : sum;
  const scale = loss === 'mse' ? 1 / y.length : 1;
  return { value: total * scale, magnitude: magnitude * scale };
}

/** ∂L/∂y in float64: mse 2(y − t)/count, probe g. */
export function lossGradientReference(loss: LossKind, y: ArrayLike<number>, target: ArrayLike<number>): Float64Array {
  const n = y.length;
  return Float64Array.from({ length: n }, (_, i) => (loss === 'mse' ? (2 * (y[i] - target[i])) / n : target[i]));
}
