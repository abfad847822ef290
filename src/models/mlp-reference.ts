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
  residual = 0,
): number {
  return mlpStepReference(layers, activation, loss, input, target, batch, false, residual).loss;
}

/**
 * One step in float64. With `residual` A > 0 the hidden layers 2..L−1 are
 * pre-activation residual blocks (src/models/config.ts):
 *   forward   u_l = φ(h_{l−1}),  z_l = u_l W_lᵀ + b_l,  h_l = h_{l−1} + A·z_l
 *   backward  δ_l = ∂L/∂z_l = A·∂L/∂h_l,  ∂L/∂W_l = δ_lᵀ u_l
 *             ∂L/∂h_{l−1} = ∂L/∂h_l + (δ_l W_l) ⊙ φ'(h_{l−1})
 * (layer 1 keeps h_1 = φ(z_1), δ_1 = ∂L/∂h_1 ⊙ φ'(z_1); the readout: ∂L/∂h_{L−1} = δ_L W_L).
 */
export function mlpStepReference(
  layers: readonly ReferenceLayer[],
  activation: Activation,
  loss: LossKind,
  input: ArrayLike<number>,
  target: ArrayLike<number>,
  batch: number,
  backward = true,
  residual = 0,
): ReferenceResult {
  const L = layers.length;
  const hidden: Float64Array[] = [];
  const preact: Float64Array[] = [];
  // What each layer's matmul reads: h_{l−1}, or u_l = φ(h_{l−1}) in a block.
  const inputs: ArrayLike<number>[] = [];
  // Layer index l (0-based) is a residual block: hidden, not the first.
  const block = (l: number) => residual > 0 && l >= 1 && l <= L - 2;
  let h: ArrayLike<number> = input;
  for (let l = 0; l < L; l++) {
    const { W, b, fanIn, fanOut } = layers[l];
    const prev = h;
    if (block(l)) h = Float64Array.from(prev, (v) => activationRef(activation, v));
    inputs.push(h);
    const z = new Float64Array(batch * fanOut);
    for (let r = 0; r < batch; r++) {
      for (let o = 0; o < fanOut; o++) {
        let sum = b[o];
        for (let i = 0; i < fanIn; i++) sum += h[r * fanIn + i] * W[o * fanIn + i];
        z[r * fanOut + o] = sum;
      }
    }
    const readout = l === L - 1;
    const out = readout ? z : block(l) ? z.map((v, i) => prev[i] + residual * v) : z.map((v) => activationRef(activation, v));
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
  // ∂L/∂h_l of the current block (residual nets), carried down the skip path.
  let dh: Float64Array | null = null;
  for (let l = L - 1; l >= 0; l--) {
    const { W, fanIn, fanOut } = layers[l];
    delta[l] = dz;
    const hPrev = inputs[l];
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
    if (l > 0 && residual > 0 && (block(l) || block(l - 1))) {
      // ∂L/∂h_{l−1}: through the block's branch (masked by φ'(h_{l−1})) plus the skip, or from the readout.
      const dhPrev = new Float64Array(batch * fanIn);
      const hBelow = hidden[l - 1];
      for (let r = 0; r < batch; r++) {
        for (let i = 0; i < fanIn; i++) {
          let sum = 0;
          for (let o = 0; o < fanOut; o++) sum += dz[r * fanOut + o] * W[o * fanIn + i];
          dhPrev[r * fanIn + i] = block(l) && dh ? dh[r * fanIn + i] + sum * activationGradRef(activation, hBelow[r * fanIn + i]) : sum;
        }
      }
      dh = dhPrev;
      // δ_{l−1} = A·∂L/∂h_{l−1} in a block; at layer 1, ∂L/∂h_1 ⊙ φ'(z_1).
      const zPrev = preact[l - 1];
      dz = block(l - 1) ? dhPrev.map((v) => residual * v) : dhPrev.map((v, i) => v * activationGradRef(activation, zPrev[i]));
    } else if (l > 0) {
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
