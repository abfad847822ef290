import { RESIDUAL_ELEMENTS_PER_INVOCATION, residualShader, type ResidualShaderOptions } from '../../shaders/residual.wgsl.ts';
import type { Activation } from '../../shaders/activation.wgsl.ts';
import type { BufferBinding, Dispatch, GpuContext, PreparedKernel } from '../gpu/context.ts';
import { activationGradFromOutputRef } from './elementwise.ts';
import { ceilDiv, linearGrid, type KernelSpec } from './spec.ts';

export type { ResidualShaderOptions };

const WORKGROUP = 256;
type ResidualUniforms = { count: 'u32'; a: 'f32' };

/** The residual family's spec: `add` (out = x + a·f) or `branch` (dz = a·dh·φ'(from f = φ(z))). */
export function residualSpec(o: ResidualShaderOptions): KernelSpec<ResidualUniforms> {
  const type = 'array<f32>';
  const activation = o.op === 'branch' ? (o.activation ?? 'linear') : null;
  return {
    key: `residual/${o.op}${activation ? `/${activation}` : ''}`,
    label: `residual.${o.op}${activation ? `.${activation}` : ''}`,
    entryPoint: 'main',
    uniforms: { count: 'u32', a: 'f32' },
    storage:
      o.op === 'add'
        ? [
            { name: 'x', access: 'read', type },
            { name: 'f', access: 'read', type },
            { name: 'out', access: 'read_write', type },
          ]
        : [
            { name: 'dh', access: 'read', type },
            { name: 'f', access: 'read', type },
            { name: 'dz', access: 'read_write', type },
          ],
    workgroupSize: [WORKGROUP, 1, 1],
    workgroupBytes: 0,
    body: residualShader({ op: o.op, activation: activation ?? undefined }),
  };
}

/** Every residual kernel variant (for the spec-vs-WGSL test). */
export function residualSpecs(activations: readonly Activation[]): KernelSpec<ResidualUniforms>[] {
  return [residualSpec({ op: 'add' }), ...activations.map((activation) => residualSpec({ op: 'branch', activation }))];
}

/**
 * A residual kernel compiled for this device: `bind({count, a}, buffers)`
 * records a reusable {@link Dispatch}. add: {x, f, out}; branch: {dh, f, dz}
 * (three different buffers: WebGPU forbids a writable binding beside another
 * binding of the same buffer in one dispatch).
 */
export class ResidualKernel {
  constructor(
    readonly options: ResidualShaderOptions,
    private readonly kernel: PreparedKernel<ResidualUniforms>,
    private readonly maxPerDimension: number,
  ) {}

  bind(u: { count: number; a: number }, buffers: Readonly<Record<string, BufferBinding>>): Dispatch {
    if (!Number.isInteger(u.count) || u.count < 1) throw new Error(`${this.kernel.spec.label}: count ${u.count} must be ≥ 1`);
    return this.kernel.bind(u, buffers, linearGrid(ceilDiv(u.count, RESIDUAL_ELEMENTS_PER_INVOCATION), WORKGROUP, this.maxPerDimension));
  }
}

/** The residual kernel for one op (and, for `branch`, one activation). */
export async function prepareResidual(ctx: GpuContext, options: ResidualShaderOptions): Promise<ResidualKernel> {
  const kernel = await ctx.prepare(residualSpec(options));
  return new ResidualKernel(options, kernel, ctx.limits.maxComputeWorkgroupsPerDimension);
}

// ---------------------------------------------------------------------------
// float64 references

/** out = x + a·f. */
export function residualAddRef(x: ArrayLike<number>, f: ArrayLike<number>, a: number): Float64Array {
  return Float64Array.from(x, (v, i) => v + a * f[i]);
}

/** dz = a·dh·φ'(z) with φ' read from f = φ(z). */
export function residualBranchRef(dh: ArrayLike<number>, f: ArrayLike<number>, a: number, activation: Activation): Float64Array {
  return Float64Array.from(dh, (v, i) => a * v * activationGradFromOutputRef(activation, f[i]));
}
