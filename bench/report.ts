/**
 * The benchmark report, schema gradstorm.bench/1 (README.md, "bench"): what
 * gradstorm measured (entries), what the baselines measured on the same
 * adapter in the same run (baselines), their ratios, and what was not run
 * and why (skipped). The schema itself is in src/report/schema.ts (zod,
 * with the other reports'); validateBenchReport says what is wrong with one.
 */
import type { Measurement, TimingSource } from './measure.ts';
import { speedup } from './stats.ts';
import { BASELINE_VARIANT_NAMES, BENCH_SCHEMA_NAME, validateReport } from '../src/report/schema.ts';

export const BENCH_SCHEMA = BENCH_SCHEMA_NAME;

export const BASELINE_VARIANTS = BASELINE_VARIANT_NAMES;
export type BaselineVariant = (typeof BASELINE_VARIANTS)[number];

interface Timed {
  /** What ran: `matmul.nt`, `relu.forward`, `reduce.norm`, `mlp.step`, `rnn.step`, … */
  kernel: string;
  /** `M×N×K` for matmuls, the element count for bandwidth kernels, the model's size for steps. */
  shape: string;
  variant: string;
  /** Median milliseconds per run. */
  ms: number;
  minMs: number;
  maxMs: number;
  runs: number;
  /** Repeats of the work per timed sample (one submit of that many dispatches, or that many ops or steps back to back). */
  repeat: number;
  gflops?: number;
  gbps?: number;
  timing: TimingSource;
  /** Context for the table: which model a shape belongs to, dispatches per step. */
  note?: string;
}

export interface BenchEntry extends Timed {
  /**
   * Largest |gpu − float64| over the checked elements (relative for norms).
   * null where the bench does not check (training steps: `gradstorm check`
   * and the tests do), or where the result was not finite (withinTolerance
   * is then false).
   */
  maxError: number | null;
  /** Every checked element within the kernel's accuracy contract (absent when not checked). */
  withinTolerance?: boolean;
}

export interface BenchBaseline extends Timed {
  variant: BaselineVariant;
}

export interface BenchRatio {
  kernel: string;
  shape: string;
  /** The gradstorm entry's variant. */
  variant: string;
  baseline: BaselineVariant;
  /** Baseline median / gradstorm median: > 1 when gradstorm is faster. */
  speedup: number;
}

export interface BenchSkipped {
  kernel: string;
  shape: string;
  variant: string;
  /** Why it did not run: over the time budget (with the estimate), a baseline that could not start, … */
  reason: string;
}

export interface BenchAdapter {
  vendor: string;
  architecture: string;
  description: string;
  device: string;
  software: boolean;
  backend: string;
  timestampQuery: boolean;
}

/** The autotuner's choices the run used (absent when it ran without tuning). */
export interface BenchTuning {
  /** The tuning table's key: adapter, engine version, search space. */
  key: string;
  /** Where the table is kept (a file, a localStorage item), or null when it is not. */
  where: string | null;
  /** Per shape class the plan uses: the chosen tiling, its median ms at the proxy shape, and whether this run measured it (else it was loaded). */
  classes: { shapeClass: string; variant: string; ms: number; measured: boolean }[];
}

/** The report's `pytorch` field (gradstorm.bench/1, optional): the same step in PyTorch on the CPU, and gradstorm's time over it. */
export interface BenchPytorch {
  kernel: string;
  shape: string;
  /** 'PyTorch CPU (float32)'. */
  label: string;
  torchVersion: string;
  threads: number;
  /** Median, min and max ms per step over `runs` timed steps. */
  ms: number;
  minMs: number;
  maxMs: number;
  runs: number;
  /** gradstorm's median ms for the same step (absent when it did not run). */
  gradstormMs?: number;
  /** gradstormMs / ms: < 1 when gradstorm is faster than PyTorch on the CPU. */
  gradstormOverPytorch?: number;
}

export interface BenchReport {
  schema: typeof BENCH_SCHEMA;
  version: string;
  adapter: BenchAdapter;
  /** Timed samples per entry (--runs). */
  runs: number;
  /** The matmul section's time budget (--max-seconds). */
  maxSeconds: number;
  entries: BenchEntry[];
  baselines: BenchBaseline[];
  ratios: BenchRatio[];
  skipped: BenchSkipped[];
  tuning?: BenchTuning;
  /** The MLP step in PyTorch on the CPU (Node runtime, with python3 and torch); absent otherwise (skipped says why, when it was tried). */
  pytorch?: BenchPytorch;
}

/** The timing fields of an entry or a baseline, from a measurement. */
export function timedFields(m: Measurement): Pick<Timed, 'ms' | 'minMs' | 'maxMs' | 'runs' | 'repeat' | 'timing'> {
  return { ms: m.medianMs, minMs: m.minMs, maxMs: m.maxMs, runs: m.runs, repeat: m.repeat, timing: m.timing };
}

/** One ratio per (gradstorm entry, baseline) pair of the same kernel and shape. */
export function computeRatios(entries: readonly BenchEntry[], baselines: readonly BenchBaseline[]): BenchRatio[] {
  const ratios: BenchRatio[] = [];
  for (const e of entries) {
    for (const b of baselines) {
      if (b.kernel === e.kernel && b.shape === e.shape) {
        ratios.push({ kernel: e.kernel, shape: e.shape, variant: e.variant, baseline: b.variant, speedup: speedup(b.ms, e.ms) });
      }
    }
  }
  return ratios;
}

// ---------------------------------------------------------------------------
// validation

/**
 * null for a valid gradstorm.bench/1 report, else the first problem, starting
 * with its path (`entries[3].ms: expected > 0, got number -1`): the schema in
 * src/report/schema.ts, which the page and the library validate with too.
 */
export function validateBenchReport(report: unknown): string | null {
  if (typeof report !== 'object' || report === null || Array.isArray(report)) return `(report): a bench report must be a JSON object, got ${Array.isArray(report) ? 'an array' : JSON.stringify(report) ?? 'nothing'}`;
  const schema = (report as { schema?: unknown }).schema;
  if (schema !== BENCH_SCHEMA) return `schema: expected "${BENCH_SCHEMA}", got ${JSON.stringify(schema) ?? 'nothing'}`;
  const result = validateReport(report);
  return result.ok ? null : result.errors[0];
}
