/**
 * The time budget of the matmul sweep (--max-seconds). Every runner (a
 * gradstorm variant at a layout, or a baseline at a layout) predicts the cost
 * of its next cell from its own throughput measured on its previous cell —
 * time ∝ flops — and a cell that would carry the sweep past the budget is
 * skipped, with its estimate, instead of run. A runner's first cell has no
 * prediction and always runs; the sweep orders cells from small to large, so
 * that first cell is cheap.
 */
import { MIN_SAMPLE_MS } from './measure.ts';

export type BudgetDecision = { run: true; estimateMs: number | null } | { run: false; estimateMs: number; leftMs: number };

/** Predicted wall time of a cell: a warm-up, `runs` samples (each at least MIN_SAMPLE_MS) and the check (≈ one more run). */
export function cellEstimateMs(gflops: number, flops: number, runs: number, minSampleMs = MIN_SAMPLE_MS): number {
  const onceMs = flops / (gflops * 1e6);
  return 2 * onceMs + runs * Math.max(onceMs, minSampleMs);
}

export class BenchBudget {
  private readonly started: number;
  private readonly throughput = new Map<string, number>();

  constructor(
    readonly budgetMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.started = now();
  }

  get elapsedMs(): number {
    return this.now() - this.started;
  }

  /** Records a runner's measured median on a cell of `flops`. */
  record(runner: string, flops: number, ms: number): void {
    if (ms > 0) this.throughput.set(runner, flops / (ms * 1e6));
  }

  /** The runner's last measured GFLOP/s, if any. */
  gflops(runner: string): number | undefined {
    return this.throughput.get(runner);
  }

  decide(runner: string, flops: number, runs: number): BudgetDecision {
    const gflops = this.throughput.get(runner);
    if (gflops === undefined) return { run: true, estimateMs: null };
    const estimateMs = cellEstimateMs(gflops, flops, runs);
    const leftMs = this.budgetMs - this.elapsedMs;
    return estimateMs <= leftMs ? { run: true, estimateMs } : { run: false, estimateMs, leftMs: Math.max(0, leftMs) };
  }
}
