import { layerNormShader, layerNormWorkgroupBytes, type LayerNormShaderOptions } from '../../shaders/layernorm.wgsl.ts';
import type { BufferBinding, Dispatch, GpuContext, PreparedKernel } from '../gpu/context.ts';
import { ceilDiv, type KernelSpec } from './spec.ts';

export type { LayerNormShaderOptions };

/** Invocations per row (forward, backward) and per workgroup of columns (params). */
export const LAYERNORM_WORKGROUP = 64;
/** ε under the square root, as PyTorch's nn.LayerNorm. */
export const LAYERNORM_EPS = 1e-5;
type LayerNormUniforms = { rows: 'u32'; n: 'u32'; eps: 'f32' };

/** The spec of one LayerNorm op (src/kernels/spec.ts derives its WGSL declarations and layout). */
export function layerNormSpec(o: LayerNormShaderOptions): KernelSpec<LayerNormUniforms> {
  const f32 = 'array<f32>';
  const stats = 'array<vec2<f32>>';
  const storage =
    o.op === 'forward'
      ? [
          { name: 'x', access: 'read', type: f32 },
          { name: 'gamma', access: 'read', type: f32 },
          { name: 'beta', access: 'read', type: f32 },
          { name: 'y', access: 'read_write', type: f32 },
          { name: 'stats', access: 'read_write', type: stats },
        ]
      : o.op === 'backward'
        ? [
            { name: 'dy', access: 'read', type: f32 },
            { name: 'x', access: 'read', type: f32 },
            { name: 'gamma', access: 'read', type: f32 },
            { name: 'stats', access: 'read', type: stats },
            { name: 'dx', access: 'read_write', type: f32 },
          ]
        : [
            { name: 'dy', access: 'read', type: f32 },
            { name: 'x', access: 'read', type: f32 },
            { name: 'stats', access: 'read', type: stats },
            { name: 'dgamma', access: 'read_write', type: f32 },
            { name: 'dbeta', access: 'read_write', type: f32 },
          ];
  return {
    key: `layernorm/${o.op}/wg${o.workgroupSize}`,
    label: `layernorm.${o.op}[wg${o.workgroupSize}]`,
    entryPoint: 'main',
    uniforms: { rows: 'u32', n: 'u32', eps: 'f32' },
    storage: storage as KernelSpec['storage'],
    workgroupSize: [o.workgroupSize, 1, 1],
    workgroupBytes: layerNormWorkgroupBytes(o),
    body: layerNormShader(o),
  };
}

/** Every spec of the family (for the spec-vs-WGSL unit test and the registry). */
export function layerNormSpecs(): KernelSpec[] {
  return (['forward', 'backward', 'params'] as const).map((op) => layerNormSpec({ op, workgroupSize: LAYERNORM_WORKGROUP }) as unknown as KernelSpec);
}

/**
 * A LayerNorm op compiled for this device: `bind({rows, n}, buffers)` records
 * a reusable {@link Dispatch}. forward {x, gamma, beta, y, stats}; backward
 * {dy, x, gamma, stats, dx}; params {dy, x, stats, dgamma, dbeta}.
 */
export class LayerNormKernel {
  constructor(
    readonly op: LayerNormShaderOptions['op'],
    private readonly kernel: PreparedKernel<LayerNormUniforms>,
    private readonly maxPerDimension: number,
  ) {}

  bind(dims: { rows: number; n: number; eps?: number }, buffers: Readonly<Record<string, BufferBinding>>): Dispatch {
    const { rows, n } = dims;
    if (!Number.isInteger(rows) || rows < 1 || !Number.isInteger(n) || n < 1) throw new Error(`layernorm.${this.op}: rows ${rows} and n ${n} must be integers ≥ 1`);
    const groups = this.op === 'params' ? ceilDiv(n, LAYERNORM_WORKGROUP) : rows;
    if (groups > this.maxPerDimension) throw new Error(`layernorm.${this.op}: ${groups} workgroups exceed this adapter's ${this.maxPerDimension} per dimension`);
    return this.kernel.bind({ rows, n, eps: dims.eps ?? LAYERNORM_EPS }, buffers, [groups, 1]);
  }
}

/** The kernel for one LayerNorm op. */
export async function prepareLayerNorm(ctx: GpuContext, op: LayerNormShaderOptions['op']): Promise<LayerNormKernel> {
  const kernel = await ctx.prepare(layerNormSpec({ op, workgroupSize: LAYERNORM_WORKGROUP }));
  return new LayerNormKernel(op, kernel, ctx.limits.maxComputeWorkgroupsPerDimension);
}

// ---------------------------------------------------------------------------
// float64 references

/** Forward in float64: y [rows, n], and per row μ and r = 1/√(var + ε). */
export function layerNormForwardRef(x: ArrayLike<number>, gamma: ArrayLike<number>, beta: ArrayLike<number>, rows: number, n: number, eps = LAYERNORM_EPS): { y: Float64Array; mean: Float64Array; rstd: Float64Array } {
  const y = new Float64Array(rows * n);
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  for (let b = 0; b < rows; b++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += x[b * n + j];
    const mu = s / n;
    let v = 0;
    for (let j = 0; j < n; j++) v += (x[b * n + j] - mu) ** 2;
    const r = 1 / Math.sqrt(v / n + eps);
    for (let j = 0; j < n; j++) y[b * n + j] = (x[b * n + j] - mu) * r * gamma[j] + beta[j];
    mean[b] = mu;
    rstd[b] = r;
  }
  return { y, mean, rstd };
}

/** Backward in float64: dx [rows, n], dγ [n], dβ [n] (recomputing μ and r from x). */
export function layerNormBackwardRef(dy: ArrayLike<number>, x: ArrayLike<number>, gamma: ArrayLike<number>, rows: number, n: number, eps = LAYERNORM_EPS): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const { mean, rstd } = layerNormForwardRef(x, gamma, new Float64Array(n), rows, n, eps);
  const dx = new Float64Array(rows * n);
  const dgamma = new Float64Array(n);
  const dbeta = new Float64Array(n);
  for (let b = 0; b < rows; b++) {
    let m1 = 0;
    let m2 = 0;
    for (let j = 0; j < n; j++) {
      const xhat = (x[b * n + j] - mean[b]) * rstd[b];
      const g = dy[b * n + j] * gamma[j];
      m1 += g / n;
      m2 += (g * xhat) / n;
      dgamma[j] += dy[b * n + j] * xhat;
      dbeta[j] += dy[b * n + j];
    }
    for (let j = 0; j < n; j++) {
      const xhat = (x[b * n + j] - mean[b]) * rstd[b];
      dx[b * n + j] = rstd[b] * (dy[b * n + j] * gamma[j] - m1 - xhat * m2);
    }
  }
  return { dx, dgamma, dbeta };
}
