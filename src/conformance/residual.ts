import { ACTIVATIONS, activationRef, type Activation } from '../kernels/elementwise.ts';
import { prepareResidual, residualAddRef, residualBranchRef } from '../kernels/residual.ts';
import type { GpuContext } from '../gpu/context.ts';
import type { ConformanceCase } from './case.ts';
import { compareClose, describeReport } from './compare.ts';
import { gaussianData } from './data.ts';

/**
 * The residual kernels (src/kernels/residual.ts). add: x + a·f is at most two
 * f32 roundings, |Δ| ≤ 2⁻²³·(|x| + |a·f|). branch: a·dh·φ′ with φ′ from the
 * output (relu, linear exact; tanh 1 − f², two more roundings), |Δ| ≤
 * 4·2⁻²⁴·|a·dh|. The scale is the size of the terms, not of the result, so
 * cancellation in x + a·f is allowed for.
 */
const A = -0.37;

export function residualCase(op: 'add' | 'branch', activation: Activation, count: number): ConformanceCase {
  return {
    family: 'residual',
    kernel: op === 'add' ? 'residual.add' : `residual.branch.${activation}`,
    shape: `${count}`,
    contract: op === 'add' ? '|Δ| ≤ 2⁻²³·(|x| + |a·f|)' : '|Δ| ≤ 4·2⁻²⁴·|a·dh|',
    async run(ctx: GpuContext) {
      const x = gaussianData(count, count * 13 + 1);
      // f is an activation's output (what the branch kernel reads φ′ from).
      const f = Float32Array.from(gaussianData(count, count * 7 + 2, 2), (v) => activationRef(activation, v));
      const kernel = await prepareResidual(ctx, op === 'add' ? { op } : { op, activation });
      const out = ctx.createStorage('out', count * 4);
      const xBuffer = ctx.upload('x', x);
      const fBuffer = ctx.upload('f', f);
      try {
        const buffers: Record<string, GPUBuffer> = op === 'add' ? { x: xBuffer, f: fBuffer, out } : { dh: xBuffer, f: fBuffer, dz: out };
        await ctx.run([kernel.bind({ count, a: A }, buffers)]);
        const gpu = await ctx.readF32(out, count);
        const ref = op === 'add' ? residualAddRef(x, f, A) : residualBranchRef(x, f, A, activation);
        const scale = op === 'add' ? Float64Array.from(x, (v, i) => Math.abs(v) + Math.abs(A * f[i])) : Float64Array.from(x, (v) => Math.abs(A * v));
        const report = compareClose(gpu, ref, { atol: 0, rtol: op === 'add' ? 2 ** -23 : 4 * 2 ** -24 }, scale);
        return { ok: report.ok, maxError: report.maxAbsError, detail: report.ok ? '' : describeReport(report) };
      } finally {
        out.destroy();
        xBuffer.destroy();
        fBuffer.destroy();
      }
    },
  };
}

/** 1, odd, just past a workgroup, and a count that needs a 2-D grid is covered by the elementwise family's geometry (the same linearGrid). */
export const RESIDUAL_COUNTS = [1, 7, 257, 1031];

export function residualCases(): ConformanceCase[] {
  return [
    ...RESIDUAL_COUNTS.map((count) => residualCase('add', 'linear', count)),
    ...ACTIVATIONS.flatMap((activation) => RESIDUAL_COUNTS.map((count) => residualCase('branch', activation, count))),
  ];
}
