import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// tfjs-core ships its autodiff rules separately from the ops.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { testGpu } from '../support/gpu.ts';
import { runStress } from '../../src/scheduler/run.ts';
import { MLP_DEFAULTS, type MlpConfig } from '../../src/models/config.ts';
import { mlpLossReference, mlpStepReference, type ReferenceLayer } from '../../src/models/mlp-reference.ts';
import type { MlpDump } from '../../src/models/dump.ts';
import { ACTIVATIONS } from '../../src/kernels/elementwise.ts';
import { expectTensorClose, maxAbs } from '../support/tensors.ts';

function smallConfig(overrides: Partial<MlpConfig>): MlpConfig {
  // Non-square on purpose: input 5 → width 7 → … → output 3, batch 6.
  return { ...MLP_DEFAULTS, depth: 4, width: 7, input: 5, output: 3, batch: 6, steps: 1, ...overrides };
}

function referenceLayers(dump: MlpDump): ReferenceLayer[] {
  const layers: ReferenceLayer[] = [];
  for (let i = 0; i < dump.params.length; i += 2) {
    const W = dump.params[i];
    layers.push({ W: W.data, b: dump.params[i + 1].data, fanOut: W.shape[0], fanIn: W.shape[1] });
  }
  return layers;
}

const gradientCases = ACTIVATIONS.flatMap((activation) =>
  (['mse', 'probe'] as const).flatMap((loss) => [0, 0.3].map((biasStd) => ({ activation, loss, biasStd }))),
);

describe('MLP gradients on the GPU: float64 reference, finite differences and TF.js agree', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each(gradientCases)('$activation, loss $loss, bias std $biasStd: every ∂L/∂param within 2e-5 of float64 (relative to the tensor)', async ({ activation, loss, biasStd }) => {
    const ctx = await testGpu();
    const config = smallConfig({ activation, loss, biasStd, seed: 7 });
    const { report, dump } = await runStress(ctx, config, { dump: true });
    const ref = mlpStepReference(referenceLayers(dump!), activation, loss, dump!.input.data, dump!.target!.data, config.batch);
    expect(Math.abs(report.steps[0].loss - ref.loss)).toBeLessThanOrEqual(1e-5 * Math.abs(ref.loss) + 1e-6);
    ref.dW.forEach((g, l) => expectTensorClose(`dW${l + 1}`, dump!.grads[2 * l].data, g));
    ref.db.forEach((g, l) => expectTensorClose(`db${l + 1}`, dump!.grads[2 * l + 1].data, g));
    // The per-layer statistics reduced on the GPU match the float64 norms.
    const norm = (x: ArrayLike<number>) => Math.sqrt(Array.from(x).reduce((s, v) => s + v * v, 0));
    report.steps[0].layers.forEach((layer, l) => {
      expect(layer.deltaNorm).toBeCloseTo(norm(ref.delta[l]), 5);
      expect(layer.weightGradNorm / norm(ref.dW[l])).toBeCloseTo(1, 4);
      expect(layer.activationNorm / Math.max(norm(ref.hidden[l]), 1e-30)).toBeCloseTo(ref.hidden[l].some((v) => v !== 0) ? 1 : 0, 4);
    });
  });

  it.each(['relu', 'tanh'] as const)('%s: GPU gradients match central finite differences of the float64 loss', async (activation) => {
    const ctx = await testGpu();
    const config = smallConfig({ activation, loss: 'mse', biasStd: 0.2, seed: 11 });
    const { dump } = await runStress(ctx, config, { dump: true });
    const layers = referenceLayers(dump!).map((l) => ({ ...l, W: Float64Array.from(l.W), b: Float64Array.from(l.b) }));
    const lossAt = () => mlpLossReference(layers, activation, 'mse', dump!.input.data, dump!.target!.data, config.batch);
    const eps = 1e-6;
    let checked = 0;
    for (let l = 0; l < layers.length; l++) {
      for (const [tensor, grads] of [[layers[l].W, dump!.grads[2 * l].data], [layers[l].b, dump!.grads[2 * l + 1].data]] as const) {
        const scale = Math.max(maxAbs(grads), 1e-12);
        for (let i = 0; i < tensor.length; i += 3) {
          const saved = tensor[i];
          tensor[i] = saved + eps;
          const plus = lossAt();
          tensor[i] = saved - eps;
          const minus = lossAt();
          tensor[i] = saved;
          const fd = (plus - minus) / (2 * eps);
          expect(Math.abs(grads[i] - fd) / scale, `layer ${l + 1} element ${i}`).toBeLessThanOrEqual(1e-4);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(30);
  });

  it.each(ACTIVATIONS)('%s: TF.js (tfjs-core, CPU backend, its own autodiff) computes the same gradients from the dump', async (activation) => {
    const ctx = await testGpu();
    const config = smallConfig({ activation, loss: 'mse', biasStd: 0.1, seed: 5 });
    const { dump } = await runStress(ctx, config, { dump: true });
    const d = dump!;
    const x = tf.tensor2d(d.input.data, d.input.shape as [number, number]);
    const t = tf.tensor2d(d.target!.data, d.target!.shape as [number, number]);
    const params = d.params.map((p) => tf.tensor(p.data, p.shape));
    const phi = (z: tf.Tensor) => (activation === 'relu' ? tf.relu(z) : activation === 'tanh' ? tf.tanh(z) : z);
    const lossFn = (...ps: tf.Tensor[]) => {
      let h: tf.Tensor = x;
      for (let l = 0; l < ps.length / 2; l++) {
        const z = tf.add(tf.matMul(h as tf.Tensor2D, ps[2 * l] as tf.Tensor2D, false, true), ps[2 * l + 1]);
        h = l === ps.length / 2 - 1 ? z : phi(z);
      }
      return tf.mean(tf.square(tf.sub(h, t))) as tf.Scalar;
    };
    const grads = tf.grads(lossFn)(params);
    for (let i = 0; i < grads.length; i++) {
      expectTensorClose(`${d.params[i].name} vs TF.js`, d.grads[i].data, grads[i].dataSync(), 5e-5);
    }
    expect(Math.abs((lossFn(...params).dataSync()[0] - d.loss) / d.loss)).toBeLessThan(1e-5);
    tf.dispose([x, t, ...params, ...grads]);
  });
});
