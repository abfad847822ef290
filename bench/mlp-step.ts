/**
 * One training step of the same MLP (relu, probe loss, SGD) in gradstorm and
 * in TF.js's WebGPU backend with its own autodiff, on the same adapter, in
 * one process: wall time from submit to the step's result on the CPU.
 */
import type { GpuContext } from '../src/gpu/context.ts';
import type { MatmulVariant } from '../src/kernels/matmul.ts';
import { MlpTrainer } from '../src/scheduler/mlp-trainer.ts';
import { measure, sequentialSampler } from './measure.ts';
import { TUNED_VARIANT, mlpBenchConfig, type MlpShape } from './models.ts';
import { timedFields, type BenchBaseline, type BenchEntry } from './report.ts';
import { tfjsMlp, type Tfjs } from './tfjs-baseline.ts';

export const MLP_STEP_KERNEL = 'mlp.step';

export function mlpShapeName(s: MlpShape): string {
  return `depth ${s.depth}, width ${s.width}, batch ${s.batch}`;
}

/** The step's matmul work: L forward, L weight-gradient and L−1 input-gradient matmuls of B×W×W. */
export function mlpStepFlops(s: MlpShape): number {
  return 2 * s.batch * s.width * s.width * (3 * s.depth - 1);
}

/**
 * Steps back to back, each waiting for its stats: the time a user of the
 * trainer sees. `variant` forces one matmul variant; TUNED_VARIANT leaves
 * the trainer its default, the tuned kernel per shape class.
 */
export async function benchMlpStep(ctx: GpuContext, shape: MlpShape, variant: MatmulVariant, runs: number): Promise<BenchEntry> {
  const trainer = await MlpTrainer.create(ctx, mlpBenchConfig(shape), { matmulVariant: variant === TUNED_VARIANT ? undefined : variant });
  try {
    const m = await measure(sequentialSampler(() => trainer.submitStep()), runs);
    return {
      kernel: MLP_STEP_KERNEL,
      shape: mlpShapeName(shape),
      variant,
      ...timedFields(m),
      gflops: mlpStepFlops(shape) / (m.medianMs * 1e6),
      maxError: null,
      note: `one submit, ${trainer.dispatchCount} dispatches`,
    };
  } finally {
    trainer.destroy();
  }
}

/** The same step in TF.js: tf.variableGrads through the forward, SGD, the loss read back. */
export async function benchTfjsMlpStep(tf: Tfjs, shape: MlpShape, runs: number): Promise<BenchBaseline> {
  const { gain, lr } = mlpBenchConfig(shape);
  const model = tfjsMlp(tf, { ...shape, gain, lr });
  try {
    const m = await measure(sequentialSampler(() => model.step()), runs);
    return { kernel: MLP_STEP_KERNEL, shape: mlpShapeName(shape), variant: 'tfjs-webgpu', ...timedFields(m), gflops: mlpStepFlops(shape) / (m.medianMs * 1e6), note: 'variableGrads + SGD' };
  } finally {
    model.dispose();
  }
}
