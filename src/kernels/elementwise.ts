import { ELEMENTWISE_ITEMS_PER_INVOCATION, elementwiseShader, type ElementwiseShaderOptions } from '../../shaders/elementwise.wgsl.ts';
import type { Activation } from '../../shaders/activation.wgsl.ts';
import type { BufferBinding, Dispatch, GpuContext, PreparedKernel } from '../gpu/context.ts';
import { ceilDiv, linearGrid, type KernelSpec } from './spec.ts';

export { ACTIVATIONS, type Activation } from '../../shaders/activation.wgsl.ts';

const WORKGROUP = 256;
type ElementwiseUniforms = { count: 'u32' };

export function elementwiseSpec(o: ElementwiseShaderOptions): KernelSpec<ElementwiseUniforms> {
  const forward = o.direction === 'forward';
  const type = o.vector ? 'array<vec4<f32>>' : 'array<f32>';
  return {
    key: `elementwise/${o.activation}/${o.direction}${o.vector ? '/vec4' : ''}`,
    label: `${o.activation}.${o.direction}${o.vector ? '.vec4' : ''}`,
    entryPoint: 'main',
    uniforms: { count: 'u32' },
    storage: forward
      ? [
          { name: 'x', access: 'read', type },
          { name: 'y', access: 'read_write', type },
        ]
      : [
          { name: 'dy', access: 'read', type },
          { name: 'z', access: 'read', type },
          { name: 'dx', access: 'read_write', type },
        ],
    workgroupSize: [WORKGROUP, 1, 1],
    workgroupBytes: 0,
    body: elementwiseShader(o),
  };
}

/** Whether every binding starts on a 16-byte boundary, as a vec4 view of it must. */
function vec4Aligned(buffers: Readonly<Record<string, BufferBinding>>): boolean {
  return Object.values(buffers).every((b) => !('buffer' in b) || (b.offset ?? 0) % 16 === 0);
}

/**
 * An activation, forward or backward, compiled for this device: `bind(count,
 * buffers)` records a reusable {@link Dispatch} (the vec4 form where counts and
 * offsets are multiples of 4, else the scalar form). Made by {@link prepareElementwise}.
 */
export class ElementwiseKernel {
  constructor(
    readonly options: ElementwiseShaderOptions,
    private readonly scalar: PreparedKernel<ElementwiseUniforms>,
    private readonly vector: PreparedKernel<ElementwiseUniforms> | null,
    private readonly maxPerDimension: number,
  ) {}

  /** Whether `bind` runs four elements per invocation for this count (a multiple of 4, bindings 16-byte aligned). */
  usesVec4(count: number, buffers: Readonly<Record<string, BufferBinding>>): boolean {
    return this.vector !== null && count % 4 === 0 && vec4Aligned(buffers);
  }

  /** forward: {x, y}; backward: {dy, z, dx}. */
  bind(count: number, buffers: Readonly<Record<string, BufferBinding>>): Dispatch {
    if (!Number.isInteger(count) || count < 1) throw new Error(`${this.scalar.spec.label}: count ${count} must be ≥ 1`);
    if (this.vector && this.usesVec4(count, buffers)) {
      const quads = count / 4;
      return this.vector.bind({ count: quads }, buffers, linearGrid(ceilDiv(quads, ELEMENTWISE_ITEMS_PER_INVOCATION), WORKGROUP, this.maxPerDimension));
    }
    return this.scalar.bind({ count }, buffers, linearGrid(ceilDiv(count, ELEMENTWISE_ITEMS_PER_INVOCATION), WORKGROUP, this.maxPerDimension));
  }
}

/**
 * The kernel for one activation and direction. By default it holds both forms
 * and binds the vec4 one where it can; `vector: false` keeps one element per
 * invocation everywhere (the bench's reference point).
 */
export async function prepareElementwise(ctx: GpuContext, options: ElementwiseShaderOptions): Promise<ElementwiseKernel> {
  const scalar = await ctx.prepare(elementwiseSpec({ ...options, vector: false }));
  const vector = options.vector === false ? null : await ctx.prepare(elementwiseSpec({ ...options, vector: true }));
  return new ElementwiseKernel(options, scalar, vector, ctx.limits.maxComputeWorkgroupsPerDimension);
}

// ---------------------------------------------------------------------------
// float64 references

/** φ(z) in float64: the reference of the forward elementwise kernel. */
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
