import { elementwiseShader, type ElementwiseShaderOptions } from '../../shaders/elementwise.wgsl.ts';
import type { Activation } from '../../shaders/activation.wgsl.ts';
import type { BufferBinding, Dispatch, GpuContext, PreparedKernel } from '../gpu/context.ts';
import { linearGrid, type KernelSpec } from './spec.ts';

export { ACTIVATIONS, type Activation } from '../../shaders/activation.wgsl.ts';

const WORKGROUP = 256;
type ElementwiseUniforms = { count: 'u32' };

export function elementwiseSpec(o: ElementwiseShaderOptions): KernelSpec<ElementwiseUniforms> {
  const forward = o.direction === 'forward';
  return {
    key: `elementwise/${o.activation}/${o.direction}`,
    label: `${o.activation}.${o.direction}`,
    entryPoint: 'main',
    uniforms: { count: 'u32' },
    storage: forward
      ? [
          { name: 'x', access: 'read', type: 'array<f32>' },
          { name: 'y', access: 'read_write', type: 'array<f32>' },
        ]
      : [
          { name: 'dy', access: 'read', type: 'array<f32>' },
          { name: 'z', access: 'read', type: 'array<f32>' },
          { name: 'dx', access: 'read_write', type: 'array<f32>' },
        ],
    workgroupSize: [WORKGROUP, 1, 1],
    workgroupBytes: 0,
    body: elementwiseShader(o),
  };
}

export class ElementwiseKernel {
  constructor(
    readonly options: ElementwiseShaderOptions,
    private readonly prepared: PreparedKernel<ElementwiseUniforms>,
    private readonly maxPerDimension: number,
  ) {}

  /** forward: {x, y}; backward: {dy, z, dx}. */
  bind(count: number, buffers: Readonly<Record<string, BufferBinding>>): Dispatch {
    if (!Number.isInteger(count) || count < 1) throw new Error(`${this.prepared.spec.label}: count ${count} must be ≥ 1`);
    return this.prepared.bind({ count }, buffers, linearGrid(count, WORKGROUP, this.maxPerDimension));
  }
}

export async function prepareElementwise(ctx: GpuContext, options: ElementwiseShaderOptions): Promise<ElementwiseKernel> {
  const prepared = await ctx.prepare(elementwiseSpec(options));
  return new ElementwiseKernel(options, prepared, ctx.limits.maxComputeWorkgroupsPerDimension);
}

// ---------------------------------------------------------------------------
// float64 references

export function activationRef(activation: Activation, z: number): number {
  if (activation === 'relu') return z > 0 ? z : 0;
  if (activation === 'tanh') return Math.tanh(z);
  return z;
}

/** φ'(z); relu'(0) = 0 as in PyTorch. */
export function activationGradRef(activation: Activation, z: number): number {
  if (activation === 'relu') return z > 0 ? 1 : 0;
  if (activation === 'tanh') {
    const h = Math.tanh(z);
    return 1 - h * h;
  }
  return 1;
}

/** φ'(z) written in terms of h = φ(z), as the fused matmul epilogue computes it. */
export function activationGradFromOutputRef(activation: Activation, h: number): number {
  if (activation === 'relu') return h > 0 ? 1 : 0;
  if (activation === 'tanh') return 1 - h * h;
  return 1;
}
