/**
 * The one place the page imports the engine from: the library's public API
 * (src/index.ts), plus the few config helpers it does not re-export.
 */
export * from '../src/index.ts';
export { formatClip, INITS, LOSSES, OPTIMIZERS, type InitScheme, type LossKind, type OptimizerKind } from '../src/models/config.ts';
export type { ConformanceFamily } from '../src/conformance/index.ts';
export { LOSS_AT, RNN_DEFAULTS, RNN_INITS, RNN_TASKS, bpttSteps, taskLoss, validateRnnConfig, type LossAt, type RnnConfig, type RnnInit, type RnnTask } from '../src/models/rnn.ts';
export { rnnPrediction, type RnnPrediction } from '../src/scheduler/rnn-run.ts';
export type { RnnStepStats } from '../src/scheduler/rnn-trainer.ts';
export { RNN_VARIANTS, type RnnVariant } from '../src/kernels/rnn.ts';
