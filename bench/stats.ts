/**
 * The arithmetic of a benchmark: summaries of repeated timings, throughput
 * and the ratios against baselines. Pure functions, so they are unit-tested
 * and shared by the CLI and the browser.
 */

/** Summary of repeated timings: the median is what we report; min and max show the noise. */
export interface TimingSummary {
  medianMs: number;
  minMs: number;
  maxMs: number;
  runs: number;
}

export function summarize(samplesMs: readonly number[]): TimingSummary {
  if (samplesMs.length === 0) throw new Error('summarize: no samples');
  const sorted = [...samplesMs].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  const medianMs = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { medianMs, minMs: sorted[0], maxMs: sorted[sorted.length - 1], runs: sorted.length };
}

/** Floating-point operations of an M×N×K matmul: one multiply and one add per term. */
export function matmulFlops(m: number, n: number, k: number): number {
  return 2 * m * n * k;
}

/** GFLOP/s of an M×N×K matmul taking `ms`. */
export function matmulGflops(m: number, n: number, k: number, ms: number): number {
  return matmulFlops(m, n, k) / (ms * 1e6);
}

/** GB/s of a kernel that must move `bytes` (each read and write counted once) in `ms`. */
export function gbps(bytes: number, ms: number): number {
  return bytes / (ms * 1e6);
}

/** How many times faster the measured time is than the baseline's (> 1: faster than the baseline). */
export function speedup(baselineMs: number, ms: number): number {
  return baselineMs / ms;
}
