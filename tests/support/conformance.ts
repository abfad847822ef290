import { expect, it } from 'vitest';
import { caseName, type ConformanceCase } from '../../src/conformance/case.ts';
import { testGpu } from './gpu.ts';

/**
 * One vitest test per conformance case (the same cases `gradstorm check`
 * runs): the case must pass its float64 contract, and the device must report
 * no uncaptured error.
 */
export function itPassesEachCase(cases: readonly ConformanceCase[]): void {
  it.each(cases.map((c) => [caseName(c), c] as const))('%s', async (_name, c) => {
    const ctx = await testGpu();
    const result = await c.run(ctx);
    expect(result.detail).toBe('');
    expect(result.ok).toBe(true);
    expect(ctx.takeUncapturedErrors()).toEqual([]);
  });
}
