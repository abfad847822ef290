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
  MATMUL_VARIANTS,
  MatmulKernel,
  defaultMatmulVariant,
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
export { planMlp, memoryPlan, describeMemory } from './models/mlp.ts';
export { buildRunReport, predictionFor, RUN_SCHEMA, type RunReport } from './report/run-report.ts';
export { runRnnStress, type RnnRunReport } from './scheduler/rnn-run.ts';
export { RnnTrainer } from './scheduler/rnn-trainer.ts';
