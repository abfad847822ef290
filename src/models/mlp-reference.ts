/**
 * float64 reference of one MLP step from a dump's tensors (DESIGN.md model
 * conventions): forward, loss, backward. It checks the GPU; it never runs
 * in place of it.
 */
import { activationGradRef, activationRef, type Activation } from '../kernels/elementwise.ts';
import type { LossKind } from './config.ts';

export interface ReferenceLayer {
  /** W [out, in] row-major, b [out]. */
  W: ArrayLike<number>;
  b: ArrayLike<number>;
  fanIn: number;
  fanOut: number;
}

export interface ReferenceResult {
  loss: number;
  /** Per layer (index 0 = layer 1): ∂L/∂W, ∂L/∂b and δ = ∂L/∂z. */
  dW: Float64Array[];
  db: Float64Array[];
  delta: Float64Array[];
  /** h_l, l = 1..L (h_L = y). */
  hidden: Float64Array[];
}

export function mlpLossReference(
  layers: readonly ReferenceLayer[],
  activation: Activation,
  loss: LossKind,
  input: ArrayLike<number>,
  target: ArrayLike<number>,
  batch: number,
): number {
  return mlpStepReference(layers, activation, loss, input, target, batch, false).loss;
}

export function mlpStepReference(
  layers: readonly ReferenceLayer[],
  activation: Activation,
  loss: LossKind,
  input: ArrayLike<number>,
  target: ArrayLike<number>,
  batch: number,
  backward = true,
): ReferenceResult {
  const L = layers.length;
  const hidden: Float64Array[] = [];
  const preact: Float64Array[] = [];
  let h: ArrayLike<number> = input;
  for (let l = 0; l < L; l++) {
    const { W, b, fanIn, fanOut } = layers[l];
    const z = new Float64Array(batch * fanOut);
    for (let r = 0; r < batch; r++) {
      for (let o = 0; o < fanOut; o++) {
        let sum = b[o];
        for (let i = 0; i < fanIn; i++) sum += h[r * fanIn + i] * W[o * fanIn + i];
        z[r * fanOut + o] = sum;
      }
    }
    const readout = l === L - 1;
    const out = readout ? z : z.map((v) => activationRef(activation, v));
    preact.push(z);
    hidden.push(out);
    h = out;
  }
  const y = hidden[L - 1];
  const count = y.length;
  let value = 0;
  const dy = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    if (loss === 'mse') {
      const d = y[i] - target[i];
      value += (d * d) / count;
      dy[i] = (2 * d) / count;
    } else {
      value += target[i] * y[i];
      dy[i] = target[i];
    }
  }
  const dW: Float64Array[] = new Array(L);
  const db: Float64Array[] = new Array(L);
  const delta: Float64Array[] = new Array(L);
  if (!backward) return { loss: value, dW, db, delta, hidden };
  let dz = dy;
  for (let l = L - 1; l >= 0; l--) {
    const { W, fanIn, fanOut } = layers[l];
    delta[l] = dz;
    const hPrev = l === 0 ? input : hidden[l - 1];
    const gW = new Float64Array(fanOut * fanIn);
    const gb = new Float64Array(fanOut);
    for (let r = 0; r < batch; r++) {
      for (let o = 0; o < fanOut; o++) {
        const g = dz[r * fanOut + o];
        gb[o] += g;
        for (let i = 0; i < fanIn; i++) gW[o * fanIn + i] += g * hPrev[r * fanIn + i];
      }
    }
    dW[l] = gW;
    db[l] = gb;
    if (l > 0) {
      const zPrev = preact[l - 1];
      const next = new Float64Array(batch * fanIn);
      for (let r = 0; r < batch; r++) {
        for (let i = 0; i < fanIn; i++) {
          let sum = 0;
          for (let o = 0; o < fanOut; o++) sum += dz[r * fanOut + o] * W[o * fanIn + i];
          next[r * fanIn + i] = sum * activationGradRef(activation, zPrev[r * fanIn + i]);
        }
      }
      dz = next;
    }
  }
  return { loss: value, dW, db, delta, hidden };
}
