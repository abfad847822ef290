import { layerNormBackwardRef, layerNormForwardRef, prepareLayerNorm } from '../kernels/layernorm.ts';
import type { GpuContext } from '../gpu/context.ts';
import type { ConformanceCase } from './case.ts';
import { compareClose, describeReport } from './compare.ts';
import { gaussianData } from './data.ts';

/**
 * LayerNorm against float64. Each output is a short chain of f32 sums over
 * the row (μ, the variance, mean(g), mean(g·x̂)) or the column (dγ, dβ), so
 * the contract is the classic sum bound with room for the chain:
 * |Δ| ≤ 4·(n + rows + 8)·2⁻²⁴·scale, where scale is the size of the terms
 * (forward |γ|·(|x̂| + 1) + |β|; dx r·(|g| + mean|g| + |x̂|·mean|g·x̂|);
 * dγ Σ|dy·x̂|; dβ Σ|dy|), not of the result.
 */
export function layerNormCase(rows: number, n: number): ConformanceCase {
  const rtol = 4 * (n + rows + 8) * 2 ** -24;
  return {
    family: 'layernorm',
    kernel: 'layernorm',
    shape: `${rows}×${n}`,
    contract: '|Δ| ≤ 4·(n + rows + 8)·2⁻²⁴·Σ|terms|',
    async run(ctx: GpuContext) {
      const x = gaussianData(rows * n, rows * 31 + n, 2);
      // An offset row mean, as activations have: the variance must not be E[x²] − μ².
      for (let i = 0; i < x.length; i++) x[i] += 3;
      const gamma = gaussianData(n, n + 5);
      const beta = gaussianData(n, n + 6);
      const dy = gaussianData(rows * n, rows + n * 3);
      const [forward, backward, params] = [await prepareLayerNorm(ctx, 'forward'), await prepareLayerNorm(ctx, 'backward'), await prepareLayerNorm(ctx, 'params')];
      const b = {
        x: ctx.upload('x', x),
        gamma: ctx.upload('gamma', gamma),
        beta: ctx.upload('beta', beta),
        dy: ctx.upload('dy', dy),
        y: ctx.createStorage('y', rows * n * 4),
        stats: ctx.createStorage('stats', rows * 8),
        dx: ctx.createStorage('dx', rows * n * 4),
        dgamma: ctx.createStorage('dgamma', n * 4),
        dbeta: ctx.createStorage('dbeta', n * 4),
      };
      try {
        await ctx.run([
          forward.bind({ rows, n }, { x: b.x, gamma: b.gamma, beta: b.beta, y: b.y, stats: b.stats }),
          backward.bind({ rows, n }, { dy: b.dy, x: b.x, gamma: b.gamma, stats: b.stats, dx: b.dx }),
          params.bind({ rows, n }, { dy: b.dy, x: b.x, stats: b.stats, dgamma: b.dgamma, dbeta: b.dbeta }),
        ]);
        const fwd = layerNormForwardRef(x, gamma, beta, rows, n);
        const bwd = layerNormBackwardRef(dy, x, gamma, rows, n);
        const xhat = Float64Array.from(x, (v, i) => (v - fwd.mean[Math.floor(i / n)]) * fwd.rstd[Math.floor(i / n)]);
        const g = Float64Array.from(dy, (v, i) => v * gamma[i % n]);
        const rowMean = (f: (i: number) => number, r: number) => {
          let s = 0;
          for (let j = 0; j < n; j++) s += Math.abs(f(r * n + j));
          return s / n;
        };
        const checks: [string, Float32Array, ArrayLike<number>, Float64Array][] = [
          ['y', await ctx.readF32(b.y, rows * n), fwd.y, Float64Array.from(xhat, (v, i) => Math.abs(gamma[i % n]) * (Math.abs(v) + 1) + Math.abs(beta[i % n]))],
          [
            'dx',
            await ctx.readF32(b.dx, rows * n),
            bwd.dx,
            Float64Array.from(g, (v, i) => {
              const r = Math.floor(i / n);
              return fwd.rstd[r] * (Math.abs(v) + rowMean((k) => g[k], r) + Math.abs(xhat[i]) * rowMean((k) => g[k] * xhat[k], r));
            }),
          ],
          ['dgamma', await ctx.readF32(b.dgamma, n), bwd.dgamma, Float64Array.from({ length: n }, (_, j) => Array.from({ length: rows }, (_, r) => Math.abs(dy[r * n + j] * xhat[r * n + j])).reduce((s, v) => s + v, 0) + 1e-30)],
          ['dbeta', await ctx.readF32(b.dbeta, n), bwd.dbeta, Float64Array.from({ length: n }, (_, j) => Array.from({ length: rows }, (_, r) => Math.abs(dy[r * n + j])).reduce((s, v) => s + v, 0))],
        ];
        let maxError = 0;
        const failures: string[] = [];
        for (const [name, gpu, ref, scale] of checks) {
          const report = compareClose(gpu, ref, { atol: 0, rtol }, scale);
          maxError = Math.max(maxError, report.maxAbsError);
          if (!report.ok) failures.push(`${name}: ${describeReport(report)}`);
        }
        return { ok: failures.length === 0, maxError, detail: failures.join('; ') };
      } finally {
        for (const buffer of Object.values(b)) buffer.destroy();
      }
    },
  };
}

/** Rows × n: one element, odd sizes, rows one short of, exactly and one past the workgroup (64), and wide ones. */
export const LAYERNORM_SHAPES: readonly [number, number][] = [
  [1, 1],
  [3, 7],
  [4, 63],
  [5, 64],
  [6, 65],
  [2, 257],
  [9, 1031],
];

export function layerNormCases(): ConformanceCase[] {
  return LAYERNORM_SHAPES.map(([rows, n]) => layerNormCase(rows, n));
}
