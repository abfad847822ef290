import type { GpuContext } from '../src/gpu/context.ts';
import { MLP_DEFAULTS, type MlpConfig } from '../src/models/config.ts';
import { MlpTrainer } from '../src/scheduler/mlp-trainer.ts';
import { summarize, type TimingSummary } from './stats.ts';
import { loadTfjsWebgpu, tfjsMlp } from './tfjs-baseline.ts';

export interface StepBenchResult {
  shape: string;
  gradstorm: TimingSummary;
  tfjs: TimingSummary | { error: string };
  /** TF.js median / gradstorm median (> 1: gradstorm is faster). */
  speedup: number | null;
  dispatchesPerStep: number;
}

/**
 * One training step of the same MLP (relu, probe loss, SGD) in gradstorm and
 * in TF.js's WebGPU backend with its own autodiff, on the same adapter, in
 * one process: wall time from submit to the step's result on the CPU, median
 * of `runs` after a warm-up step each.
 */
export async function benchMlpStep(ctx: GpuContext, shape: { depth: number; width: number; batch: number }, runs: number, options: { baseline?: boolean } = {}): Promise<StepBenchResult> {
  const config: MlpConfig = { ...MLP_DEFAULTS, ...shape, input: shape.width, output: shape.width, gain: Math.SQRT2, lr: 1e-3, steps: runs };
  const trainer = await MlpTrainer.create(ctx, config);
  const dispatchesPerStep = trainer.dispatchCount;
  const ours: number[] = [];
  try {
    await trainer.submitStep();
    for (let r = 0; r < runs; r++) {
      const t = performance.now();
      await trainer.submitStep();
      ours.push(performance.now() - t);
    }
  } finally {
    trainer.destroy();
  }
  let tfjs: StepBenchResult['tfjs'] = { error: 'skipped (--no-baseline)' };
  if (options.baseline !== false) try {
    const tf = await loadTfjsWebgpu();
    const model = tfjsMlp(tf, { ...shape, gain: Math.SQRT2, lr: 1e-3 });
    try {
      await model.step();
      const samples: number[] = [];
      for (let r = 0; r < runs; r++) {
        const t = performance.now();
        await model.step();
        samples.push(performance.now() - t);
      }
      tfjs = summarize(samples);
    } finally {
      model.dispose();
    }
  } catch (error) {
    tfjs = { error: (error as Error).message };
  }
  const gradstorm = summarize(ours);
  return {
    shape: `depth ${shape.depth}, width ${shape.width}, batch ${shape.batch}`,
    gradstorm,
    tfjs,
    speedup: 'medianMs' in tfjs ? tfjs.medianMs / gradstorm.medianMs : null,
    dispatchesPerStep,
  };
}
