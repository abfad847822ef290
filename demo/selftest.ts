/**
 * `?selftest`: the kernel conformance suite (every kernel against its
 * float64 reference, the same cases as `gradstorm check`) on the page's own
 * adapter, reduced to small shapes so that it finishes in a minute or two on
 * SwiftShader. Results are published on `window.__gradstormSelfTest`.
 */
import { conformanceCases, defaultMatmulVariant, runConformance, type ConformanceCase, type ConformanceResult, type GpuContext, type MatmulVariant } from './engine.ts';

/** Largest number in a case's shape text the reduced suite keeps (elements, segments, pairs). */
export const SELFTEST_MAX_COUNT = 70_000;
/** Largest m·n·k of a matmul case the reduced suite keeps (129×65×33 stays, 257³ goes). */
export const SELFTEST_MAX_MATMUL = 300_000;

/**
 * The reduced suite: every kernel on the small shapes only; with `matmulVariant`,
 * only that matmul variant (on a software adapter the page runs just its
 * default variant: compiling the others' pipelines costs half a minute there).
 */
export function selfTestCases(options: { matmulVariant?: MatmulVariant } = {}, all: readonly ConformanceCase[] = conformanceCases()): ConformanceCase[] {
  return all.filter((c) => {
    if (c.family === 'matmul' && options.matmulVariant && !c.kernel.split(' ').includes(options.matmulVariant)) return false;
    const numbers = (c.shape.match(/\d+/g) ?? []).map(Number);
    if (numbers.some((n) => n > SELFTEST_MAX_COUNT)) return false;
    if (c.family === 'matmul') {
      const dims = c.shape.split('×').map(Number);
      if (dims.every(Number.isFinite) && dims.reduce((a, b) => a * b, 1) > SELFTEST_MAX_MATMUL) return false;
    }
    return true;
  });
}

export interface SelfTestState {
  done: boolean;
  passed: number;
  failed: number;
  total: number;
  results: ConformanceResult[];
  /** Which cases ran, in words. */
  scope: string;
  /** Set when the run itself stopped (device lost). */
  error?: string;
  ms: number;
}

export async function runSelfTest(ctx: GpuContext, onProgress: (state: SelfTestState) => void): Promise<SelfTestState> {
  const cases = selfTestCases(ctx.summary.software ? { matmulVariant: defaultMatmulVariant(ctx.summary) } : {}, conformanceCases(undefined, ctx));
  const start = performance.now();
  const scope = ctx.summary.software
    ? `${cases.length} small-shape cases, matmul variant ${defaultMatmulVariant(ctx.summary)} (the one this adapter runs)`
    : `${cases.length} small-shape cases, every matmul variant`;
  const state: SelfTestState = { done: false, passed: 0, failed: 0, total: cases.length, results: [], scope, ms: 0 };
  onProgress(state);
  try {
    await runConformance(ctx, cases, (result) => {
      state.results.push(result);
      if (result.ok) state.passed++;
      else state.failed++;
      state.ms = performance.now() - start;
      onProgress(state);
    });
  } catch (error) {
    state.error = (error as Error).message;
    state.failed += state.total - state.results.length;
  }
  state.done = true;
  state.ms = performance.now() - start;
  onProgress(state);
  return state;
}
