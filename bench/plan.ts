/**
 * What a benchmark run measures: the kernels, the matmul sizes, shapes and
 * variants, the runs and the time budget, and the baselines. One plan drives
 * the CLI and the browser alike.
 */
import { MATMUL_LAYOUTS, MATMUL_VARIANTS, matmulVariantNames, type MatmulDims, type MatmulLayout, type MatmulVariant } from '../src/kernels/matmul.ts';
import { mlpMatmulUses, planMlp, type MatmulUse } from '../src/models/mlp.ts';
import { planRnn, rnnMatmulUses } from '../src/models/rnn.ts';
import { TUNED_VARIANT, mlpBenchConfig, rnnBenchConfig } from './models.ts';
import type { TuningStore } from '../src/tune/tuner.ts';
import type { Tfjs } from './tfjs-baseline.ts';

export const BENCH_KERNELS = ['matmul', 'relu', 'reduce', 'mlp-step', 'rnn'] as const;
export type BenchKernel = (typeof BENCH_KERNELS)[number];

/** A matmul at a named shape: C[M,N] = op(A)·op(B) in one layout. */
export interface MatmulShape {
  name: string;
  layout: MatmulLayout;
  dims: MatmulDims;
}

/** The MLP training step the bench times (and whose matmuls the model shapes are). */
export const BENCH_MLP = { depth: 50, width: 256, batch: 64 } as const;
/** The RNN BPTT step the bench times. */
export const BENCH_RNN = { seqLen: 200, width: 128, batch: 32 } as const;

/**
 * The matmuls of those two training steps (DESIGN.md's conventions: rows are
 * batch items, W is [out, in]). The weight gradients are the skinny ones: a
 * square output with K the batch (MLP) or all T·B rows (RNN).
 */
export const MODEL_SHAPES: readonly MatmulShape[] = [
  { name: 'mlp-forward', layout: 'nt', dims: { m: BENCH_MLP.batch, n: BENCH_MLP.width, k: BENCH_MLP.width } },
  { name: 'mlp-input-grad', layout: 'nn', dims: { m: BENCH_MLP.batch, n: BENCH_MLP.width, k: BENCH_MLP.width } },
  { name: 'mlp-weight-grad', layout: 'tn', dims: { m: BENCH_MLP.width, n: BENCH_MLP.width, k: BENCH_MLP.batch } },
  { name: 'rnn-step', layout: 'nt', dims: { m: BENCH_RNN.batch, n: BENCH_RNN.width, k: BENCH_RNN.width } },
  { name: 'rnn-weight-grad', layout: 'tn', dims: { m: BENCH_RNN.width, n: BENCH_RNN.width, k: BENCH_RNN.seqLen * BENCH_RNN.batch } },
];

/** What the model shapes are for, in the table. */
export const MODEL_SHAPE_ROLES: Readonly<Record<string, string>> = {
  'mlp-forward': 'MLP forward h·Wᵀ',
  'mlp-input-grad': 'MLP input grad dZ·W',
  'mlp-weight-grad': 'MLP weight grad dZᵀ·H',
  'rnn-step': 'RNN step h·Whhᵀ',
  'rnn-weight-grad': 'RNN weight grad over T·B rows',
};

/** The bench's name for the autotuner's choice (defined in models.ts, a leaf module, so nothing imports this plan back). */
export { TUNED_VARIANT };

/** Matmul variants the bench can time: a family, a named tiling, or the tuned choice. */
export function benchVariantNames(): string[] {
  return [...matmulVariantNames(), TUNED_VARIANT];
}

/** By default: both families at their default tilings, and the tuned choice. */
export const DEFAULT_BENCH_VARIANTS: readonly string[] = [...MATMUL_VARIANTS, TUNED_VARIANT];

export const DEFAULT_SQUARE_SIZES: readonly number[] = [256, 512, 1024, 2048, 4096];
/** Element counts of the bandwidth kernels (relu, the segment norm). */
export const DEFAULT_ELEMENT_COUNTS: readonly number[] = [1 << 20, 1 << 24];
/** Plain JS runs the square sizes up to this one (and within the budget): beyond it, minutes a run. */
export const PLAIN_JS_MAX_SIZE = 1024;
export const DEFAULT_MAX_SECONDS = 60;
export const DEFAULT_RUNS = 5;

export interface BenchPlan {
  kernels: readonly BenchKernel[];
  /** Square matmul sizes N (M = N = K), run from small to large within the budget. */
  sizes: readonly number[];
  /** Matmuls at given shapes (the model shapes by default), each in its own layout. */
  shapes: readonly MatmulShape[];
  /** Square sizes run in each of these layouts. */
  layouts: readonly MatmulLayout[];
  /** The matmul variants to time: names passed to prepareMatmul, or TUNED_VARIANT. */
  variants: readonly MatmulVariant[];
  /**
   * Autotune before timing: the shape classes the plan's matmuls and model
   * steps use are measured where the store lacks them (all with retune), and
   * the engine (TUNED_VARIANT, the MLP and RNN steps) uses the choices. null:
   * no search; TUNED_VARIANT and the RNN step use what ctx already has, the
   * MLP step the family default (defaultMatmulVariant).
   */
  /**
   * `recheck` (default true): a stored winner is timed again against the untuned default at the real
   * shape and the table saved — a measurement; the page's Kernels view passes false so that a stored
   * table runs without measuring (its Retune button measures).
   */
  tuning: { store: TuningStore | null; retune: boolean; recheck?: boolean } | null;
  /** Timed samples per entry, after a warm-up (the median is reported). */
  runs: number;
  /** Time budget of the matmul section in seconds (see budget.ts). */
  maxSeconds: number;
  elementCounts: readonly number[];
  /** TF.js's WebGPU backend for the baselines, or null for none. The caller loads it (Node and the browser differ). */
  loadTfjs: (() => Promise<Tfjs>) | null;
  /** Plain-JS matmul baselines for sizes up to PLAIN_JS_MAX_SIZE. */
  plainJs: boolean;
  /** The engine version recorded in the report. */
  version: string;
}

export function defaultBenchPlan(version: string): BenchPlan {
  return {
    kernels: BENCH_KERNELS,
    sizes: DEFAULT_SQUARE_SIZES,
    shapes: MODEL_SHAPES,
    layouts: MATMUL_LAYOUTS,
    variants: DEFAULT_BENCH_VARIANTS,
    tuning: { store: null, retune: false },
    runs: DEFAULT_RUNS,
    maxSeconds: DEFAULT_MAX_SECONDS,
    elementCounts: DEFAULT_ELEMENT_COUNTS,
    loadTfjs: null,
    plainJs: true,
    version,
  };
}

/** `M×N×K` (the shape string of the report). */
export function shapeName(d: MatmulDims): string {
  return `${d.m}×${d.n}×${d.k}`;
}

/**
 * A shape given on the command line or in the page: a model shape's name, or
 * `layout:MxNxK` (e.g. `tn:256x256x64`). Returns an error message for
 * anything else.
 */
export function parseMatmulShape(text: string): MatmulShape | string {
  const named = MODEL_SHAPES.find((s) => s.name === text);
  if (named) return named;
  const match = /^(nt|nn|tn):(\d+)[x×](\d+)[x×](\d+)$/.exec(text);
  if (!match) return `'${text}' is neither a model shape (${MODEL_SHAPES.map((s) => s.name).join(', ')}) nor layout:MxNxK (e.g. tn:256x256x64)`;
  const [m, n, k] = match.slice(2).map(Number);
  if (![m, n, k].every((v) => Number.isSafeInteger(v) && v >= 1 && v <= 65536)) return `'${text}': M, N and K must be integers in [1, 65536]`;
  const dims = { m, n, k };
  return { name: `${match[1]}:${shapeName(dims)}`, layout: match[1] as MatmulLayout, dims };
}

/**
 * The matmuls the plan runs on the engine's tuned kernels, for the
 * autotuner: the model shapes and square sizes (when TUNED_VARIANT is timed)
 * and every matmul of the MLP and RNN steps (when those are benched).
 */
export function benchTuningUses(plan: Pick<BenchPlan, 'kernels' | 'variants' | 'shapes' | 'sizes' | 'layouts'>): MatmulUse[] {
  const uses: MatmulUse[] = [];
  if (plan.kernels.includes('matmul') && plan.variants.includes(TUNED_VARIANT)) {
    for (const s of plan.shapes) uses.push({ layout: s.layout, shapes: [s.dims] });
    for (const n of plan.sizes) for (const layout of plan.layouts) uses.push({ layout, shapes: [{ m: n, n, k: n }] });
  }
  if (plan.kernels.includes('mlp-step')) {
    const config = mlpBenchConfig(BENCH_MLP);
    uses.push(...Object.values(mlpMatmulUses(planMlp(config), config.batch)));
  }
  if (plan.kernels.includes('rnn')) {
    const config = rnnBenchConfig(BENCH_RNN, 1);
    uses.push(...Object.values(rnnMatmulUses(planRnn(config), config)));
  }
  return uses;
}
