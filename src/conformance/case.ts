import type { GpuContext } from '../gpu/context.ts';

/**
 * One conformance case: a kernel on one shape against its float64 reference.
 * The same cases run in vitest (tests/gpu/*.test.ts), in `gradstorm check` on a
 * user's adapter, and in the demo's self-test.
 */
export interface ConformanceCase {
  /** Kernel family: matmul, elementwise, reduce, init. */
  family: string;
  /** What runs, e.g. `matmul nt register bias+relu`. */
  kernel: string;
  /** The shape, e.g. `129×65×33`. */
  shape: string;
  /** The accuracy contract in words, e.g. `|Δ| ≤ 1e-6 + (K+2)·2⁻²⁴·Σ|a||b|`. */
  contract: string;
  run(ctx: GpuContext): Promise<CaseResult>;
}

export interface CaseResult {
  ok: boolean;
  /** Largest |gpu − ref| (or the case's own error measure, named in `contract`). */
  maxError: number;
  /** Why it failed (worst element, GPU value next to the accepted interval); '' when ok. */
  detail: string;
}

export function caseName(c: ConformanceCase): string {
  return `${c.kernel} ${c.shape}`;
}
