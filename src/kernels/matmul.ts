import { matmulShader, matmulWorkgroupBytes, type MatmulLayout, type MatmulShaderOptions } from '../../shaders/matmul.wgsl.ts';
import type { Activation } from '../../shaders/activation.wgsl.ts';
import type { AdapterSummary, BufferBinding, Dispatch, GpuContext, PreparedKernel } from '../gpu/context.ts';
import { ceilDiv, type KernelSpec, type StorageBinding } from './spec.ts';
import { activationRef, activationGradFromOutputRef } from './elementwise.ts';

export type { MatmulLayout } from '../../shaders/matmul.wgsl.ts';
export const MATMUL_LAYOUTS: readonly MatmulLayout[] = ['nt', 'nn', 'tn'];

export type MatmulVariant = 'register' | 'tiled';
export const MATMUL_VARIANTS: readonly MatmulVariant[] = ['register', 'tiled'];

/** The dimensions of C[M,N] = op(A)·op(B) with inner size K. */
export interface MatmulDims {
  m: number;
  n: number;
  k: number;
}

export interface MatmulOptions {
  layout: MatmulLayout;
  /** Default: chosen per adapter by defaultMatmulVariant. */
  variant?: MatmulVariant;
  /** Forward epilogue: add bias[n] before the activation. */
  bias?: boolean;
  /** Forward epilogue activation (default linear). */
  activation?: Activation;
  /** Backward epilogue: multiply by φ'(h) with h from the `mask` buffer. */
  gradMask?: Activation | null;
}

/** Tile shapes of each variant (the autotuner may add more later). */
const VARIANT_SHAPES: Record<MatmulVariant, Pick<MatmulShaderOptions, 'tileM' | 'tileN' | 'workgroupX' | 'workgroupY' | 'tileK'>> = {
  // 8×8 outputs per invocation, no workgroup memory: best measured on SwiftShader.
  register: { tileM: 8, tileN: 8, workgroupX: 8, workgroupY: 8, tileK: 0 },
  // 64×64 block per 16×16 workgroup, K staged 16 deep.
  tiled: { tileM: 4, tileN: 4, workgroupX: 16, workgroupY: 16, tileK: 16 },
};

/**
 * Register-blocked on software adapters (SwiftShader is slow at workgroup
 * barriers); workgroup-tiled on real GPUs, where shared-memory reuse wins.
 */
export function defaultMatmulVariant(adapter: AdapterSummary): MatmulVariant {
  return adapter.software ? 'register' : 'tiled';
}

type MatmulUniforms = { m: 'u32'; n: 'u32'; k: 'u32' };

export function matmulShaderOptions(options: MatmulOptions, variant: MatmulVariant): MatmulShaderOptions {
  if (options.gradMask && (options.bias || (options.activation ?? 'linear') !== 'linear')) {
    throw new Error('matmul: a gradient-mask epilogue cannot also add a bias or apply an activation');
  }
  return {
    layout: options.layout,
    variant,
    ...VARIANT_SHAPES[variant],
    bias: options.bias ?? false,
    activation: options.activation ?? 'linear',
    gradMask: options.gradMask ?? null,
  };
}

export function matmulSpec(o: MatmulShaderOptions): KernelSpec<MatmulUniforms> {
  const epilogue = o.gradMask ? `mask:${o.gradMask}` : `${o.bias ? 'bias+' : ''}${o.activation}`;
  const shape = `${o.tileM}x${o.tileN}${o.variant === 'tiled' ? `k${o.tileK}` : ''}`;
  const storage: StorageBinding[] = [
    { name: 'a', access: 'read', type: 'array<f32>' },
    { name: 'b', access: 'read', type: 'array<f32>' },
    { name: 'c', access: 'read_write', type: 'array<f32>' },
  ];
  if (o.bias) storage.push({ name: 'bias', access: 'read', type: 'array<f32>' });
  if (o.gradMask) storage.push({ name: 'mask', access: 'read', type: 'array<f32>' });
  return {
    key: `matmul/${o.layout}/${o.variant}/${shape}/wg${o.workgroupX}x${o.workgroupY}/${epilogue}`,
    label: `matmul[${o.layout}, ${o.variant} ${shape}, ${epilogue}]`,
    entryPoint: 'main',
    uniforms: { m: 'u32', n: 'u32', k: 'u32' },
    storage,
    workgroupSize: [o.workgroupX, o.workgroupY, 1],
    workgroupBytes: matmulWorkgroupBytes(o),
    body: matmulShader(o),
  };
}

/** Workgroups along N (x) and M (y). */
export function matmulGrid(o: MatmulShaderOptions, dims: MatmulDims): [number, number] {
  return [ceilDiv(dims.n, o.workgroupX * o.tileN), ceilDiv(dims.m, o.workgroupY * o.tileM)];
}

export interface MatmulBuffers {
  a: BufferBinding;
  b: BufferBinding;
  c: BufferBinding;
  bias?: BufferBinding;
  mask?: BufferBinding;
}

/** A compiled matmul; `bind` records a dispatch for given sizes and buffers. */
export class MatmulKernel {
  constructor(
    readonly options: MatmulShaderOptions,
    private readonly prepared: PreparedKernel<MatmulUniforms>,
  ) {}

  get label(): string {
    return this.prepared.spec.label;
  }

  bind(dims: MatmulDims, buffers: MatmulBuffers): Dispatch {
    for (const [name, v] of Object.entries(dims)) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`${this.label}: ${name} = ${v}, must be an integer ≥ 1`);
    }
    return this.prepared.bind(dims, { ...buffers }, matmulGrid(this.options, dims));
  }
}

export async function prepareMatmul(ctx: GpuContext, options: MatmulOptions): Promise<MatmulKernel> {
  const o = matmulShaderOptions(options, options.variant ?? defaultMatmulVariant(ctx.summary));
  return new MatmulKernel(o, await ctx.prepare(matmulSpec(o)));
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
