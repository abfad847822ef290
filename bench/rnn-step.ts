import type * as TF from '@tensorflow/tfjs-core';
import type { GpuContext } from '../src/gpu/context.ts';
import { releaseDispatches } from '../src/gpu/context.ts';
import { timeDispatches } from '../src/gpu/timer.ts';
import { prepareRnn, type RnnVariant } from '../src/kernels/rnn.ts';
import { RnnTrainer } from '../src/scheduler/rnn-trainer.ts';
import { gaussianData } from '../src/conformance/data.ts';
import { measure, sequentialSampler } from './measure.ts';
import { rnnBenchConfig, type RnnShape } from './models.ts';
import { timedFields, type BenchBaseline, type BenchEntry } from './report.ts';
import type { Tfjs } from './tfjs-baseline.ts';

export const RNN_STEP_KERNEL = 'rnn.step';

export function rnnShapeName(s: RnnShape): string {
  return `T ${s.seqLen}, width ${s.width}, batch ${s.batch}`;
}

/** The forward and backward recurrence of T steps, timed on their own (random data; the kernels do not care). */
async function benchRecurrence(ctx: GpuContext, shape: RnnShape, variant: RnnVariant, runs: number): Promise<BenchEntry[]> {
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
      const entries: BenchEntry[] = [];
      for (const [kernel, dispatches] of [['rnn.recurrence.forward', forward], ['rnn.recurrence.backward', backward]] as const) {
        const m = await measure((repeat) => timeDispatches(ctx, dispatches, repeat), runs);
        // Correctness of the recurrence is the conformance suite's (`gradstorm check --family rnn`).
        entries.push({ kernel, shape: rnnShapeName(shape), variant, ...timedFields(m), maxError: null, note: dispatches.length === 1 ? 'one dispatch' : `${dispatches.length} dispatches` });
      }
      return entries;
    } finally {
      releaseDispatches(forward);
      releaseDispatches(backward);
    }
  } finally {
    for (const buffer of Object.values(buffers)) buffer.destroy();
  }
}

/**
 * One BPTT training step at `shape` (tanh, probe at the last step, SGD) in
 * one RNN variant — input projection, T forward steps, readout, loss, T
 * backward steps, weight gradients, stats, clip, update; submit to stats on
 * the CPU — and its recurrence kernels alone.
 */
export async function benchRnnStep(ctx: GpuContext, shape: RnnShape, variant: RnnVariant, runs: number): Promise<BenchEntry[]> {
  const trainer = await RnnTrainer.create(ctx, rnnBenchConfig(shape, 1), { variant });
  let step: BenchEntry;
  try {
    const m = await measure(sequentialSampler(() => trainer.submitStep()), runs);
    step = { kernel: RNN_STEP_KERNEL, shape: rnnShapeName(shape), variant, ...timedFields(m), maxError: null, note: `one submit, ${trainer.dispatchCount} dispatches` };
  } finally {
    trainer.destroy();
  }
  return [step, ...(await benchRecurrence(ctx, shape, variant, runs))];
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

/** The same step in TF.js: the unrolled loop, tf.variableGrads, SGD, the loss read back. */
export async function benchTfjsRnnStep(tf: Tfjs, shape: RnnShape, runs: number): Promise<BenchBaseline> {
  const model = tfjsRnn(tf, shape);
  try {
    const m = await measure(sequentialSampler(() => model.step()), runs);
    return { kernel: RNN_STEP_KERNEL, shape: rnnShapeName(shape), variant: 'tfjs-webgpu', ...timedFields(m), note: 'unrolled loop + variableGrads' };
  } finally {
    model.dispose();
  }
}
