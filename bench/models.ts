/**
 * The models the bench's training steps run, and the name of the tuned
 * variant: a leaf module (it imports nothing from bench/), so the plan, the
 * step benchmarks and the matmul cells can all use it without an import cycle.
 */
import { MLP_DEFAULTS, type MlpConfig } from '../src/models/config.ts';
import { RNN_DEFAULTS, type RnnConfig } from '../src/models/rnn.ts';

/** The bench's name for "whatever the autotuner chose for this shape class on this adapter". */
export const TUNED_VARIANT = 'tuned';

export interface MlpShape {
  depth: number;
  width: number;
  batch: number;
}

export interface RnnShape {
  seqLen: number;
  width: number;
  batch: number;
}

/** The MLP the step trains: relu, probe loss, He gain, input and output as wide as the hidden layers. */
export function mlpBenchConfig(shape: MlpShape): MlpConfig {
  return { ...MLP_DEFAULTS, ...shape, input: shape.width, output: shape.width, gain: Math.SQRT2, lr: 1e-3, steps: 1 };
}

/** The RNN the bench's BPTT step trains: tanh, input and output as wide as the hidden state. */
export function rnnBenchConfig(shape: RnnShape, steps: number): RnnConfig {
  const { seqLen, width, batch } = shape;
  return { ...RNN_DEFAULTS, seqLen, width, batch, input: width, output: width, activation: 'tanh', init: 'gaussian', gain: 1, lr: 1e-3, steps };
}
