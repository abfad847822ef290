import {
  fillShader,
  orthogonalShader,
  orthogonalWorkgroupBytes,
  transformProbeShader,
  type FillShaderOptions,
  type OrthogonalShaderOptions,
  type RandomDistribution,
} from '../../shaders/init.wgsl.ts';
import type { AdapterSummary, BufferBinding, Dispatch, GpuContext, PreparedKernel } from '../gpu/context.ts';
import { GpuLimitError } from '../gpu/errors.ts';
import { ceilDiv, linearGrid, type KernelSpec } from './spec.ts';

export type { RandomDistribution } from '../../shaders/init.wgsl.ts';
export const RANDOM_DISTRIBUTIONS: readonly RandomDistribution[] = ['bits', 'uniform', 'normal'];

/**
 * A 64-bit RNG seed or stream id: a JS integer in [0, 2⁵³), or an explicit
 * (lo, hi) pair of u32s. Numbers split as lo = n mod 2³², hi = ⌊n / 2³²⌋.
 */
export type Seed = number | readonly [lo: number, hi: number];

/** Which numbers to draw: Philox key = seed, counter words 1–2 = stream. */
export interface RngKey {
  seed: Seed;
  /** Per-tensor id so that tensors drawn from one seed are independent (default 0). */
  stream?: Seed;
}

/** Where to write: `count` elements starting at element `offset` of the bound buffer. */
export interface FillRegion {
  count: number;
  /** In elements (4 bytes), from the start of the binding (default 0). */
  offset?: number;
}

export interface RandomFill extends RngKey, FillRegion {
  /** normal: N(mean, std²), defaults 0 and 1. */
  mean?: number;
  std?: number;
  /** uniform: low + (high − low)·u with u ∈ [0, 1), defaults 0 and 1. */
  low?: number;
  high?: number;
}

export function splitSeed(seed: Seed, what = 'seed'): [number, number] {
  if (typeof seed === 'number') {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new Error(`${what} ${seed} must be an integer in [0, 2^53) or a [lo, hi] pair of u32s`);
    }
    return [seed % 2 ** 32, Math.floor(seed / 2 ** 32)];
  }
  for (const word of seed) {
    if (!Number.isInteger(word) || word < 0 || word > 0xffffffff) {
      throw new Error(`${what} [${seed.join(', ')}] must be a pair of u32s`);
    }
  }
  return [seed[0], seed[1]];
}

// ---------------------------------------------------------------------------
// Random fills

/** Invocations per workgroup of the fills; each invocation makes one block of 4 elements. */
const FILL_WORKGROUP = 64;

type FillUniforms = {
  count: 'u32';
  offset: 'u32';
  seed_lo: 'u32';
  seed_hi: 'u32';
  stream_lo: 'u32';
  stream_hi: 'u32';
  loc: 'f32';
  scale: 'f32';
};

export function fillSpec(o: FillShaderOptions): KernelSpec<FillUniforms> {
  return {
    key: `init/fill/${o.distribution}`,
    label: `init.${o.distribution}`,
    entryPoint: 'main',
    uniforms: {
      count: 'u32',
      offset: 'u32',
      seed_lo: 'u32',
      seed_hi: 'u32',
      stream_lo: 'u32',
      stream_hi: 'u32',
      loc: 'f32',
      scale: 'f32',
    },
    storage: [{ name: 'dst', access: 'read_write', type: o.distribution === 'bits' ? 'array<u32>' : 'array<f32>' }],
    workgroupSize: [FILL_WORKGROUP, 1, 1],
    workgroupBytes: 0,
    body: fillShader(o),
  };
}

/** Philox blocks (4 elements each) of a fill of `count` elements. */
export function fillBlocks(count: number): number {
  return ceilDiv(count, 4);
}

/** (loc, scale) of the affine map applied to the unit draw. */
export function fillAffine(distribution: RandomDistribution, fill: RandomFill): { loc: number; scale: number } {
  const given = (names: (keyof RandomFill)[]) => names.filter((n) => fill[n] !== undefined);
  const foreign =
    distribution === 'normal' ? given(['low', 'high']) : distribution === 'uniform' ? given(['mean', 'std']) : given(['mean', 'std', 'low', 'high']);
  if (foreign.length > 0) throw new Error(`init.${distribution}: ${foreign.join(', ')} do not apply to this distribution`);
  if (distribution === 'normal') return { loc: fill.mean ?? 0, scale: fill.std ?? 1 };
  if (distribution === 'uniform') {
    const low = fill.low ?? 0;
    return { loc: low, scale: (fill.high ?? 1) - low };
  }
  return { loc: 0, scale: 1 };
}

/** Elements (4 bytes) a binding spans, when it can be known. */
function bindingElements(binding: BufferBinding): number {
  if ('mapState' in binding) return binding.size / 4;
  return (binding.size ?? binding.buffer.size - (binding.offset ?? 0)) / 4;
}

function checkRegion(label: string, binding: BufferBinding, offset: number, count: number): void {
  if (!Number.isInteger(count) || count < 1) throw new Error(`${label}: count ${count} must be an integer ≥ 1`);
  if (!Number.isInteger(offset) || offset < 0) throw new Error(`${label}: offset ${offset} must be an integer ≥ 0`);
  const available = bindingElements(binding);
  if (offset + count > available) {
    throw new Error(`${label}: elements [${offset}, ${offset + count}) do not fit in a binding of ${available} elements`);
  }
}

/** A compiled fill of one distribution; `bind` records the fill of one region. */
export class RandomFillKernel {
  constructor(
    readonly distribution: RandomDistribution,
    private readonly prepared: PreparedKernel<FillUniforms>,
    private readonly maxPerDimension: number,
  ) {}

  get label(): string {
    return this.prepared.spec.label;
  }

  bind(fill: RandomFill, dst: BufferBinding): Dispatch {
    const offset = fill.offset ?? 0;
    checkRegion(this.label, dst, offset, fill.count);
    const [seed_lo, seed_hi] = splitSeed(fill.seed);
    const [stream_lo, stream_hi] = splitSeed(fill.stream ?? 0, 'stream');
    const { loc, scale } = fillAffine(this.distribution, fill);
    const grid = linearGrid(fillBlocks(fill.count), FILL_WORKGROUP, this.maxPerDimension);
    return this.prepared.bind(
      { count: fill.count, offset, seed_lo, seed_hi, stream_lo, stream_hi, loc, scale },
      { dst },
      grid,
    );
  }
}

export async function prepareRandomFill(ctx: GpuContext, distribution: RandomDistribution): Promise<RandomFillKernel> {
  const prepared = await ctx.prepare(fillSpec({ distribution }));
  return new RandomFillKernel(distribution, prepared, ctx.limits.maxComputeWorkgroupsPerDimension);
}

type ProbeUniforms = { pairs: 'u32' };

/** The normal fill's Box–Muller on chosen bits: z[2p], z[2p+1] from bits[2p], bits[2p+1]. */
export function transformProbeSpec(): KernelSpec<ProbeUniforms> {
  return {
    key: 'init/transform-probe',
    label: 'init.transform-probe',
    entryPoint: 'main',
    uniforms: { pairs: 'u32' },
    storage: [
      { name: 'bits', access: 'read', type: 'array<u32>' },
      { name: 'z', access: 'read_write', type: 'array<f32>' },
    ],
    workgroupSize: [FILL_WORKGROUP, 1, 1],
    workgroupBytes: 0,
    body: transformProbeShader(),
  };
}

export class TransformProbeKernel {
  constructor(
    private readonly prepared: PreparedKernel<ProbeUniforms>,
    private readonly maxPerDimension: number,
  ) {}

  /** `pairs` pairs of words in `bits` → 2·pairs normals in `z`. */
  bind(pairs: number, buffers: { bits: BufferBinding; z: BufferBinding }): Dispatch {
    if (!Number.isInteger(pairs) || pairs < 1) throw new Error(`init.transform-probe: pairs ${pairs} must be ≥ 1`);
    return this.prepared.bind({ pairs }, { ...buffers }, linearGrid(pairs, FILL_WORKGROUP, this.maxPerDimension));
  }
}

export async function prepareTransformProbe(ctx: GpuContext): Promise<TransformProbeKernel> {
  return new TransformProbeKernel(await ctx.prepare(transformProbeSpec()), ctx.limits.maxComputeWorkgroupsPerDimension);
}

// ---------------------------------------------------------------------------
// Orthogonal matrices

export type OrthogonalVariant = 'workgroup' | 'serial';
export const ORTHOGONAL_VARIANTS: readonly OrthogonalVariant[] = ['workgroup', 'serial'];

/** W[rows, cols] (row-major, at element `offset`) = gain · Q. */
export interface OrthogonalInit extends RngKey {
  rows: number;
  cols: number;
  /** In elements, from the start of the binding (default 0). */
  offset?: number;
  /** Every singular value of W (default 1). */
  gain?: number;
}

/** One invocation per vector and no barriers on software adapters; workgroup reductions on GPUs. */
export function defaultOrthogonalVariant(adapter: AdapterSummary): OrthogonalVariant {
  return adapter.software ? 'serial' : 'workgroup';
}

const ORTHOGONAL_WORKGROUP: Record<OrthogonalVariant, number> = { workgroup: 64, serial: 64 };

type OrthogonalUniforms = {
  j: 'u32';
  n: 'u32';
  len: 'u32';
  offset: 'u32';
  vstride: 'u32';
  estride: 'u32';
  gain: 'f32';
};

export function orthogonalSpec(o: OrthogonalShaderOptions): KernelSpec<OrthogonalUniforms> {
  return {
    key: `init/orthogonal/${o.stage}/${o.variant}/wg${o.workgroupSize}`,
    label: `init.orthogonal.${o.stage}[${o.variant}]`,
    entryPoint: 'main',
    uniforms: { j: 'u32', n: 'u32', len: 'u32', offset: 'u32', vstride: 'u32', estride: 'u32', gain: 'f32' },
    storage: [{ name: 'w', access: 'read_write', type: 'array<f32>' }],
    workgroupSize: [o.workgroupSize, 1, 1],
    workgroupBytes: orthogonalWorkgroupBytes(o),
    body: orthogonalShader(o),
  };
}

/**
 * The vectors Gram–Schmidt works on: the rows when rows ≤ cols (W has
 * orthonormal rows), else the columns (orthonormal columns). Element e of
 * vector k sits at offset + k·vstride + e·estride.
 */
export interface OrthogonalGeometry {
  n: number;
  len: number;
  vstride: number;
  estride: number;
}

export function orthogonalGeometry(rows: number, cols: number): OrthogonalGeometry {
  return rows <= cols ? { n: rows, len: cols, vstride: cols, estride: 1 } : { n: cols, len: rows, vstride: 1, estride: cols };
}

/** Modified Gram–Schmidt sweeps (two: "twice is enough" for orthogonality near ε). */
export const GRAM_SCHMIDT_SWEEPS = 2;

/** Dispatches of one orthogonal init: 1 fill + 2·(n − 1) projections + 1 normalisation. */
export function orthogonalDispatchCount(rows: number, cols: number): number {
  return 2 + GRAM_SCHMIDT_SWEEPS * (orthogonalGeometry(rows, cols).n - 1);
}

export class OrthogonalKernel {
  constructor(
    readonly variant: OrthogonalVariant,
    private readonly normal: RandomFillKernel,
    private readonly project: PreparedKernel<OrthogonalUniforms>,
    private readonly normalise: PreparedKernel<OrthogonalUniforms>,
    private readonly maxPerDimension: number,
  ) {}

  get label(): string {
    return `init.orthogonal[${this.variant}]`;
  }

  /**
   * Records W = gain·Q: a N(0, 1) fill of the rows·cols elements with
   * (seed, stream), then the Gram–Schmidt sweeps and the normalisation. Run the
   * returned dispatches in order, in one pass (ctx.run does).
   */
  bind(init: OrthogonalInit, w: BufferBinding): Dispatch[] {
    const { rows, cols } = init;
    for (const [name, v] of Object.entries({ rows, cols })) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`${this.label}: ${name} = ${v}, must be an integer ≥ 1`);
    }
    const gain = init.gain ?? 1;
    if (!Number.isFinite(gain)) throw new Error(`${this.label}: gain ${gain} must be finite`);
    const offset = init.offset ?? 0;
    const geometry = orthogonalGeometry(rows, cols);
    const { n } = geometry;
    const perGroup = ORTHOGONAL_WORKGROUP[this.variant];
    const groups = (vectors: number) => (this.variant === 'serial' ? ceilDiv(vectors, perGroup) : vectors);
    if (groups(n) > this.maxPerDimension) {
      throw new GpuLimitError(
        `${this.label}: ${rows}×${cols} needs ${groups(n)} workgroups in one dimension, the adapter allows ${this.maxPerDimension}`,
      );
    }
    const dispatches: Dispatch[] = [
      this.normal.bind({ seed: init.seed, stream: init.stream, count: rows * cols, offset }, w),
    ];
    const uniforms = { ...geometry, offset, gain };
    for (let sweep = 0; sweep < GRAM_SCHMIDT_SWEEPS; sweep++) {
      for (let j = 0; j + 1 < n; j++) {
        dispatches.push(this.project.bind({ ...uniforms, j }, { w }, [groups(n - 1 - j)]));
      }
    }
    dispatches.push(this.normalise.bind({ ...uniforms, j: 0 }, { w }, [groups(n)]));
    return dispatches;
  }
}

export interface OrthogonalOptions {
  /** Default: chosen per adapter by defaultOrthogonalVariant. */
  variant?: OrthogonalVariant;
}

export async function prepareOrthogonal(ctx: GpuContext, options: OrthogonalOptions = {}): Promise<OrthogonalKernel> {
  const variant = options.variant ?? defaultOrthogonalVariant(ctx.summary);
  const workgroupSize = ORTHOGONAL_WORKGROUP[variant];
  const [normal, project, normalise] = await Promise.all([
    prepareRandomFill(ctx, 'normal'),
    ctx.prepare(orthogonalSpec({ stage: 'project', variant, workgroupSize })),
    ctx.prepare(orthogonalSpec({ stage: 'normalise', variant, workgroupSize })),
  ]);
  return new OrthogonalKernel(variant, normal, project, normalise, ctx.limits.maxComputeWorkgroupsPerDimension);
}

/** Every kernel variant of the family, for the registry (src/kernels/registry.ts). */
export function initSpecs(): KernelSpec[] {
  const specs: KernelSpec[] = [];
  for (const distribution of RANDOM_DISTRIBUTIONS) specs.push(fillSpec({ distribution }) as unknown as KernelSpec);
  for (const variant of ORTHOGONAL_VARIANTS) {
    for (const stage of ['project', 'normalise'] as const) {
      specs.push(orthogonalSpec({ stage, variant, workgroupSize: ORTHOGONAL_WORKGROUP[variant] }) as unknown as KernelSpec);
    }
  }
  specs.push(transformProbeSpec() as unknown as KernelSpec);
  return specs;
}

/** Every initialiser of the family, compiled. */
export interface InitKernels {
  bits: RandomFillKernel;
  uniform: RandomFillKernel;
  normal: RandomFillKernel;
  orthogonal: OrthogonalKernel;
}

export async function prepareInit(ctx: GpuContext, options: OrthogonalOptions = {}): Promise<InitKernels> {
  const [bits, uniform, normal, orthogonal] = await Promise.all([
    prepareRandomFill(ctx, 'bits'),
    prepareRandomFill(ctx, 'uniform'),
    prepareRandomFill(ctx, 'normal'),
    prepareOrthogonal(ctx, options),
  ]);
  return { bits, uniform, normal, orthogonal };
}

// ---------------------------------------------------------------------------
// CPU references: Philox bit-for-bit, the transforms in float64

const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9;
const PHILOX_W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two u32s, from 16-bit halves (as the shader does). */
export function mulhi32(a: number, b: number): number {
  const al = a & 0xffff;
  const ah = a >>> 16;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const lh = al * bh;
  const hl = ah * bl;
  const mid = ((al * bl) >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (ah * bh + Math.floor(lh / 65536) + Math.floor(hl / 65536) + Math.floor(mid / 65536)) >>> 0;
}

/** Philox4x32-10 of one counter (4 u32s) under one key (2 u32s), written into `out`. */
export function philox4x32(
  counter: ArrayLike<number>,
  key: ArrayLike<number>,
  out: Uint32Array = new Uint32Array(4),
  rounds = 10,
): Uint32Array {
  let c0 = counter[0] >>> 0;
  let c1 = counter[1] >>> 0;
  let c2 = counter[2] >>> 0;
  let c3 = counter[3] >>> 0;
  let k0 = key[0] >>> 0;
  let k1 = key[1] >>> 0;
  for (let r = 0; r < rounds; r++) {
    if (r > 0) {
      k0 = (k0 + PHILOX_W0) >>> 0;
      k1 = (k1 + PHILOX_W1) >>> 0;
    }
    const hi0 = mulhi32(PHILOX_M0, c0);
    const lo0 = Math.imul(PHILOX_M0, c0) >>> 0;
    const hi1 = mulhi32(PHILOX_M1, c2);
    const lo1 = Math.imul(PHILOX_M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
  return out;
}

/** The u32 stream of a fill (element i ← word i mod 4 of Philox((i/4, stream, 0), seed)). */
export function randomBitsRef(key: RngKey, count: number): Uint32Array {
  const [s0, s1] = splitSeed(key.seed);
  const [t0, t1] = splitSeed(key.stream ?? 0, 'stream');
  const keyWords = [s0, s1];
  const counter = [0, t0, t1, 0];
  const block = new Uint32Array(4);
  const out = new Uint32Array(count);
  for (let b = 0; b * 4 < count; b++) {
    counter[0] = b;
    philox4x32(counter, keyWords, block);
    for (let l = 0; l < 4 && b * 4 + l < count; l++) out[b * 4 + l] = block[l];
  }
  return out;
}

/** u ∈ [0, 1): 24 random bits · 2⁻²⁴, exact in f32. */
export function uniformFromBits(x: number): number {
  return (x >>> 8) * 2 ** -24;
}

/** u ∈ (0, 1]: (24 random bits + 1) · 2⁻²⁴, exact in f32; the radius of Box–Muller. */
export function openUniformFromBits(x: number): number {
  return ((x >>> 8) + 1) * 2 ** -24;
}

/** s ∈ [−1, 1): the Box–Muller angle θ = π·s, as ((x >> 8) − 2²³)·2⁻²³ (exact in f32). */
export function angleFromBits(x: number): number {
  return ((x >>> 8) - 2 ** 23) * 2 ** -23;
}

/** (sin πs, cos πs) in float64, reduced as the shader does so that exact zeros stay exact. */
export function sinCosPi(s: number): [number, number] {
  const q = Math.round(2 * s);
  const t = s - q / 2;
  const sn = Math.sin(Math.PI * t);
  const cs = Math.cos(Math.PI * t);
  switch (q & 3) {
    case 0:
      return [sn, cs];
    case 1:
      return [cs, -sn];
    case 2:
      return [-sn, -cs];
    default:
      return [-cs, sn];
  }
}

/** Two standard normals (r cos πs, r sin πs) from two u32s, in float64. */
export function boxMullerRef(xr: number, xa: number): [number, number] {
  const r = Math.sqrt(Math.max(-2 * Math.log(openUniformFromBits(xr)), 0));
  const [sn, cs] = sinCosPi(angleFromBits(xa));
  return [r * cs, r * sn];
}

/** Float64 reference of a uniform or normal fill, from the same Philox bits. */
export function randomFillRef(distribution: Exclude<RandomDistribution, 'bits'>, fill: RandomFill): Float64Array {
  // Whole blocks: the last element of an odd count pairs with a word past the end.
  const bits = randomBitsRef(fill, fillBlocks(fill.count) * 4);
  const { loc, scale } = fillAffine(distribution, fill);
  const loc32 = Math.fround(loc);
  const scale32 = Math.fround(scale);
  const out = new Float64Array(fill.count);
  for (let i = 0; i < fill.count; i++) {
    let unit: number;
    if (distribution === 'uniform') unit = uniformFromBits(bits[i]);
    else {
      const pair = i & ~1;
      const [z0, z1] = boxMullerRef(bits[pair], bits[pair + 1]);
      unit = (i & 1) === 0 ? z0 : z1;
    }
    out[i] = loc32 + scale32 * unit;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Orthogonal: float64 reference and checks

/** Element e of vector k of a row-major rows×cols matrix (see orthogonalGeometry). */
function vectorAccessor(rows: number, cols: number): (k: number, e: number) => number {
  const g = orthogonalGeometry(rows, cols);
  return (k, e) => k * g.vstride + e * g.estride;
}

/**
 * gain·Q from the float64 QR (positive diagonal of R) of the gaussian G[rows,
 * cols]: orthonormal rows if rows ≤ cols, else orthonormal columns. Computed
 * by modified Gram–Schmidt twice, in float64.
 */
export function orthogonalRef(rows: number, cols: number, gaussian: ArrayLike<number>, gain = 1): Float64Array {
  const { n, len } = orthogonalGeometry(rows, cols);
  const at = vectorAccessor(rows, cols);
  const w = Float64Array.from(gaussian);
  for (let sweep = 0; sweep < GRAM_SCHMIDT_SWEEPS; sweep++) {
    for (let j = 0; j < n; j++) {
      let jj = 0;
      for (let e = 0; e < len; e++) jj += w[at(j, e)] ** 2;
      for (let k = j + 1; k < n; k++) {
        let jk = 0;
        for (let e = 0; e < len; e++) jk += w[at(j, e)] * w[at(k, e)];
        const coef = jj > 0 ? jk / jj : 0;
        for (let e = 0; e < len; e++) w[at(k, e)] -= coef * w[at(j, e)];
      }
    }
  }
  for (let k = 0; k < n; k++) {
    let kk = 0;
    for (let e = 0; e < len; e++) kk += w[at(k, e)] ** 2;
    const factor = kk > 0 ? gain / Math.sqrt(kk) : 0;
    for (let e = 0; e < len; e++) w[at(k, e)] *= factor;
  }
  return w;
}

/**
 * max |⟨q_j, q_k⟩/gain² − δ_jk| over the orthonormalised vectors (rows of a
 * wide W, columns of a tall one), in float64: ‖QQᵀ − I‖_max or ‖QᵀQ − I‖_max.
 */
export function gramError(w: ArrayLike<number>, rows: number, cols: number, gain = 1): number {
  const { n, len } = orthogonalGeometry(rows, cols);
  const at = vectorAccessor(rows, cols);
  let worst = 0;
  const g2 = gain * gain;
  for (let j = 0; j < n; j++) {
    for (let k = j; k < n; k++) {
      let dot = 0;
      for (let e = 0; e < len; e++) dot += w[at(j, e)] * w[at(k, e)];
      worst = Math.max(worst, Math.abs(dot / g2 - (j === k ? 1 : 0)));
    }
  }
  return worst;
}

/**
 * How far W is from gain·(the Q of the QR of G with R's diagonal positive),
 * independently of how ill-conditioned G is: for the vectors q_k of W/gain and
 * g_k of G, r_jk = ⟨q_j, g_k⟩ must vanish for j > k (G = QR, R upper
 * triangular) and be positive for j = k. Returns max_{j>k} |r_jk| / ‖g_k‖ and
 * the smallest r_kk / ‖g_k‖ (which is positive for the right signs).
 */
export function triangularError(
  w: ArrayLike<number>,
  gaussian: ArrayLike<number>,
  rows: number,
  cols: number,
  gain = 1,
): { offTriangle: number; minDiagonal: number } {
  const { n, len } = orthogonalGeometry(rows, cols);
  const at = vectorAccessor(rows, cols);
  let offTriangle = 0;
  let minDiagonal = Infinity;
  for (let k = 0; k < n; k++) {
    let gk = 0;
    for (let e = 0; e < len; e++) gk += gaussian[at(k, e)] ** 2;
    const norm = Math.sqrt(gk);
    for (let j = k; j < n; j++) {
      let r = 0;
      for (let e = 0; e < len; e++) r += w[at(j, e)] * gaussian[at(k, e)];
      r /= gain * norm;
      if (j === k) minDiagonal = Math.min(minDiagonal, r);
      else offTriangle = Math.max(offTriangle, Math.abs(r));
    }
  }
  return { offTriangle, minDiagonal };
}

/**
 * max over `samples` random vectors x of |‖Wx‖ / (gain·‖x‖) − 1| on the side
 * where W is an isometry (x ∈ R^cols for rows ≥ cols, else ‖Wᵀx‖ with
 * x ∈ R^rows): every singular value of W equals gain.
 */
export function isometryError(w: ArrayLike<number>, rows: number, cols: number, gain = 1, samples = 4, seed = 1): number {
  const tall = rows >= cols;
  const inDim = tall ? cols : rows;
  const outDim = tall ? rows : cols;
  let worst = 0;
  const words = randomBitsRef({ seed, stream: 0x150 }, samples * inDim);
  for (let s = 0; s < samples; s++) {
    const x = Array.from({ length: inDim }, (_, i) => uniformFromBits(words[s * inDim + i]) - 0.5);
    let xx = 0;
    for (const v of x) xx += v * v;
    let yy = 0;
    for (let o = 0; o < outDim; o++) {
      let y = 0;
      for (let i = 0; i < inDim; i++) y += (tall ? w[o * cols + i] : w[i * cols + o]) * x[i];
      yy += y * y;
    }
    worst = Math.max(worst, Math.abs(Math.sqrt(yy / xx) / Math.abs(gain) - 1));
  }
  return worst;
}
