import type * as TF from '@tensorflow/tfjs-core';
import type { GpuContext } from '../src/gpu/context.ts';
import { releaseDispatches } from '../src/gpu/context.ts';
import { timeDispatches } from '../src/gpu/timer.ts';
import { RNN_VARIANTS, persistentFits, prepareRnn, type RnnVariant } from '../src/kernels/rnn.ts';
import { RNN_DEFAULTS, type RnnConfig } from '../src/models/rnn.ts';
import { RnnTrainer } from '../src/scheduler/rnn-trainer.ts';
import { gaussianData } from '../src/conformance/data.ts';
import { summarize, type TimingSummary } from './stats.ts';
import { loadTfjsWebgpu, type Tfjs } from './tfjs-baseline.ts';

export interface RnnShape {
  seqLen: number;
  width: number;
  batch: number;
}

export interface RnnVariantBench {
  /** One whole training step (input projection, T forward steps, readout, loss, T backward steps, weight gradients, stats, clip, update), submit to stats on the CPU. */
  step: TimingSummary;
  /** The recurrence alone: the forward and backward kernels of all T steps (GPU timestamps when the adapter has them). */
  recurrenceMs: { forward: number; backward: number; source: string };
  dispatchesPerStep: number;
}

export interface RnnStepBenchResult {
  shape: string;
  /** Whether the persistent variant has one invocation per tile in its workgroup (persistentFits). */
  persistentFits: boolean;
  variants: Partial<Record<RnnVariant, RnnVariantBench | { error: string }>>;
  tfjs: TimingSummary | { error: string };
  /** TF.js median / the faster variant's median (> 1: gradstorm is faster). */
  speedup: number | null;
}

function config(shape: RnnShape, steps: number): RnnConfig {
  const { seqLen, width, batch } = shape;
  return { ...RNN_DEFAULTS, seqLen, width, batch, input: width, output: width, activation: 'tanh', init: 'gaussian', gain: 1, lr: 1e-3, steps };
}

/** Forward and backward recurrence of T steps, timed on their own (random data; the kernels do not care). */
async function timeRecurrence(ctx: GpuContext, shape: RnnShape, variant: RnnVariant): Promise<RnnVariantBench['recurrenceMs']> {
  const { seqLen: T, width: H, batch: B } = shape;
  const slab = B * H;
  const buffers = {
    w: ctx.upload('bench.w', gaussianData(H * H, 1, 1 / Math.sqrt(H))),
    u: ctx.upload('bench.u', gaussianData(T * slab, 2)),
    h: ctx.createStorage('bench.h', (T + 1) * slab * 4),
    dh: ctx.upload('bench.dh', gaussianData(T * slab, 3)),
    dz: ctx.createStorage('bench.dz', T * slab * 4),
  };
  try {
    const dims = { steps: T, batch: B, hidden: H, slab };
    const size = { batch: B, hidden: H };
    const forward = (await prepareRnn(ctx, { direction: 'forward', variant, activation: 'tanh' }, size)).bindForward(dims, buffers);
    const backward = (await prepareRnn(ctx, { direction: 'backward', variant, activation: 'tanh' }, size)).bindBackward(dims, { lossAll: false, bptt: T }, buffers);
    try {
      await timeDispatches(ctx, forward);
      const f = await timeDispatches(ctx, forward);
      const b = await timeDispatches(ctx, backward);
      return { forward: f.ms, backward: b.ms, source: f.source };
    } finally {
      releaseDispatches(forward);
      releaseDispatches(backward);
    }
  } finally {
    for (const buffer of Object.values(buffers)) buffer.destroy();
  }
}

export interface TfRnn {
  /** One training step: forward through the unrolled loop, TF.js's autodiff, SGD; resolves when the loss is on the CPU. */
  step(): Promise<number>;
  dispose(): void;
}

/**
 * The same RNN in TF.js (tanh, probe loss at the last step, SGD): the input
 * projection as one matmul split per step, then the unrolled loop; tf.variableGrads
 * differentiates through it.
 */
export function tfjsRnn(tf: Tfjs, shape: RnnShape, lr = 1e-3): TfRnn {
  const { seqLen: T, width: H, batch: B } = shape;
  const Wxh = tf.variable(tf.randomNormal([H, H], 0, 1 / Math.sqrt(H)));
  const Whh = tf.variable(tf.randomNormal([H, H], 0, 1 / Math.sqrt(H)));
  const bh = tf.variable(tf.zeros([H]));
  const Why = tf.variable(tf.randomNormal([H, H], 0, 1 / Math.sqrt(H)));
  const by = tf.variable(tf.zeros([H]));
  const vars = [Wxh, Whh, bh, Why, by];
  const x = tf.randomNormal([T * B, H]);
  const g = tf.randomNormal([B, H]);
  const loss = () =>
    tf.tidy(() => {
      const u = tf.split(tf.add(tf.matMul(x as TF.Tensor2D, Wxh as TF.Tensor2D, false, true), bh), T) as TF.Tensor2D[];
      let h = tf.zeros([B, H]) as TF.Tensor2D;
      for (let t = 0; t < T; t++) h = tf.tanh(tf.add(u[t], tf.matMul(h, Whh as TF.Tensor2D, false, true))) as TF.Tensor2D;
      const y = tf.add(tf.matMul(h, Why as TF.Tensor2D, false, true), by);
      return tf.sum(tf.mul(y, g)) as TF.Scalar;
    });
  return {
    async step() {
      const value = tf.tidy(() => {
        const { value: lossValue, grads } = tf.variableGrads(loss, vars);
        for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name], lr)));
        return lossValue;
      });
      const [out] = await value.data();
      value.dispose();
      return out;
    },
    dispose() {
      tf.dispose([...vars, x, g]);
    },
  };
}

/**
 * One BPTT training step at `shape` (tanh, probe at the last step, SGD) in
 * both gradstorm variants and in TF.js's WebGPU backend on the same adapter,
 * in one process: median wall time of `runs` steps after a warm-up step each.
 */
export async function benchRnnStep(
  ctx: GpuContext,
  shape: RnnShape,
  runs: number,
  options: { baseline?: boolean; tfjsRuns?: number; variants?: readonly RnnVariant[] } = {},
): Promise<RnnStepBenchResult> {
  const variants: RnnStepBenchResult['variants'] = {};
  for (const variant of options.variants ?? RNN_VARIANTS) {
    try {
      const trainer = await RnnTrainer.create(ctx, config(shape, runs), { variant });
      const dispatchesPerStep = trainer.dispatchCount;
      const samples: number[] = [];
      try {
        await trainer.submitStep();
        for (let r = 0; r < runs; r++) {
          const t = performance.now();
          await trainer.submitStep();
          samples.push(performance.now() - t);
        }
      } finally {
        trainer.destroy();
      }
      variants[variant] = { step: summarize(samples), recurrenceMs: await timeRecurrence(ctx, shape, variant), dispatchesPerStep };
    } catch (error) {
      variants[variant] = { error: (error as Error).message };
    }
  }
  let tfjs: RnnStepBenchResult['tfjs'] = { error: 'skipped (--no-baseline)' };
  if (options.baseline !== false) {
    try {
      const tf = await loadTfjsWebgpu();
      const model = tfjsRnn(tf, shape);
      try {
        await model.step();
        const samples: number[] = [];
        for (let r = 0; r < (options.tfjsRuns ?? runs); r++) {
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
  }
  const medians = Object.values(variants).flatMap((v) => (v && 'step' in v ? [v.step.medianMs] : []));
  const best = medians.length ? Math.min(...medians) : null;
  return {
    shape: `T ${shape.seqLen}, width ${shape.width}, batch ${shape.batch}`,
    persistentFits: persistentFits(shape.batch, shape.width),
    variants,
    tfjs,
    speedup: best !== null && 'medianMs' in tfjs ? tfjs.medianMs / best : null,
  };
}
