import { matmulEnables, matmulQuadStoresFit, matmulShader, matmulVectorLoadsFit, matmulWorkgroupBytes, type MatmulLayout, type MatmulShaderOptions } from '../../shaders/matmul.wgsl.ts';
import type { Activation } from '../../shaders/activation.wgsl.ts';
import type { AdapterSummary, BufferBinding, Dispatch, GpuContext, PreparedKernel } from '../gpu/context.ts';
import { ceilDiv, type KernelSpec, type StorageBinding } from './spec.ts';
import { GpuLimitError } from '../gpu/errors.ts';
import { activationRef, activationGradFromOutputRef } from './elementwise.ts';

export type { MatmulLayout } from '../../shaders/matmul.wgsl.ts';
/** The matmul layouts: `nt` C = A·Bᵀ, `nn` C = A·B, `tn` C = Aᵀ·B (A, B, C row-major). */
export const MATMUL_LAYOUTS: readonly MatmulLayout[] = ['nt', 'nn', 'tn'];

/** The dimensions of C[M,N] = op(A)·op(B) with inner size K. */
export interface MatmulDims {
  m: number;
  n: number;
  k: number;
}

/** What {@link prepareMatmul} compiles: the layout, the variant, and the fused epilogue (bias and activation, or a backward gradient mask). */
export interface MatmulOptions {
  layout: MatmulLayout;
  /** A family or tiling name (MatmulVariant). Default: the tuned choice per shape, else defaultMatmulVariant. */
  variant?: MatmulVariant;
  /** Forward epilogue: add bias[n] before the activation. */
  bias?: boolean;
  /** Forward epilogue activation (default linear). */
  activation?: Activation;
  /** Backward epilogue: multiply by φ'(h) with h from the `mask` buffer. */
  gradMask?: Activation | null;
}

/**
 * The two kernel families: register blocking without workgroup memory, or
 * workgroup tiling. (The subgroup tilings, register blocking with A shared
 * across a four-lane subgroup, run only where the device has subgroups:
 * they are tilings of the search space, never a family default.)
 */
export type MatmulFamily = 'register' | 'tiled';
/**
 * A variant's name: a family (`register`, `tiled`: its default tiling) or a
 * tiling from MATMUL_TILINGS by name, e.g. `register-8x8-wg8x8-v4`.
 */
export type MatmulVariant = string;
/** The family names, which the conformance suite and `--variant` accept as aliases. */
export const MATMUL_VARIANTS: readonly MatmulFamily[] = ['register', 'tiled'];

/** Everything about a matmul kernel's shape that does not change its result. */
export type MatmulTiling = Pick<MatmulShaderOptions, 'variant' | 'tileM' | 'tileN' | 'workgroupX' | 'workgroupY' | 'tileK' | 'vectorLoads'>;

/** A tiling's name: `register-8x8-wg8x8` or `subgroup-32x8-wg4x1` (+ `-v4` for vec4 loads), or `tiled-4x4-wg16x16-k16`. */
export function matmulTilingName(t: MatmulTiling): string {
  const base = `${t.variant}-${t.tileM}x${t.tileN}-wg${t.workgroupX}x${t.workgroupY}`;
  if (t.variant === 'tiled') return `${base}-k${t.tileK}`;
  return t.vectorLoads ? `${base}-v4` : base;
}

function registerTiling(tileM: number, tileN: number, vectorLoads: boolean, workgroup = 8): MatmulTiling {
  return { variant: 'register', tileM, tileN, workgroupX: workgroup, workgroupY: workgroup, tileK: 0, vectorLoads };
}
/** tileM rows shared by the subgroup's four lanes, tileN columns per lane: a workgroup (one subgroup) covers tileM × 4·tileN of C. */
function subgroupTiling(tileM: number, tileN: number, vectorLoads: boolean): MatmulTiling {
  return { variant: 'subgroup', tileM, tileN, workgroupX: 4, workgroupY: 1, tileK: 0, vectorLoads };
}
function tiledTiling(tileM: number, tileN: number, workgroup: number, tileK: number): MatmulTiling {
  return { variant: 'tiled', tileM, tileN, workgroupX: workgroup, workgroupY: workgroup, tileK, vectorLoads: false };
}

/** The family defaults (any size): 8×8 outputs per invocation with scalar loads; a 64×64 block staged 16 deep. Large register products get SUBGROUP_LARGE_TILING or REGISTER_LARGE_TILING (defaultMatmulTiling). */
const FAMILY_DEFAULTS: Record<MatmulFamily, MatmulTiling> = {
  register: registerTiling(8, 8, false),
  tiled: tiledTiling(4, 4, 16, 16),
};

/**
 * The register family's tiling for large vec4-readable products when nothing
 * was tuned: 16×8 outputs per invocation with vec4 loads reads a quarter
 * fewer operands per multiply-add than 8×8 (loads bound SwiftShader), and
 * measured 10–20 % faster there at 64×256×256 (nt, nn) and at 512³. Its code
 * is four times larger (compiling it takes ~0.6 s on SwiftShader against
 * ~0.15 s), so small or odd shapes keep the 8×8 family default.
 */
export const REGISTER_LARGE_TILING: MatmulTiling = registerTiling(16, 8, true);

/**
 * The register family's tiling for C with fewer than 8 rows (the bias
 * gradient 1ᵀ·dZ is one row): 4 rows per invocation instead of 8 clamped
 * copies of the same row (measured ~30 % faster at 1×256×64 on SwiftShader).
 */
export const REGISTER_SHORT_TILING: MatmulTiling = registerTiling(4, 8, false);

/**
 * The tiling for large vec4-readable products where the device has
 * subgroups of four lanes (SwiftShader): 32 rows shared by the subgroup, 8
 * columns per lane. Per quad of k a lane loads 8 + 8 vec4s for 256
 * multiply-adds, against 16 + 8 for 128 in REGISTER_LARGE_TILING; measured
 * 1.2–1.6× faster than it at 512³ and at the MLP step's shapes on SwiftShader.
 */
export const SUBGROUP_LARGE_TILING: MatmulTiling = subgroupTiling(32, 8, true);

/**
 * The smallest product (M·N·K multiply-adds) an untuned matmul gives
 * SUBGROUP_LARGE_TILING: its code is twice REGISTER_LARGE_TILING's, and
 * SwiftShader takes 1–2 s to compile it (against ~0.5 s), which a product
 * below ~64×128×128 does not win back in a short run. The MLP step's
 * 64×256×256 products are four times this.
 */
export const SUBGROUP_DEFAULT_MIN_PRODUCT = 2 ** 20;

/**
 * The same with scalar loads: any M, N, K (where a forced
 * SUBGROUP_LARGE_TILING cannot read the sizes). A workgroup covers 32 × 32
 * of C, as the register family's smallest does, so
 * MATMUL_MIN_WORKGROUP_TILE stays 32.
 */
export const SUBGROUP_SCALAR_TILING: MatmulTiling = subgroupTiling(32, 8, false);

/**
 * The autotuner's search space: outputs per invocation, workgroup shape,
 * workgroup memory or none, scalar or vec4 loads. Every entry is checked
 * against the float64 reference by the conformance suite and by the tuner
 * before it is timed.
 */
export const MATMUL_TILINGS: readonly MatmulTiling[] = [
  FAMILY_DEFAULTS.register,
  registerTiling(4, 4, false),
  REGISTER_SHORT_TILING,
  registerTiling(8, 4, false),
  registerTiling(4, 4, false, 16),
  registerTiling(4, 4, true),
  registerTiling(4, 8, true),
  registerTiling(8, 4, true),
  registerTiling(8, 8, true),
  // 16 rows per invocation: a quarter fewer loads per multiply-add than 8×8 (loads, not arithmetic, bound SwiftShader).
  REGISTER_LARGE_TILING,
  // A shared across the subgroup: TM/4 + TN loads per k instead of TM + TN.
  SUBGROUP_SCALAR_TILING,
  SUBGROUP_LARGE_TILING,
  FAMILY_DEFAULTS.tiled,
  tiledTiling(4, 4, 8, 16),
  tiledTiling(8, 4, 16, 8),
];

/** Every matmul tiling by name (e.g. `register-8x8-wg8x8-v4`): each is a valid `variant`. */
export const MATMUL_TILING_NAMES: readonly string[] = MATMUL_TILINGS.map(matmulTilingName);

/**
 * The fewest rows (or columns) of C one workgroup covers over every tiling:
 * a dimension past this times maxComputeWorkgroupsPerDimension cannot be
 * dispatched whichever tiling the autotuner picks.
 */
export const MATMUL_MIN_WORKGROUP_TILE = Math.min(...MATMUL_TILINGS.flatMap((t) => [t.tileM * t.workgroupY, t.tileN * t.workgroupX]));

/** Every name `variant` accepts: the families, then the tilings. */
export function matmulVariantNames(): string[] {
  return [...MATMUL_VARIANTS, ...MATMUL_TILING_NAMES];
}

export function parseMatmulVariant(name: MatmulVariant): MatmulTiling {
  if (name === 'register' || name === 'tiled') return FAMILY_DEFAULTS[name];
  const found = MATMUL_TILINGS.find((t) => matmulTilingName(t) === name);
  if (!found) throw new Error(`unknown matmul variant '${name}'; known: ${matmulVariantNames().join(', ')}`);
  return found;
}

/** What a device offers the matmul families beyond the core: its subgroup sizes (GpuContext.subgroupSizes). */
export interface MatmulDeviceFeatures {
  readonly subgroupSizes: { readonly min: number; readonly max: number } | null;
}

/**
 * Whether this device can run a tiling: the subgroup family needs the
 * `subgroups` feature with subgroups of at least four lanes (a workgroup of
 * four is then one subgroup, lanes 0–3); every other tiling runs anywhere.
 */
export function matmulTilingAvailable(tiling: MatmulTiling, device: MatmulDeviceFeatures): boolean {
  return tiling.variant !== 'subgroup' || (device.subgroupSizes !== null && device.subgroupSizes.min >= 4);
}

/**
 * The tiling an untuned, unforced matmul runs at these sizes: the adapter's
 * default family; on the register family (software adapters), where vec4
 * loads fit, {@link SUBGROUP_LARGE_TILING} when also N is a multiple of 4,
 * the device has four-lane subgroups, C has its 32 rows and M·N·K ≥
 * {@link SUBGROUP_DEFAULT_MIN_PRODUCT},
 * else {@link REGISTER_LARGE_TILING} where
 * C has at least 16 rows; {@link REGISTER_SHORT_TILING} where C has fewer
 * than 8 rows.
 */
export function defaultMatmulTiling(adapter: AdapterSummary, layout: MatmulLayout, dims: MatmulDims, device: MatmulDeviceFeatures = { subgroupSizes: null }): MatmulTiling {
  const family = defaultMatmulVariant(adapter);
  if (family !== 'register') return FAMILY_DEFAULTS[family];
  const large = (t: MatmulTiling) => dims.m >= t.tileM && matmulTilingFits(t, layout, dims) && matmulTilingAvailable(t, device);
  if (large(SUBGROUP_LARGE_TILING) && dims.m * dims.n * dims.k >= SUBGROUP_DEFAULT_MIN_PRODUCT) return SUBGROUP_LARGE_TILING;
  if (large(REGISTER_LARGE_TILING)) return REGISTER_LARGE_TILING;
  if (dims.m < FAMILY_DEFAULTS.register.tileM) return REGISTER_SHORT_TILING;
  return FAMILY_DEFAULTS.register;
}

/**
 * Register-blocked on software adapters (SwiftShader is slow at workgroup
 * barriers); workgroup-tiled on real GPUs, where shared-memory reuse wins.
 * The autotuner's choice, where there is one, overrides this.
 */
export function defaultMatmulVariant(adapter: AdapterSummary): MatmulFamily {
  return adapter.software ? 'register' : 'tiled';
}

/**
 * The shape class a tuned choice applies to: layout, each of M, N, K small
 * (≤ 64: batch-sized or a readout) or large, and whether vec4 loads fit
 * (matmulVectorLoadsFit; a choice is still used only at sizes it fits,
 * matmulTilingFits).
 * Training uses a handful of classes (forward, input grad, the skinny weight
 * grad), so a few measurements cover a model.
 */
export function matmulShapeClass(layout: MatmulLayout, dims: MatmulDims): string {
  const size = (v: number) => (v <= 64 ? 's' : 'l');
  return `matmul/${layout}/${size(dims.m)}${size(dims.n)}${size(dims.k)}/${matmulVectorLoadsFit(layout, dims) ? 'v4' : 'any'}`;
}

/** Whether a tiling can run at these sizes (vec4 loads need multiples of 4; the subgroup family's vec4 form, N too). */
export function matmulTilingFits(tiling: MatmulTiling, layout: MatmulLayout, dims: MatmulDims): boolean {
  if (!tiling.vectorLoads) return true;
  return tiling.variant === 'subgroup' ? matmulQuadStoresFit(layout, dims) : matmulVectorLoadsFit(layout, dims);
}

type MatmulUniforms = { m: 'u32'; n: 'u32'; k: 'u32' };

export function matmulShaderOptions(options: MatmulOptions, tiling: MatmulTiling): MatmulShaderOptions {
  if (options.gradMask && (options.bias || (options.activation ?? 'linear') !== 'linear')) {
    throw new Error('matmul: a gradient-mask epilogue cannot also add a bias or apply an activation');
  }
  return {
    layout: options.layout,
    ...tiling,
    bias: options.bias ?? false,
    activation: options.activation ?? 'linear',
    gradMask: options.gradMask ?? null,
  };
}

export function matmulSpec(o: MatmulShaderOptions): KernelSpec<MatmulUniforms> {
  const epilogue = o.gradMask ? `mask:${o.gradMask}` : `${o.bias ? 'bias+' : ''}${o.activation}`;
  const tiling = matmulTilingName(o);
  const operand = o.vectorLoads ? 'array<vec4<f32>>' : 'array<f32>';
  // The subgroup family's vec4 form also stores C and reads bias and mask by quads (matmulQuadStoresFit).
  const output = o.vectorLoads && o.variant === 'subgroup' ? 'array<vec4<f32>>' : 'array<f32>';
  const storage: StorageBinding[] = [
    { name: 'a', access: 'read', type: operand },
    { name: 'b', access: 'read', type: operand },
    { name: 'c', access: 'read_write', type: output },
  ];
  if (o.bias) storage.push({ name: 'bias', access: 'read', type: output });
  if (o.gradMask) storage.push({ name: 'mask', access: 'read', type: output });
  return {
    key: `matmul/${o.layout}/${tiling}/${epilogue}`,
    label: `matmul[${o.layout}, ${tiling}, ${epilogue}]`,
    entryPoint: 'main',
    uniforms: { m: 'u32', n: 'u32', k: 'u32' },
    storage,
    workgroupSize: [o.workgroupX, o.workgroupY, 1],
    workgroupBytes: matmulWorkgroupBytes(o),
    body: matmulShader(o),
    enables: matmulEnables(o),
  };
}

/** Workgroups along N (x) and M (y). */
export function matmulGrid(o: MatmulTiling, dims: MatmulDims): [number, number] {
  return [ceilDiv(dims.n, o.workgroupX * o.tileN), ceilDiv(dims.m, o.workgroupY * o.tileM)];
}

export interface MatmulBuffers {
  a: BufferBinding;
  b: BufferBinding;
  c: BufferBinding;
  bias?: BufferBinding;
  mask?: BufferBinding;
}

/**
 * A compiled matmul of one layout and epilogue. It holds one pipeline per
 * tiling it may use: the fallback (the requested variant, or the adapter's
 * default) and the tuned choice for each shape it was prepared for; `bind`
 * picks per shape.
 */
export class MatmulKernel {
  constructor(
    readonly layout: MatmulLayout,
    private readonly fallback: PreparedKernel<MatmulUniforms>,
    private readonly fallbackTiling: MatmulTiling,
    /** Tiling name → pipeline, and shape class → tiling name (from the tuning table). */
    private readonly prepared: ReadonlyMap<string, PreparedKernel<MatmulUniforms>>,
    private readonly chosen: ReadonlyMap<string, string>,
    /** Unforced kernels: the untuned default tiling per size (defaultMatmulTiling), used where it was prepared. */
    private readonly sizeDefault: ((dims: MatmulDims) => MatmulTiling) | null = null,
  ) {}

  get label(): string {
    return this.fallback.spec.label;
  }

  /** The tiling `bind` uses for these sizes. */
  tilingFor(dims: MatmulDims): MatmulTiling {
    return this.kernelFor(dims).tiling;
  }

  private kernelFor(dims: MatmulDims): { kernel: PreparedKernel<MatmulUniforms>; tiling: MatmulTiling } {
    const name = this.chosen.get(matmulShapeClass(this.layout, dims));
    const kernel = name === undefined ? undefined : this.prepared.get(name);
    // A class's choice may not fit every size in it (the subgroup vec4 form also needs N a multiple of 4, which the class does not record).
    if (name !== undefined && kernel && matmulTilingFits(parseMatmulVariant(name), this.layout, dims)) return { kernel, tiling: parseMatmulVariant(name) };
    const untuned = this.sizeDefault?.(dims);
    const untunedKernel = untuned === undefined ? undefined : this.prepared.get(matmulTilingName(untuned));
    if (untuned !== undefined && untunedKernel) return { kernel: untunedKernel, tiling: untuned };
    if (matmulTilingFits(this.fallbackTiling, this.layout, dims)) return { kernel: this.fallback, tiling: this.fallbackTiling };
    // A forced vec4 variant at sizes it cannot read: the same tiling with scalar loads.
    const scalar = this.prepared.get(matmulTilingName({ ...this.fallbackTiling, vectorLoads: false }));
    if (!scalar) throw new Error(`${this.label}: vec4 loads need ${this.layout === 'nt' ? 'K' : this.layout === 'nn' ? 'K and N' : 'M and N'} to be multiples of 4 (got ${dims.m}×${dims.n}×${dims.k})`);
    return { kernel: scalar, tiling: { ...this.fallbackTiling, vectorLoads: false } };
  }

  bind(dims: MatmulDims, buffers: MatmulBuffers): Dispatch {
    for (const [name, v] of Object.entries(dims)) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`${this.label}: ${name} = ${v}, must be an integer ≥ 1`);
    }
    const { kernel, tiling } = this.kernelFor(dims);
    return kernel.bind(dims, { ...buffers }, matmulGrid(tiling, dims));
  }
}

/**
 * Compiles a matmul. With `variant`, that variant is used at every size (a
 * vec4 variant falls back to scalar loads where sizes are not multiples of 4).
 * Without it, each of `shapes` gets the adapter's tuned choice for its shape
 * class where ctx.tunedVariants has one, else the untuned default for its
 * size (defaultMatmulTiling); any other size gets the default family's
 * tiling.
 */
export async function prepareMatmul(ctx: GpuContext, options: MatmulOptions & { shapes?: readonly MatmulDims[] }): Promise<MatmulKernel> {
  const forced = options.variant !== undefined;
  const fallbackTiling = parseMatmulVariant(options.variant ?? defaultMatmulVariant(ctx.summary));
  if (!matmulTilingAvailable(fallbackTiling, ctx)) {
    const sizes = ctx.subgroupSizes ? `subgroups of ${ctx.subgroupSizes.min}–${ctx.subgroupSizes.max} lanes` : "no 'subgroups' feature";
    throw new GpuLimitError(`matmul variant ${options.variant}: needs the WebGPU feature subgroups with subgroups of at least 4 lanes; this device has ${sizes}; pick another variant`);
  }
  const prepared = new Map<string, PreparedKernel<MatmulUniforms>>();
  const compile = async (tiling: MatmulTiling) => {
    const name = matmulTilingName(tiling);
    let kernel = prepared.get(name);
    if (!kernel) {
      kernel = await ctx.prepare(matmulSpec(matmulShaderOptions(options, tiling)));
      prepared.set(name, kernel);
    }
    return kernel;
  };
  const fallback = await compile(fallbackTiling);
  if (fallbackTiling.vectorLoads) await compile({ ...fallbackTiling, vectorLoads: false });
  const chosen = new Map<string, string>();
  if (!forced) {
    for (const dims of options.shapes ?? []) {
      const shapeClass = matmulShapeClass(options.layout, dims);
      const name = ctx.tunedVariants.get(shapeClass);
      const tiling = name === undefined || !MATMUL_TILING_NAMES.includes(name) ? null : parseMatmulVariant(name);
      if (name !== undefined && tiling && matmulTilingFits(tiling, options.layout, dims) && matmulTilingAvailable(tiling, ctx)) {
        await compile(tiling);
        chosen.set(shapeClass, name);
      } else {
        // Untuned: the default for this size (compiled only for the sizes declared, so small models compile no large tiling).
        await compile(defaultMatmulTiling(ctx.summary, options.layout, dims, ctx));
      }
    }
  }
  const sizeDefault = forced ? null : (dims: MatmulDims) => defaultMatmulTiling(ctx.summary, options.layout, dims, ctx);
  return new MatmulKernel(options.layout, fallback, fallbackTiling, prepared, chosen, sizeDefault);
}

// ---------------------------------------------------------------------------
// float64 reference

export interface MatmulReference {
  /** C in float64. */
  c: Float64Array;
  /** Σ_k |A_mk||B_kn| (+ |bias_n|): the scale of the rounding error of C. */
  magnitude: Float64Array;
}

type Numbers = ArrayLike<number>;

/**
 * The float64 reference of a matmul (with the same epilogue options as the
 * kernel) and the accuracy bound each element must meet:
 * `|Δ| ≤ 1e-6 + (K+2)·2⁻²⁴·Σ|a||b|`.
 */
export function matmulReference(
  layout: MatmulLayout,
  dims: MatmulDims,
  a: Numbers,
  b: Numbers,
  epilogue: { bias?: Numbers; activation?: Activation; gradMask?: Activation | null; mask?: Numbers } = {},
): MatmulReference {
  const { m: M, n: N, k: K } = dims;
  const c = new Float64Array(M * N);
  const magnitude = new Float64Array(M * N);
  const aAt = layout === 'tn' ? (m: number, k: number) => a[k * M + m] : (m: number, k: number) => a[m * K + k];
  const bAt = layout === 'nt' ? (k: number, n: number) => b[n * K + k] : (k: number, n: number) => b[k * N + n];
  const activation = epilogue.activation ?? 'linear';
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let sum = 0;
      let mag = 0;
      for (let k = 0; k < K; k++) {
        const p = aAt(m, k) * bAt(k, n);
        sum += p;
        mag += Math.abs(p);
      }
      const i = m * N + n;
      if (epilogue.gradMask) {
        const g = activationGradFromOutputRef(epilogue.gradMask, epilogue.mask![i]);
        c[i] = sum * g;
        magnitude[i] = mag * Math.abs(g);
      } else {
        const z = sum + (epilogue.bias ? epilogue.bias[n] : 0);
        c[i] = activationRef(activation, z);
        magnitude[i] = mag + (epilogue.bias ? Math.abs(epilogue.bias[n]) : 0);
      }
    }
  }
  return { c, magnitude };
}
