// The public types use WebGPU's (GPUDevice, GPUBuffer, …): consumers get them from @webgpu/types, a dependency.
/// <reference types="@webgpu/types" preserve="true" />
/**
 * gradstorm's library API (`import … from 'gradstorm'`): the same engine the
 * CLI, the tests and the demo use. Every name here is public and documented;
 * the rest of src/ is internal. Runs in browsers and in Node: under Node's
 * `node` export condition the package's entry (index.node.ts) also registers
 * Dawn as acquireGpu()'s adapter; `gradstorm/node` (node.ts) has the rest of
 * the Node side. This module reaches nothing of Node.
 */

// The GPU: acquiring a device, running recorded work, errors, timing.
export { acquireGpu, type AcquireOptions } from './gpu/acquire.ts';
export { GpuContext, type AdapterSummary, type BufferBinding, type Dispatch } from './gpu/context.ts';
export { DeviceLostError, GpuKernelError, GpuLimitError, GpuUnavailableError } from './gpu/errors.ts';
export { timeDispatches, type Timing } from './gpu/timer.ts';

// Kernels on their own, with their float64 references.
export {
  MATMUL_LAYOUTS,
  MATMUL_TILING_NAMES,
  MATMUL_VARIANTS,
  defaultMatmulTiling,
  defaultMatmulVariant,
  matmulReference,
  matmulShapeClass,
  matmulTilingAvailable,
  matmulVariantNames,
  prepareMatmul,
  type MatmulDeviceFeatures,
  type MatmulDims,
  type MatmulKernel,
  type MatmulLayout,
  type MatmulOptions,
  type MatmulVariant,
} from './kernels/matmul.ts';
export { ACTIVATIONS, activationGradRef, activationRef, prepareElementwise, type Activation, type ElementwiseKernel } from './kernels/elementwise.ts';
export { RNN_VARIANTS, type RnnVariant } from './kernels/rnn.ts';
export { LSTM_DIRECTIONS, prepareLstm, type LstmDirection, type LstmKernel } from './kernels/lstm.ts';

// The conformance suite (`gradstorm check`): every kernel against float64 on this adapter.
export { CONFORMANCE_FAMILIES, conformanceCases, runConformance, type ConformanceCase, type ConformanceFamily, type ConformanceResult } from './conformance/index.ts';

// Models: configs, defaults, validation, plans.
export { MLP_DEFAULTS, ConfigError, parseClip, validateMlpConfig, type ClipConfig, type MlpConfig } from './models/config.ts';
export { describeMemory, memoryPlan, mlpMatmulUses, planMlp, type MatmulUse, type MemoryPlan, type MlpPlan } from './models/mlp.ts';
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
  type RnnPlan,
  type RnnTask,
} from './models/rnn.ts';
export { LSTM_DEFAULTS, LSTM_TENSORS, lstmMatmulUses, lstmMemoryPlan, planLstm, validateLstmConfig, type LstmConfig, type LstmDump, type LstmPlan, type LstmTensorName } from './models/lstm.ts';

// Trainers and whole runs.
export { runStress, type StressOptions, type StressProgress } from './scheduler/run.ts';
// Interrupted runs: an AbortSignal stops a run after the step in flight and the partial report says why.
export { INTERRUPTION_REASONS, RunInterruptedError, abortReason, type Interruption, type InterruptionFields, type InterruptionReason } from './scheduler/interruption.ts';
export { MlpTrainer, type LayerStats, type StepStats } from './scheduler/mlp-trainer.ts';
export { runRnnStress, rnnPrediction, type RnnPrediction, type RnnRunReport, type RnnStressOptions } from './scheduler/rnn-run.ts';
export { RnnTrainer, type RnnStepStats } from './scheduler/rnn-trainer.ts';
export {
  LstmTrainer,
  lstmCellTheory,
  runLstmStress,
  type LstmCellTheory,
  type LstmRunReport,
  type LstmStepStats,
  type LstmStressOptions,
  type LstmTimestepStats,
} from './scheduler/lstm-run.ts';

// Reports.
export { RUN_SCHEMA, buildRunReport, describeGradNorm, predictionFor, predictionRows, type GradNormRecord, type RunReport } from './report/run-report.ts';

// The theory beside the measurement, and the verdict of a run.
export {
  EXPLODING_DECADES,
  RELU_CRITICAL_GAIN,
  VANISHING_DECADES,
  describeVerdicts,
  finiteWidthDriftPerLayer,
  fitGrowth,
  layerNormMeanFieldCurve,
  meanFieldCurve,
  mlpVerdict,
  predictGrowth,
  reluGrowthTolerance,
  rnnVerdict,
  runVerdict,
  tanhCriticalPoint,
  tanhCriticalSigmaW2,
  trainingStatusText,
  type GrowthFit,
  type GrowthPrediction,
  type GrowthPredictionInput,
  type GrowthTolerance,
  type InitStatus,
  type InitVerdict,
  type MeanFieldLayer,
  type MlpVerdictInput,
  type NormScale,
  type RnnVerdictInput,
  type RunVerdictOptions,
  type PredictionMethod,
  type TanhCriticalPoint,
  type TrainingStatus,
  type TrainingVerdict,
  type Verdict,
  type VerdictStatus,
} from './analysis/index.ts';

// The autotuner: per adapter, the fastest checked matmul tiling per shape class (prepareMatmul uses ctx's choices).
export {
  TUNING_SCHEMA,
  applyTuning,
  ensureTuned,
  localStorageTuningStore,
  parseTuningTable,
  tuningKey,
  type EnsureTunedOptions,
  type EnsureTunedResult,
  type RetimeResult,
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
  GPU_REPORT_SCHEMA_NAME,
  MAX_REPORT_ERRORS,
  REPORT_SCHEMAS,
  RUN_SCHEMA_NAME,
  SWEEP_SCHEMA_NAME,
  benchReportSchema,
  checkReportSchema,
  dumpSchema,
  gpuReportSchema,
  mlpRunReportSchema,
  reportJsonSchema,
  rnnRunReportSchema,
  lstmRunReportSchema,
  runReportSchema,
  sweepReportSchema,
  validateReport,
  type BenchReportJson,
  type CheckReportJson,
  type DumpJson,
  type GpuReportJson,
  type MlpRunReportJson,
  type ReportKind,
  type ReportValidation,
  type RnnRunReportJson,
  type LstmRunReportJson,
  type SweepReportJson,
  type ValidatedReport,
} from './report/schema.ts';
