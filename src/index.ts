/**
 * gradstorm's library API: the same engine the CLI, the tests and the demo use.
 */
export { acquireGpu, type AcquireOptions } from './gpu/acquire.ts';
export { GpuContext, PreparedKernel, encodeDispatches, type AdapterSummary, type BufferBinding, type Dispatch } from './gpu/context.ts';
export { DeviceLostError, GpuKernelError, GpuLimitError, GpuUnavailableError } from './gpu/errors.ts';
export { StagingRing } from './gpu/staging.ts';
export { timeDispatches, type Timing } from './gpu/timer.ts';
export {
  MATMUL_LAYOUTS,
  MATMUL_TILING_NAMES,
  MATMUL_VARIANTS,
  MatmulKernel,
  defaultMatmulVariant,
  matmulShapeClass,
  matmulVariantNames,
  matmulReference,
  prepareMatmul,
  type MatmulDims,
  type MatmulLayout,
  type MatmulOptions,
  type MatmulVariant,
} from './kernels/matmul.ts';
export { ACTIVATIONS, ElementwiseKernel, activationGradRef, activationRef, prepareElementwise, type Activation } from './kernels/elementwise.ts';
export { conformanceCases, runConformance, type ConformanceCase, type ConformanceResult } from './conformance/index.ts';
export * from './analysis/index.ts';
export { runStress, type StressProgress } from './scheduler/run.ts';
export { MlpTrainer, type LayerStats, type StepStats } from './scheduler/mlp-trainer.ts';
export { MLP_DEFAULTS, validateMlpConfig, parseClip, ConfigError, type MlpConfig, type ClipConfig } from './models/config.ts';
export { planMlp, memoryPlan, describeMemory, mlpMatmulUses, type MatmulUse } from './models/mlp.ts';
export { buildRunReport, predictionFor, predictionRows, RUN_SCHEMA, type RunReport } from './report/run-report.ts';
export { runRnnStress, rnnPrediction, type RnnPrediction, type RnnRunReport } from './scheduler/rnn-run.ts';
export { RnnTrainer, type RnnStepStats } from './scheduler/rnn-trainer.ts';
export { RNN_VARIANTS, type RnnVariant } from './kernels/rnn.ts';
export {
  LOSS_AT,
  RNN_DEFAULTS,
  RNN_INITS,
  RNN_TASKS,
  bpttSteps,
  planRnn,
  rnnMatmulUses,
  validateRnnConfig,
  type LossAt,
  type RnnConfig,
  type RnnInit,
  type RnnTask,
} from './models/rnn.ts';
// The autotuner: per adapter, the fastest checked matmul tiling per shape class (prepareMatmul uses ctx's choices).
export {
  TUNING_SCHEMA,
  applyTuning,
  ensureTuned,
  localStorageTuningStore,
  parseTuningTable,
  tuningKey,
  type TunedCandidate,
  type TunedEntry,
  type TuningStore,
  type TuningTable,
} from './tune/tuner.ts';
export { ENGINE_VERSION } from './version.ts';
// Report schemas (zod), one per kind, and the validator the page and the tests read reports with.
export {
  BENCH_SCHEMA_NAME,
  CHECK_SCHEMA_NAME,
  DUMP_SCHEMA_NAME,
  INTERRUPTION_REASONS,
  MAX_REPORT_ERRORS,
  REPORT_SCHEMAS,
  RUN_SCHEMA_NAME,
  SWEEP_SCHEMA_NAME,
  benchReportSchema,
  checkReportSchema,
  dumpSchema,
  mlpRunReportSchema,
  reportJsonSchema,
  rnnRunReportSchema,
  runReportSchema,
  sweepReportSchema,
  validateReport,
  type BenchReportJson,
  type CheckReportJson,
  type DumpJson,
  type MlpRunReportJson,
  type ReportKind,
  type ReportValidation,
  type RnnRunReportJson,
  type SweepReportJson,
  type ValidatedReport,
} from './report/schema.ts';
