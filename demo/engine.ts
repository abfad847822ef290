/**
 * The one place the page imports the engine from: the library's public API
 * (src/index.ts), the few config helpers it does not re-export, and the
 * benchmark suite (bench/), which the Kernels view runs as `gradstorm bench` does.
 */
export * from '../src/index.ts';
export { formatClip, INITS, LOSSES, NORMS, NORM_PLACES, OPTIMIZERS, type InitScheme, type LossKind, type NormKind, type NormPlace, type OptimizerKind } from '../src/models/config.ts';
export type { ConformanceFamily } from '../src/conformance/index.ts';
export { LOSS_AT, RNN_DEFAULTS, RNN_INITS, RNN_TASKS, bpttSteps, taskLoss, validateRnnConfig, type LossAt, type RnnConfig, type RnnInit, type RnnTask } from '../src/models/rnn.ts';
export { rnnPrediction, type RnnPrediction } from '../src/scheduler/rnn-run.ts';
export type { RnnStepStats } from '../src/scheduler/rnn-trainer.ts';
export { RNN_VARIANTS, type RnnVariant } from '../src/kernels/rnn.ts';
// The benchmark suite (the Kernels view): browser-safe, as `gradstorm bench` runs it.
export { runBenchSuite, type BenchEvent } from '../bench/suite.ts';
export {
  BENCH_KERNELS,
  DEFAULT_BENCH_VARIANTS,
  DEFAULT_ELEMENT_COUNTS,
  DEFAULT_MAX_SECONDS,
  DEFAULT_RUNS,
  DEFAULT_SQUARE_SIZES,
  MODEL_SHAPES,
  PLAIN_JS_MAX_SIZE,
  TUNED_VARIANT,
  benchTuningUses,
  benchVariantNames,
  defaultBenchPlan,
  parseMatmulShape,
  type BenchKernel,
  type BenchPlan,
  type MatmulShape,
} from '../bench/plan.ts';
export { benchTables, type BenchTable } from '../bench/table.ts';
export { BASELINE_VARIANTS, BENCH_SCHEMA, computeRatios, validateBenchReport, type BaselineVariant, type BenchReport } from '../bench/report.ts';
export type { Tfjs } from '../bench/tfjs-baseline.ts';
// The page keys its saved benchmark report like the tuning table (the library exports the rest of the autotuner).
export { shortHash } from '../src/tune/tuner.ts';
