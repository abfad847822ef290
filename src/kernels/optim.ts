import {
  CLIP_NORM_EPS,
  STEP_WORD,
  UPDATE_ITEMS_PER_INVOCATION,
  globalNormShader,
  globalNormWorkgroupBytes,
  updateShader,
  type ClipKind,
  type GlobalNormShaderOptions,
  type OptimizerKind,
  type UpdateShaderOptions,
} from '../../shaders/optim.wgsl.ts';
import type { BufferBinding, Dispatch, GpuContext, PreparedKernel } from '../gpu/context.ts';
import { bindingBytes } from '../gpu/context.ts';
import { ceilDiv, linearGrid, type KernelSpec, type StorageBinding } from './spec.ts';
import { SEGMENT_STATS_WORDS, type SegmentStats } from './reduce.ts';

export type { ClipKind, OptimizerKind } from '../../shaders/optim.wgsl.ts';
export { CLIP_NORM_EPS } from '../../shaders/optim.wgsl.ts';
export const OPTIMIZER_KINDS: readonly OptimizerKind[] = ['sgd', 'momentum', 'adam'];
export const CLIP_KINDS: readonly ClipKind[] = ['none', 'norm', 'value'];

/**
 * The end of a training step (shaders/optim.wgsl.ts): the global gradient
 * norm and clip scale from the per-tensor stats records, then one update over
 * the whole parameter arena; the clip scale and Adam's step count never leave
 * the GPU.
 *
 *   const norm = await prepareGlobalNorm(ctx, { clip: 'norm' });
 *   const opt = await prepareOptimizer(ctx, { optimizer: 'adam', clip: 'norm' });
 *   const state = ctx.createStorage('step-state', STEP_STATE_BYTES);    // zeroed once per run
 *   norm.bind({ first, count, clipThreshold }, { stats, state })       // every step, first
 *   opt.bind({ count, lr, clipThreshold }, { params, grads, state, m, v })
 *   decodeStepState(words)  → { gradNorm, log10GradNorm, clipScale, nonfinite, step, skipped }
 */

// ---------------------------------------------------------------------------
// Step state: STEP_STATE_WORDS u32 words (one 32-byte binding).

export const STEP_STATE_WORDS = 8;
export const STEP_STATE_BYTES = STEP_STATE_WORDS * 4;
/** f32 2^e: the scale of ‖g‖ (0 when every finite gradient entry is 0). */
export const STEP_NORM_SCALE = STEP_WORD.normScale;
/** f32 ssq: ‖g‖² = scale²·ssq over the finite gradient entries. */
export const STEP_NORM_SSQ = STEP_WORD.normSsq;
/** f32 mantissa m of the clip scale c = m·2^k (0 on a skipped step). */
export const STEP_CLIP_MANTISSA = STEP_WORD.clipMantissa;
/** u32: non-finite gradient entries this step (> 0: the update was skipped). */
export const STEP_NONFINITE = STEP_WORD.nonfinite;
/** u32: updates applied since the state was zeroed (Adam's t). */
export const STEP_COUNT = STEP_WORD.step;
/** i32 k ≤ 0 of the clip scale c = m·2^k; 0 unless c is below the normal f32 range. */
export const STEP_CLIP_EXPONENT = STEP_WORD.clipExponent;
/** f32 log10 ‖g‖ (−Inf when ‖g‖ = 0); finite where ‖g‖ exceeds f32. */
export const STEP_LOG10_NORM = STEP_WORD.log10Norm;
/** u32: steps skipped since the state was zeroed (non-finite gradients). */
export const STEP_SKIPPED = STEP_WORD.skipped;

export interface StepState {
  /** ‖g‖ over the finite gradient entries, in float64 (= scale·√ssq; may exceed f32). */
  gradNorm: number;
  /** ‖g‖² in float64. */
  gradSumSquares: number;
  /** log10 ‖g‖ from scale and ssq in float64 (−Infinity for 0). */
  log10GradNorm: number;
  /** log10 ‖g‖ as the GPU computed it (f32). */
  gpuLog10GradNorm: number;
  /** The clip scale applied this step, in float64 (m·2^k): 1 unclipped, 0 skipped. */
  clipScale: number;
  /** Non-finite gradient entries this step; > 0 means the update was skipped. */
  nonfinite: number;
  /** Updates applied so far (Adam's t). */
  step: number;
  /** Steps skipped so far. */
  skipped: number;
}

export function decodeStepState(words: ArrayBuffer | Uint32Array): StepState {
  const u32 = words instanceof Uint32Array ? words : new Uint32Array(words);
  if (u32.length < STEP_STATE_WORDS) throw new Error(`decodeStepState: ${u32.length} words, ${STEP_STATE_WORDS} needed`);
  const f32 = new Float32Array(u32.buffer, u32.byteOffset, STEP_STATE_WORDS);
  const i32 = new Int32Array(u32.buffer, u32.byteOffset, STEP_STATE_WORDS);
  const scale = f32[STEP_NORM_SCALE];
  const ssq = f32[STEP_NORM_SSQ];
  const zero = scale === 0 || ssq === 0;
  return {
    gradNorm: zero ? 0 : scale * Math.sqrt(ssq),
    gradSumSquares: zero ? 0 : scale * scale * ssq,
    log10GradNorm: zero ? -Infinity : Math.log10(scale) + 0.5 * Math.log10(ssq),
    gpuLog10GradNorm: f32[STEP_LOG10_NORM],
    clipScale: f32[STEP_CLIP_MANTISSA] * 2 ** i32[STEP_CLIP_EXPONENT],
    nonfinite: u32[STEP_NONFINITE],
    step: u32[STEP_COUNT],
    skipped: u32[STEP_SKIPPED],
  };
}

// ---------------------------------------------------------------------------
// Specs

const GLOBAL_NORM_WORKGROUP = 64;
const UPDATE_WORKGROUP = 256;

type GlobalNormUniforms = { first: 'u32'; count: 'u32'; clip_threshold: 'f32' };
type UpdateUniforms = {
  count: 'u32';
  lr: 'f32';
  clip_threshold: 'f32';
  momentum: 'f32';
  beta1: 'f32';
  beta2: 'f32';
  one_minus_beta1: 'f32';
  one_minus_beta2: 'f32';
  log_beta1: 'f32';
  log_beta2: 'f32';
  eps: 'f32';
};

const UPDATE_UNIFORMS: UpdateUniforms = {
  count: 'u32',
  lr: 'f32',
  clip_threshold: 'f32',
  momentum: 'f32',
  beta1: 'f32',
  beta2: 'f32',
  one_minus_beta1: 'f32',
  one_minus_beta2: 'f32',
  log_beta1: 'f32',
  log_beta2: 'f32',
  eps: 'f32',
};

export function globalNormSpec(o: GlobalNormShaderOptions): KernelSpec<GlobalNormUniforms> {
  const mode = o.clipNorm ? 'clip-norm' : 'no-clip';
  return {
    key: `optim/global-norm/${mode}/wg${o.workgroupSize}`,
    label: `optim.globalNorm[${mode}]`,
    entryPoint: 'global_norm',
    uniforms: { first: 'u32', count: 'u32', clip_threshold: 'f32' },
    storage: [
      { name: 'stats', access: 'read', type: 'array<u32>' },
      { name: 'state', access: 'read_write', type: 'array<u32>' },
    ],
    workgroupSize: [o.workgroupSize, 1, 1],
    workgroupBytes: globalNormWorkgroupBytes(o.workgroupSize),
    body: globalNormShader(o),
  };
}

export function updateSpec(o: UpdateShaderOptions): KernelSpec<UpdateUniforms> {
  const clip = o.clamp ? 'clamp' : 'scale';
  const type = o.vector ? 'array<vec4<f32>>' : 'array<f32>';
  // `params` is the uniform struct's name in WGSL: the arena bindings are `parameters`, `gradients`.
  const storage: StorageBinding[] = [
    { name: 'parameters', access: 'read_write', type },
    { name: 'gradients', access: 'read', type },
    { name: 'state', access: 'read', type: 'array<u32>' },
  ];
  if (o.optimizer !== 'sgd') storage.push({ name: 'm', access: 'read_write', type });
  if (o.optimizer === 'adam') storage.push({ name: 'v', access: 'read_write', type });
  return {
    key: `optim/update/${o.optimizer}/${clip}${o.vector ? '/vec4' : ''}`,
    label: `optim.update[${o.optimizer}, ${clip}${o.vector ? ', vec4' : ''}]`,
    entryPoint: 'update',
    uniforms: UPDATE_UNIFORMS,
    storage,
    workgroupSize: [UPDATE_WORKGROUP, 1, 1],
    workgroupBytes: 0,
    body: updateShader(o),
  };
}

/** Every spec of the family (for the spec-vs-WGSL unit test and the registry). */
export function optimSpecs(): KernelSpec[] {
  const specs: KernelSpec[] = [true, false].map(
    (clipNorm) => globalNormSpec({ clipNorm, workgroupSize: GLOBAL_NORM_WORKGROUP }) as unknown as KernelSpec,
  );
  for (const optimizer of OPTIMIZER_KINDS) {
    for (const clamp of [false, true]) {
      for (const vector of [false, true]) specs.push(updateSpec({ optimizer, clamp, vector }) as unknown as KernelSpec);
    }
  }
  return specs;
}

// ---------------------------------------------------------------------------
// Kernels

function checkThreshold(label: string, clip: ClipKind, clipThreshold: number): void {
  if (clip !== 'none' && !(Number.isFinite(clipThreshold) && clipThreshold >= 1e-30 && clipThreshold <= 3e38)) {
    throw new Error(`${label}: clip threshold ${clipThreshold} must be a number in [1e-30, 3e38]`);
  }
}

export interface GlobalNormOptions {
  clip: ClipKind;
}

export interface GlobalNormBuffers {
  /** Segment stats records (reduce layout, SEGMENT_STATS_WORDS words each). */
  stats: BufferBinding;
  /** The step state (STEP_STATE_BYTES), zeroed once before the first step. */
  state: BufferBinding;
}

export class GlobalNormKernel {
  constructor(
    readonly options: GlobalNormOptions,
    private readonly prepared: PreparedKernel<GlobalNormUniforms>,
  ) {}

  get label(): string {
    return this.prepared.spec.label;
  }

  /**
   * ‖g‖ over records first … first+count−1 of `stats`, the clip scale for
   * `clipThreshold` (C of norm:C; ignored otherwise) and the step counters,
   * into `state`. One workgroup; record it before the update every step.
   */
  bind(sizes: { first: number; count: number; clipThreshold?: number }, buffers: GlobalNormBuffers): Dispatch {
    const { first, count } = sizes;
    const clipThreshold = sizes.clipThreshold ?? 0;
    if (!Number.isInteger(first) || first < 0 || !Number.isInteger(count) || count < 1) {
      throw new Error(`${this.label}: records {first ${first}, count ${count}} need integers, first ≥ 0, count ≥ 1`);
    }
    const records = Math.floor(bindingBytes(buffers.stats) / (SEGMENT_STATS_WORDS * 4));
    if (first + count > records) {
      throw new Error(`${this.label}: records ${first}..${first + count - 1} run past the stats binding (${records} records)`);
    }
    if (bindingBytes(buffers.state) < STEP_STATE_BYTES) {
      throw new Error(`${this.label}: the state binding needs ${STEP_STATE_BYTES} bytes`);
    }
    checkThreshold(this.label, this.options.clip, clipThreshold);
    return this.prepared.bind(
      { first, count, clip_threshold: this.options.clip === 'norm' ? clipThreshold : 0 },
      { stats: buffers.stats, state: buffers.state },
      [1, 1, 1],
    );
  }
}

export async function prepareGlobalNorm(ctx: GpuContext, options: GlobalNormOptions): Promise<GlobalNormKernel> {
  const spec = globalNormSpec({ clipNorm: options.clip === 'norm', workgroupSize: GLOBAL_NORM_WORKGROUP });
  return new GlobalNormKernel(options, await ctx.prepare(spec));
}

export interface OptimizerOptions {
  optimizer: OptimizerKind;
  clip: ClipKind;
  /** Fold the grid into 2-D past this many workgroups (default and maximum: the adapter's limit; tests lower it). */
  maxWorkgroupsPerDimension?: number;
}

/** Hyperparameters; the optional ones default to PyTorch's Adam and a common momentum. */
export interface OptimizerHyper {
  lr: number;
  /** C of norm:C or value:C (ignored for clip none). */
  clipThreshold?: number;
  /** μ of momentum SGD (default 0.9). */
  momentum?: number;
  /** Adam β1 (default 0.9). */
  beta1?: number;
  /** Adam β2 (default 0.999). */
  beta2?: number;
  /** Adam eps (default 1e-8). */
  eps?: number;
}

export const OPTIMIZER_DEFAULTS = { momentum: 0.9, beta1: 0.9, beta2: 0.999, eps: 1e-8 } as const;

/** The hyperparameters with their defaults filled in and checked. */
export function resolveHyper(label: string, clip: ClipKind, h: OptimizerHyper): Required<OptimizerHyper> {
  const r = {
    lr: h.lr,
    clipThreshold: h.clipThreshold ?? 0,
    momentum: h.momentum ?? OPTIMIZER_DEFAULTS.momentum,
    beta1: h.beta1 ?? OPTIMIZER_DEFAULTS.beta1,
    beta2: h.beta2 ?? OPTIMIZER_DEFAULTS.beta2,
    eps: h.eps ?? OPTIMIZER_DEFAULTS.eps,
  };
  if (!(Number.isFinite(r.lr) && r.lr >= 0)) throw new Error(`${label}: lr ${r.lr} must be a finite number ≥ 0`);
  for (const [name, value] of [['momentum', r.momentum], ['beta1', r.beta1], ['beta2', r.beta2]] as const) {
    if (!(value >= 0 && value < 1)) throw new Error(`${label}: ${name} ${value} must be in [0, 1)`);
  }
  if (!(Number.isFinite(r.eps) && r.eps > 0)) throw new Error(`${label}: eps ${r.eps} must be a finite number > 0`);
  checkThreshold(label, clip, r.clipThreshold);
  return r;
}

/** ln β for the bias correction 1 − β^t = −expm1(t·ln β); β = 0 → −1000 (β^t = 0). */
function logBeta(beta: number): number {
  return beta > 0 ? Math.max(Math.log(beta), -1000) : -1000;
}

export interface OptimizerBuffers {
  /** The parameter arena (updated in place). */
  params: BufferBinding;
  /** The gradient arena, same layout. */
  grads: BufferBinding;
  /** The step state written by the global-norm kernel this step. */
  state: BufferBinding;
  /** momentum: the momentum buffer; adam: the first moment (zeroed once). */
  m?: BufferBinding;
  /** adam: the second moment (zeroed once). */
  v?: BufferBinding;
}

export class OptimizerKernel {
  constructor(
    readonly options: OptimizerOptions,
    private readonly prepared: PreparedKernel<UpdateUniforms>,
    /** The vec4 form, bound where the count and the arenas allow it. */
    private readonly vector: PreparedKernel<UpdateUniforms>,
    private readonly maxPerDimension: number,
  ) {}

  get label(): string {
    return this.prepared.spec.label;
  }

  /** Whether `bind` runs four parameters per invocation: a count that is a multiple of 4, arenas at 16-byte aligned offsets. */
  usesVec4(count: number, buffers: OptimizerBuffers): boolean {
    const arenas = [buffers.params, buffers.grads, buffers.m, buffers.v];
    return count % 4 === 0 && arenas.every((b) => b === undefined || !('buffer' in b) || (b.offset ?? 0) % 16 === 0);
  }

  /** One update of `count` parameters; reads the clip scale and t from `state`. */
  bind(sizes: { count: number } & OptimizerHyper, buffers: OptimizerBuffers): Dispatch {
    const { count } = sizes;
    const { optimizer, clip } = this.options;
    if (!Number.isInteger(count) || count < 1 || count > 0xffffffff) throw new Error(`${this.label}: count ${count} must be an integer ≥ 1`);
    const h = resolveHyper(this.label, clip, sizes);
    const arenas: [string, BufferBinding | undefined][] = [['params', buffers.params], ['grads', buffers.grads]];
    if (optimizer !== 'sgd') arenas.push(['m', buffers.m]);
    if (optimizer === 'adam') arenas.push(['v', buffers.v]);
    for (const [name, b] of arenas) {
      if (!b) throw new Error(`${this.label}: buffer '${name}' not given`);
      const elements = Math.floor(bindingBytes(b) / 4);
      if (elements < count) throw new Error(`${this.label}: '${name}' holds ${elements} elements, ${count} needed`);
    }
    if (bindingBytes(buffers.state) < STEP_STATE_BYTES) throw new Error(`${this.label}: the state binding needs ${STEP_STATE_BYTES} bytes`);
    const bound: Record<string, BufferBinding> = { parameters: buffers.params, gradients: buffers.grads, state: buffers.state };
    if (buffers.m && optimizer !== 'sgd') bound.m = buffers.m;
    if (buffers.v && optimizer === 'adam') bound.v = buffers.v;
    const vec4 = this.usesVec4(count, buffers);
    const invocations = vec4 ? count / 4 : count;
    return (vec4 ? this.vector : this.prepared).bind(
      {
        count: invocations,
        lr: h.lr,
        clip_threshold: clip === 'value' ? h.clipThreshold : 0,
        momentum: h.momentum,
        beta1: h.beta1,
        beta2: h.beta2,
        one_minus_beta1: 1 - h.beta1,
        one_minus_beta2: 1 - h.beta2,
        log_beta1: logBeta(h.beta1),
        log_beta2: logBeta(h.beta2),
        eps: h.eps,
      },
      bound,
      linearGrid(ceilDiv(invocations, UPDATE_ITEMS_PER_INVOCATION), UPDATE_WORKGROUP, this.maxPerDimension),
    );
  }
}

export async function prepareOptimizer(ctx: GpuContext, options: OptimizerOptions): Promise<OptimizerKernel> {
  const clamp = options.clip === 'value';
  const prepared = await ctx.prepare(updateSpec({ optimizer: options.optimizer, clamp }));
  const vector = await ctx.prepare(updateSpec({ optimizer: options.optimizer, clamp, vector: true }));
  const adapterMax = ctx.limits.maxComputeWorkgroupsPerDimension;
  return new OptimizerKernel(options, prepared, vector, Math.min(adapterMax, options.maxWorkgroupsPerDimension ?? adapterMax));
}

// ---------------------------------------------------------------------------
// float64 references

/** Gradient clipping: none; `norm` rescales the whole gradient by min(1, C/(‖g‖ + 1e−6)); `value` clamps each entry to [−C, C]. */
export type ClipConfig = { kind: 'none' } | { kind: 'norm' | 'value'; threshold: number };

export interface GlobalNormReference {
  /** ‖g‖ over the finite entries. */
  norm: number;
  sumSquares: number;
  log10Norm: number;
  nonfinite: number;
  /** The clip scale (0: skipped). */
  clipScale: number;
}

/** min(1, C/(‖g‖ + 1e−6)) for norm clipping, 1 otherwise (PyTorch clip_grad_norm_). */
export function clipScaleReference(norm: number, clip: ClipConfig): number {
  return clip.kind === 'norm' ? Math.min(1, clip.threshold / (norm + CLIP_NORM_EPS)) : 1;
}

/** The global norm of per-tensor stats (e.g. segmentStatsReference of each gradient) and the clip scale. */
export function globalNormReference(tensors: readonly Pick<SegmentStats, 'sumSquares' | 'nonfinite'>[], clip: ClipConfig): GlobalNormReference {
  const sumSquares = tensors.reduce((s, t) => s + t.sumSquares, 0);
  const nonfinite = tensors.reduce((s, t) => s + t.nonfinite, 0);
  const norm = Math.sqrt(sumSquares);
  return {
    norm,
    sumSquares,
    log10Norm: Math.log10(norm),
    nonfinite,
    clipScale: nonfinite > 0 ? 0 : clipScaleReference(norm, clip),
  };
}

/** Optimizer state in float64: parameters, m (momentum buffer / first moment), v, and t. */
export interface OptimizerStateRef {
  p: Float64Array;
  m: Float64Array;
  v: Float64Array;
  /** Updates applied (Adam's t). */
  t: number;
}

export function optimizerStateRef(p: ArrayLike<number>): OptimizerStateRef {
  return { p: Float64Array.from(p), m: new Float64Array(p.length), v: new Float64Array(p.length), t: 0 };
}

/** The clipped gradient ĝ: g·c (none: c = 1, norm: c from the global norm) or clamp(g, −C, C). */
export function clippedGradientRef(g: ArrayLike<number>, clip: ClipConfig, clipScale: number): Float64Array {
  if (clip.kind === 'value') {
    const c = clip.threshold;
    return Float64Array.from(g, (x) => Math.min(c, Math.max(-c, x)));
  }
  return Float64Array.from(g, (x) => x * clipScale);
}

/**
 * One optimizer step in float64, in place, as the GPU does it: the global norm
 * of g (over all of it), the clip, then PyTorch's SGD / SGD momentum
 * (dampening 0) / Adam (bias-corrected, eps outside the square root). A g with
 * a non-finite entry skips the step (nothing changes, t included). Returns the
 * clip scale used.
 */
export function optimizerStepRef(
  s: OptimizerStateRef,
  g: ArrayLike<number>,
  o: OptimizerOptions & { clipThreshold?: number },
  hyper: OptimizerHyper,
): number {
  const h = resolveHyper('optimizer reference', o.clip, { ...hyper, clipThreshold: hyper.clipThreshold ?? o.clipThreshold });
  const clip: ClipConfig = o.clip === 'none' ? { kind: 'none' } : { kind: o.clip, threshold: h.clipThreshold };
  let sumSquares = 0;
  for (let i = 0; i < g.length; i++) {
    if (!Number.isFinite(g[i])) return 0;
    sumSquares += g[i] * g[i];
  }
  const clipScale = clipScaleReference(Math.sqrt(sumSquares), clip);
  const cg = clippedGradientRef(g, clip, clipScale);
  s.t += 1;
  const { p, m, v } = s;
  if (o.optimizer === 'sgd') {
    for (let i = 0; i < p.length; i++) p[i] -= h.lr * cg[i];
  } else if (o.optimizer === 'momentum') {
    for (let i = 0; i < p.length; i++) {
      m[i] = h.momentum * m[i] + cg[i];
      p[i] -= h.lr * m[i];
    }
  } else {
    const bc1 = 1 - h.beta1 ** s.t;
    const bc2 = 1 - h.beta2 ** s.t;
    for (let i = 0; i < p.length; i++) {
      m[i] = h.beta1 * m[i] + (1 - h.beta1) * cg[i];
      v[i] = h.beta2 * v[i] + (1 - h.beta2) * cg[i] * cg[i];
      p[i] -= (h.lr / bc1) * (m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + h.eps));
    }
  }
  return clipScale;
}
