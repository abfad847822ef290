import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// tfjs-core ships its autodiff rules separately from the ops.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { testGpu } from '../support/gpu.ts';
import { runRnnStress } from '../../src/scheduler/rnn-run.ts';
import { RnnTrainer } from '../../src/scheduler/rnn-trainer.ts';
import { RNN_DEFAULTS, bpttSteps, type RnnConfig, type RnnDump, type RnnTask } from '../../src/models/rnn.ts';
import { rnnLossReference, rnnStepReference, type RnnReferenceParams } from '../../src/models/rnn-reference.ts';
import { ACTIVATIONS, type Activation } from '../../src/kernels/elementwise.ts';
import type { RnnVariant } from '../../src/kernels/rnn.ts';
import { rnnCases } from '../../src/conformance/rnn.ts';
import { runConformance } from '../../src/conformance/index.ts';
import { expectTensorClose, maxAbs } from '../support/tensors.ts';

function smallConfig(overrides: Partial<RnnConfig> & { task?: RnnTask }): RnnConfig {
  const task = overrides.task ?? 'probe';
  // Non-square and off every tile: T 7, H 6, in 3 → out 2, batch 3 (slabs padded to 32 rows).
  return {
    ...RNN_DEFAULTS,
    seqLen: 7,
    width: 6,
    input: task === 'adding' ? 2 : 3,
    output: task === 'adding' ? 1 : 2,
    batch: 3,
    biasStd: 0.2,
    gain: 1.1,
    task,
    loss: task === 'adding' ? 'mse' : 'probe',
    ...overrides,
  };
}

function paramsOf(d: RnnDump): RnnReferenceParams {
  const get = (name: string) => d.params.find((p) => p.name === name)!.data;
  return { Wxh: get('Wxh'), Whh: get('Whh'), bh: get('bh'), Why: get('Why'), by: get('by') };
}

function referenceOf(d: RnnDump, params: RnnReferenceParams = paramsOf(d)) {
  const c = d.config;
  return {
    dims: { seqLen: c.seqLen, batch: c.batch, input: c.input, hidden: c.width, output: c.output },
    options: { activation: c.activation, loss: c.loss, lossAt: c.lossAt, bptt: bpttSteps(c) },
    run() {
      return rnnStepReference(params, this.dims, this.options, d.input.data, d.target!.data);
    },
  };
}

const gradientCases: { activation: Activation; lossAt: 'last' | 'all'; bptt: number | 'full'; task: RnnTask; variant: RnnVariant }[] = [];
let flip = 0;
for (const activation of ACTIVATIONS) {
  for (const lossAt of ['last', 'all'] as const) {
    for (const bptt of ['full', 3] as const) gradientCases.push({ activation, lossAt, bptt, task: 'probe', variant: flip++ % 2 ? 'persistent' : 'step' });
  }
  gradientCases.push({ activation, lossAt: 'last', bptt: activation === 'relu' ? 4 : 'full', task: 'adding', variant: flip++ % 2 ? 'persistent' : 'step' });
}

describe('RNN gradients on the GPU: float64 reference, finite differences and TF.js agree', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each(gradientCases)('$activation, $task, loss at $lossAt, bptt $bptt ($variant): every ∂L/∂param and ∂L/∂h_t within 2e-5 of float64', async ({ activation, lossAt, bptt, task, variant }) => {
    const ctx = await testGpu();
    const config = smallConfig({ activation, lossAt, bptt, task, seed: 7 });
    const trainer = await RnnTrainer.create(ctx, config, { variant });
    try {
      const [params, input, target] = [await trainer.readParams(), await trainer.readInput(), await trainer.readTarget()];
      const stats = await trainer.submitStep();
      const grads = await trainer.readGrads();
      const dhGpu = await trainer.readHiddenGrads();
      const hGpu = await trainer.readHidden();
      const dumpLike = {
        config,
        input: { shape: [], data: Array.from(input) },
        target: { shape: [], data: Array.from(target) },
        params: trainer.plan.tensors.map((t) => ({ name: t.name, shape: t.shape, data: Array.from(params.subarray(t.offset, t.offset + t.length)) })),
      } as unknown as RnnDump;
      const ref = referenceOf(dumpLike).run();
      expect(Math.abs(stats.loss - ref.loss)).toBeLessThanOrEqual(1e-5 * Math.abs(ref.loss) + 1e-6);
      for (const t of trainer.plan.tensors) expectTensorClose(`d${t.name}`, grads.subarray(t.offset, t.offset + t.length), ref.grads[t.name]);
      const slab = config.batch * config.width;
      for (let t = 1; t <= config.seqLen; t++) {
        expectTensorClose(`h_${t}`, hGpu.subarray((t - 1) * slab, t * slab), ref.hidden[t], 1e-5);
        const refDh = ref.dh[t - 1];
        // Steps truncation does not reach stay exactly zero.
        if (refDh.every((v) => v === 0)) expect(dhGpu.subarray((t - 1) * slab, t * slab).every((v) => v === 0)).toBe(true);
        else expectTensorClose(`dh_${t}`, dhGpu.subarray((t - 1) * slab, t * slab), refDh);
        const norm = Math.sqrt(refDh.reduce((s, v) => s + v * v, 0));
        expect(Math.abs(stats.timesteps[t - 1].hiddenGradNorm - norm)).toBeLessThanOrEqual(2e-5 * norm + 1e-30);
      }
      expect(stats.nonfinite).toBe(0);
      expect(ctx.takeUncapturedErrors()).toEqual([]);
    } finally {
      trainer.destroy();
    }
  });

  it.each([
    { activation: 'tanh' as const, task: 'adding' as const, lossAt: 'last' as const },
    { activation: 'relu' as const, task: 'probe' as const, lossAt: 'all' as const },
  ])('$activation, $task at $lossAt, full BPTT: GPU gradients match central finite differences of the float64 loss', async ({ activation, task, lossAt }) => {
    const ctx = await testGpu();
    const config = smallConfig({ activation, task, lossAt, seed: 11 });
    const { dump } = await runRnnStress(ctx, config, { dump: true });
    const d = dump!;
    const params = paramsOf(d);
    const tensors = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, Float64Array.from(v as number[])])) as Record<keyof RnnReferenceParams, Float64Array>;
    const r = referenceOf(d, tensors);
    const lossAt64 = () => rnnLossReference(tensors, r.dims, r.options, d.input.data, d.target!.data);
    const eps = 1e-6;
    let checked = 0;
    for (const g of d.grads) {
      const tensor = tensors[g.name as keyof RnnReferenceParams];
      const scale = Math.max(maxAbs(g.data), 1e-12);
      for (let i = 0; i < tensor.length; i += 2) {
        const saved = tensor[i];
        tensor[i] = saved + eps;
        const plus = lossAt64();
        tensor[i] = saved - eps;
        const minus = lossAt64();
        tensor[i] = saved;
        const fd = (plus - minus) / (2 * eps);
        expect(Math.abs(g.data[i] - fd) / scale, `${g.name}[${i}]: gpu ${g.data[i]} vs fd ${fd}`).toBeLessThanOrEqual(1e-4);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(30);
  });

  it.each([
    { activation: 'tanh' as const, lossAt: 'last' as const, bptt: 'full' as const, task: 'adding' as const },
    { activation: 'relu' as const, lossAt: 'all' as const, bptt: 'full' as const, task: 'probe' as const },
    { activation: 'linear' as const, lossAt: 'all' as const, bptt: 3, task: 'probe' as const },
  ])('$activation, $task at $lossAt, bptt $bptt: TF.js (CPU backend, its own autodiff through the unrolled loop) computes the same gradients', async ({ activation, lossAt, bptt, task }) => {
    const ctx = await testGpu();
    const config = smallConfig({ activation, lossAt, bptt, task, seed: 5 });
    const { dump } = await runRnnStress(ctx, config, { dump: true });
    const d = dump!;
    const { seqLen: T, batch: B, input: I, width: H, output: O } = config;
    const k = bpttSteps(config);
    const xs = Array.from({ length: T }, (_, t) => tf.tensor2d(d.input.data.slice(t * B * I, (t + 1) * B * I), [B, I]));
    const readouts = lossAt === 'all' ? T : 1;
    const targets = Array.from({ length: readouts }, (_, s) => tf.tensor2d(d.target!.data.slice(s * B * O, (s + 1) * B * O), [B, O]));
    const params = d.params.map((p) => tf.tensor(p.data, p.shape));
    const phi = (z: tf.Tensor) => (activation === 'relu' ? tf.relu(z) : activation === 'tanh' ? tf.tanh(z) : z);
    // Truncated BPTT in TF.js: an identity whose gradient is zero, at the cuts (T − t) mod k = 0.
    const stop = tf.customGrad((...inputs) => {
      const x = inputs[0] as tf.Tensor;
      return { value: x.clone(), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
    });
    const lossFn = (...ps: tf.Tensor[]) => {
      const [Wxh, Whh, bh, Why, by] = ps as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D, tf.Tensor1D];
      let h: tf.Tensor2D = tf.zeros([B, H]);
      const terms: tf.Scalar[] = [];
      for (let t = 1; t <= T; t++) {
        h = phi(tf.add(tf.add(tf.matMul(xs[t - 1], Wxh, false, true), tf.matMul(h, Whh, false, true)), bh)) as tf.Tensor2D;
        if (lossAt === 'all' || t === T) {
          const y = tf.add(tf.matMul(h, Why, false, true), by);
          const g = targets[lossAt === 'all' ? t - 1 : 0];
          terms.push((task === 'adding' ? tf.sum(tf.square(tf.sub(y, g))) : tf.sum(tf.mul(y, g))) as tf.Scalar);
        }
        if (t < T && (T - t) % k === 0) h = stop(h) as tf.Tensor2D;
      }
      const total = tf.addN(terms);
      return (task === 'adding' ? tf.div(total, readouts * B * O) : total) as tf.Scalar;
    };
    const grads = tf.grads(lossFn)(params);
    for (let i = 0; i < grads.length; i++) expectTensorClose(`${d.params[i].name} vs TF.js`, d.grads[i].data, grads[i].dataSync(), 5e-5);
    expect(Math.abs((lossFn(...params).dataSync()[0] - d.loss) / d.loss)).toBeLessThan(1e-5);
    tf.dispose([...xs, ...targets, ...params, ...grads]);
  });

  it('the dump follows gradstorm.dump/1 with the RNN names and shapes', async () => {
    const ctx = await testGpu();
    const { dump } = await runRnnStress(ctx, smallConfig({ lossAt: 'all', seed: 2 }), { dump: true });
    expect(dump!.schema).toBe('gradstorm.dump/1');
    expect(dump!.input.shape).toEqual([7, 3, 3]);
    expect(dump!.target!.shape).toEqual([7, 3, 2]);
    expect(dump!.params.map((p) => [p.name, p.shape])).toEqual([['Wxh', [6, 3]], ['Whh', [6, 6]], ['bh', [6]], ['Why', [2, 6]], ['by', [2]]]);
    expect(dump!.grads.map((p) => p.name)).toEqual(['Wxh', 'Whh', 'bh', 'Why', 'by']);
  });
});

describe('RNN kernel conformance (every step against float64, both variants, awkward shapes)', () => {
  it('every quick rnnCases() case passes (the full set runs in gradstorm check)', async () => {
    const ctx = await testGpu();
    const results = await runConformance(ctx, rnnCases(undefined, { quick: true }));
    const failed = results.filter((r) => !r.ok).map((r) => `${r.kernel} ${r.shape}: ${r.detail}`);
    expect(failed).toEqual([]);
    expect(results.length).toBeGreaterThan(40);
  });
});
