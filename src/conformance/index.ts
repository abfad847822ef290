import type { GpuContext } from '../gpu/context.ts';
import type { CaseResult, ConformanceCase } from './case.ts';
import { elementwiseCases } from './elementwise.ts';
import { matmulCases } from './matmul.ts';
import type { MatmulDeviceFeatures } from '../kernels/matmul.ts';
import { reduceCases } from './reduce.ts';
import { initCases } from './init.ts';
import { lossCases } from './loss.ts';
import { optimCases } from './optim.ts';
import { rnnCases } from './rnn.ts';
import { lstmCases } from './lstm.ts';
import { residualCases } from './residual.ts';
import { layerNormCases } from './layernorm.ts';

export type { CaseResult, ConformanceCase } from './case.ts';

/** The kernel families of the conformance suite (`gradstorm check --family`). */
export const CONFORMANCE_FAMILIES = ['matmul', 'elementwise', 'reduce', 'init', 'loss', 'optim', 'rnn', 'lstm', 'residual', 'layernorm'] as const;
/** One of {@link CONFORMANCE_FAMILIES}. */
export type ConformanceFamily = (typeof CONFORMANCE_FAMILIES)[number];

/**
 * The kernel conformance suite: every family's cases against float64
 * references. With `device` (a GpuContext), only the kernels it can run:
 * the subgroup matmul family needs the `subgroups` feature.
 */
export function conformanceCases(families: readonly ConformanceFamily[] = CONFORMANCE_FAMILIES, device?: MatmulDeviceFeatures): ConformanceCase[] {
  const byFamily: Record<ConformanceFamily, () => ConformanceCase[]> = {
    matmul: () => matmulCases(undefined, device),
    elementwise: () => elementwiseCases(),
    reduce: () => reduceCases(),
    init: () => initCases(),
    loss: () => lossCases(),
    optim: () => optimCases(),
    rnn: () => rnnCases(),
    lstm: () => lstmCases(),
    residual: () => residualCases(),
    layernorm: () => layerNormCases(),
  };
  return families.flatMap((f) => byFamily[f]());
}

/** One conformance case run on the GPU: the kernel, the shape, the accuracy contract, the largest error and whether it passed. */
export interface ConformanceResult extends CaseResult {
  family: string;
  kernel: string;
  shape: string;
  contract: string;
  ms: number;
}

/**
 * Runs cases one after another; a case that throws counts as a failure with
 * its message (a lost device stops the run, since nothing after it can pass).
 */
export async function runConformance(
  ctx: GpuContext,
  cases: readonly ConformanceCase[],
  onResult?: (result: ConformanceResult, index: number) => void,
): Promise<ConformanceResult[]> {
  const results: ConformanceResult[] = [];
  for (const [index, c] of cases.entries()) {
    const start = performance.now();
    let outcome: CaseResult;
    try {
      outcome = await c.run(ctx);
    } catch (error) {
      if (ctx.lostError) throw ctx.lostError;
      outcome = { ok: false, maxError: NaN, detail: (error as Error).message };
    }
    const result = { family: c.family, kernel: c.kernel, shape: c.shape, contract: c.contract, ...outcome, ms: performance.now() - start };
    results.push(result);
    onResult?.(result, index);
  }
  return results;
}
