/**
 * The benchmark report, schema gradstorm.bench/1 (README.md, "bench"): what
 * gradstorm measured (entries), what the baselines measured on the same
 * adapter in the same run (baselines), their ratios, and what was not run
 * and why (skipped). validateBenchReport checks a parsed report and says
 * what is wrong with one that is not.
 */
import type { Measurement, TimingSource } from './measure.ts';
import { speedup } from './stats.ts';

export const BENCH_SCHEMA = 'gradstorm.bench/1';

export const BASELINE_VARIANTS = ['tfjs-webgpu', 'plain-js'] as const;
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

type Check = (value: unknown) => string | null;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str: Check = (v) => (typeof v === 'string' && v.length > 0 ? null : 'a non-empty string');
const bool: Check = (v) => (typeof v === 'boolean' ? null : 'true or false');
const positive: Check = (v) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? null : 'a finite number > 0');
const count: Check = (v) => (Number.isInteger(v) && (v as number) >= 1 ? null : 'an integer ≥ 1');
const oneOf = (allowed: readonly string[]): Check => (v) => (allowed.includes(v as string) ? null : `one of ${allowed.join(', ')}`);
const optional = (check: Check): Check => (v) => (v === undefined ? null : check(v));
const anyString: Check = (v) => (typeof v === 'string' ? null : 'a string');
const errorOrNull: Check = (v) => (v === null || (typeof v === 'number' && v >= 0 && v !== Infinity) ? null : 'a finite number ≥ 0 or null');

const TIMED: Record<string, Check> = {
  kernel: str,
  shape: str,
  variant: str,
  ms: positive,
  minMs: positive,
  maxMs: positive,
  runs: count,
  repeat: count,
  gflops: optional(positive),
  gbps: optional(positive),
  timing: oneOf(['gpu-timestamps', 'wall-clock']),
  note: optional(str),
};

const SHAPES: Record<string, Record<string, Check>> = {
  adapter: { vendor: anyString, architecture: anyString, description: anyString, device: anyString, software: bool, backend: str, timestampQuery: bool },
  entries: { ...TIMED, maxError: errorOrNull, withinTolerance: optional(bool) },
  baselines: { ...TIMED, variant: oneOf(BASELINE_VARIANTS) },
  ratios: { kernel: str, shape: str, variant: str, baseline: oneOf(BASELINE_VARIANTS), speedup: positive },
  skipped: { kernel: str, shape: str, variant: str, reason: str },
  tuning: { key: str, where: (v) => (v === null ? null : str(v)) },
  tuningClasses: { shapeClass: str, variant: str, ms: positive, measured: bool },
};

function checkFields(path: string, value: unknown, fields: Record<string, Check>): string | null {
  if (!isObject(value)) return `${path} must be an object`;
  for (const [key, check] of Object.entries(fields)) {
    const problem = check(value[key]);
    if (problem) return `${path}.${key} must be ${problem}, got ${JSON.stringify(value[key]) ?? 'nothing'}`;
  }
  return null;
}

function checkTimed(path: string, value: Record<string, unknown>): string | null {
  const { minMs, ms, maxMs } = value as { minMs: number; ms: number; maxMs: number };
  if (!(minMs <= ms && ms <= maxMs)) return `${path}: expected minMs ≤ ms ≤ maxMs, got ${minMs} ≤ ${ms} ≤ ${maxMs}`;
  if (value.gflops !== undefined && value.gbps !== undefined) return `${path} has both gflops and gbps; a kernel is rated in one of them`;
  return null;
}

/** null for a valid gradstorm.bench/1 report, else the first problem, with its path (`entries[3].ms must be …`). */
export function validateBenchReport(report: unknown): string | null {
  if (!isObject(report)) return 'a bench report must be a JSON object';
  if (report.schema !== BENCH_SCHEMA) return `schema must be '${BENCH_SCHEMA}', got ${JSON.stringify(report.schema) ?? 'nothing'}`;
  const top = checkFields('report', report, { version: str, runs: count, maxSeconds: positive });
  if (top) return top;
  const adapter = checkFields('adapter', report.adapter, SHAPES.adapter);
  if (adapter) return adapter;
  for (const list of ['entries', 'baselines', 'ratios', 'skipped'] as const) {
    const items = report[list];
    if (!Array.isArray(items)) return `${list} must be an array, got ${JSON.stringify(items) ?? 'nothing'}`;
    for (const [i, item] of items.entries()) {
      const path = `${list}[${i}]`;
      const problem = checkFields(path, item, SHAPES[list]) ?? (list === 'entries' || list === 'baselines' ? checkTimed(path, item as Record<string, unknown>) : null);
      if (problem) return problem;
    }
  }
  if (report.tuning !== undefined) {
    const tuning = checkFields('tuning', report.tuning, SHAPES.tuning);
    if (tuning) return tuning;
    const classes = (report.tuning as Record<string, unknown>).classes;
    if (!Array.isArray(classes)) return `tuning.classes must be an array, got ${JSON.stringify(classes) ?? 'nothing'}`;
    for (const [i, item] of classes.entries()) {
      const problem = checkFields(`tuning.classes[${i}]`, item, SHAPES.tuningClasses);
      if (problem) return problem;
    }
  }
  return null;
}
