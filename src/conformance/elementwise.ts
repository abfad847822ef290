import { ACTIVATIONS, activationGradRef, activationRef, prepareElementwise, type Activation } from '../kernels/elementwise.ts';
import type { GpuContext } from '../gpu/context.ts';
import type { ConformanceCase } from './case.ts';
import { compareClose, describeReport } from './compare.ts';
import { gaussianData } from './data.ts';

/**
 * relu and linear are exact in f32 (the GPU must match bit for bit, including
 * relu'(0) = 0); tanh and its derivative go through the adapter's tanh, whose
 * WGSL accuracy is implementation-defined: we hold it to 4e-7 absolute plus
 * 8 ulps relative, tight enough to catch a wrong formula or a NaN at large |z|.
 */
export function elementwiseTolerance(activation: Activation): { atol: number; rtol: number } {
  return activation === 'tanh' ? { atol: 4e-7, rtol: 8 * 2 ** -24 } : { atol: 0, rtol: 0 };
}

/** Inputs with the edge cases each activation has: exact zeros, ±large, tiny. */
function inputs(count: number, seed: number): Float32Array {
  const x = gaussianData(count, seed, 3);
  const specials = [0, -0, 1e-30, -1e-30, 40, -40, 1e30, -1e30, 15, -15, 0.5];
  for (let i = 0; i < Math.min(count, specials.length); i++) x[(i * 7919) % count] = specials[i];
  return x;
}

export function elementwiseCase(activation: Activation, direction: 'forward' | 'backward', count: number): ConformanceCase {
  const tolerance = elementwiseTolerance(activation);
  return {
    family: 'elementwise',
    kernel: `${activation}.${direction}`,
    // Counts that are multiples of 4 run the vec4 form (prepareElementwise binds it where it can).
    shape: count % 4 === 0 ? `${count} vec4` : `${count}`,
    contract: tolerance.atol === 0 ? 'exact' : `|Δ| ≤ ${tolerance.atol} + 8·2⁻²⁴·|ref|`,
    async run(ctx: GpuContext) {
      const z = inputs(count, count * 31 + activation.length);
      const dy = gaussianData(count, count * 17 + 5);
      const kernel = await prepareElementwise(ctx, { activation, direction });
      const out = ctx.createStorage('out', count * 4);
      const zBuffer = ctx.upload('z', z);
      const dyBuffer = ctx.upload('dy', dy);
      try {
        const buffers: Record<string, GPUBuffer> = direction === 'forward' ? { x: zBuffer, y: out } : { dy: dyBuffer, z: zBuffer, dx: out };
        await ctx.run([kernel.bind(count, buffers)]);
        const gpu = await ctx.readF32(out, count);
        const ref = Float64Array.from(z, (v, i) =>
          direction === 'forward' ? activationRef(activation, v) : dy[i] * activationGradRef(activation, v),
        );
        // The exact activations are compared after rounding the reference to f32.
        const expected = tolerance.atol === 0 ? Float32Array.from(ref) : ref;
        const report = compareClose(gpu, expected, tolerance);
        return { ok: report.ok, maxError: report.maxAbsError, detail: report.ok ? '' : describeReport(report) };
      } finally {
        out.destroy();
        zBuffer.destroy();
        dyBuffer.destroy();
      }
    },
  };
}

/**
 * 1, odd, just past a workgroup, a count that needs a 2-D grid (> 65535·256),
 * and multiples of 4 (the vec4 form: one quad, and a million elements).
 */
export const ELEMENTWISE_COUNTS = [1, 4, 7, 257, 65_537, 1_000_003, 1_000_004];

export function elementwiseCases(): ConformanceCase[] {
  return ACTIVATIONS.flatMap((activation) =>
    (['forward', 'backward'] as const).flatMap((direction) =>
      ELEMENTWISE_COUNTS.map((count) => elementwiseCase(activation, direction, count)),
    ),
  );
}
