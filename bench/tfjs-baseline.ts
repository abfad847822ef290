/**
 * The TF.js baselines: the same work in TF.js's WebGPU backend on the same
 * adapter (tfjs-load.ts loads it), timed by the same loop as gradstorm's
 * (measure.ts). Everything here takes the loaded `tf`: no TF.js import.
 */
import type * as TF from '@tensorflow/tfjs-core';
import type { MatmulLayout } from '../src/kernels/matmul.ts';
import { wallClockSampler, type Sampler } from './measure.ts';
import type { MatmulOperands } from './matmul.ts';

export type Tfjs = typeof TF;

export interface TfMlp {
  /** One training step (forward, its autodiff backward, SGD update); resolves when the GPU finished. */
  step(): Promise<number>;
  dispose(): void;
}

/** The same MLP as gradstorm's (relu hidden layers, linear readout, probe loss, SGD), in TF.js. */
export function tfjsMlp(tf: Tfjs, c: { depth: number; width: number; batch: number; gain: number; lr: number }): TfMlp {
  const vars: TF.Variable[] = [];
  for (let l = 0; l < c.depth; l++) {
    vars.push(tf.variable(tf.randomNormal([c.width, c.width], 0, c.gain / Math.sqrt(c.width))));
    vars.push(tf.variable(tf.zeros([c.width])));
  }
  const x = tf.randomNormal([c.batch, c.width]);
  const g = tf.randomNormal([c.batch, c.width]);
  const loss = () =>
    tf.tidy(() => {
      let h: TF.Tensor2D = x as TF.Tensor2D;
      for (let l = 0; l < c.depth; l++) {
        const z = tf.add(tf.matMul(h, vars[2 * l] as TF.Tensor2D, false, true), vars[2 * l + 1]) as TF.Tensor2D;
        h = l === c.depth - 1 ? z : tf.relu(z);
      }
      return tf.sum(tf.mul(h, g)) as TF.Scalar;
    });
  return {
    async step() {
      const value = tf.tidy(() => {
        const { value: lossValue, grads } = tf.variableGrads(loss, vars);
        for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name], c.lr)));
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

/** A sampler that disposes what it allocated. */
export interface OwnedSampler {
  sample: Sampler;
  dispose(): void;
}

/**
 * TF.js's matMul on the same operands and layout (nt: transposeB, tn:
 * transposeA): wall time of `repeat` matMuls and the read of the last one,
 * per repeat. TF.js has no way to wait for the GPU without a read.
 */
export function tfjsMatmulSampler(tf: Tfjs, layout: MatmulLayout, operands: MatmulOperands): OwnedSampler {
  const { dims, a, b } = operands;
  const ta = tf.tensor2d(a, layout === 'tn' ? [dims.k, dims.m] : [dims.m, dims.k]);
  const tb = tf.tensor2d(b, layout === 'nt' ? [dims.n, dims.k] : [dims.k, dims.n]);
  return {
    sample: wallClockSampler(async (repeat) => {
      for (let r = 0; r < repeat; r++) {
        const c = tf.matMul(ta, tb, layout === 'tn', layout === 'nt');
        if (r === repeat - 1) await c.data();
        c.dispose();
      }
    }),
    dispose: () => tf.dispose([ta, tb]),
  };
}

/** TF.js's relu over the same data: wall time of `repeat` relus and the read of the last one, per repeat. */
export function tfjsReluSampler(tf: Tfjs, data: Float32Array): OwnedSampler {
  const x = tf.tensor1d(data);
  return {
    sample: wallClockSampler(async (repeat) => {
      for (let r = 0; r < repeat; r++) {
        const y = tf.relu(x);
        if (r === repeat - 1) await y.data();
        y.dispose();
      }
    }),
    dispose: () => x.dispose(),
  };
}
