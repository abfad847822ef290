/**
 * float64 reference of one MLP step from a dump's tensors (DESIGN.md model
 * conventions): forward, loss, backward. It checks the GPU; it never runs
 * in place of it.
 */
import { activationGradRef, activationRef, type Activation } from '../kernels/elementwise.ts';
import { layerNormBackwardRef, layerNormForwardRef } from '../kernels/layernorm.ts';
import type { LossKind, NormPlace } from './config.ts';

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
  /** With `norm`: ∂L/∂γ_l and ∂L/∂β_l of each block (index 0 = layer 1; empty at layers without LayerNorm). */
  dGamma: Float64Array[];
  dBeta: Float64Array[];
}

/**
 * LayerNorm in the residual blocks (`--norm layer`): γ_l and β_l of each
 * block l (index 0 = layer 1; entries at other layers are ignored), and
 * where it sits: `pre` normalizes the branch input, h_l = h_{l−1} +
 * A·(φ(LN_l(h_{l−1})) W_lᵀ + b_l), and the readout's input (the final
 * LN_L, γ and β at index L − 1); `post` normalizes the sum, h_l =
 * LN_l(h_{l−1} + A·(φ(h_{l−1}) W_lᵀ + b_l)).
 */
export interface ReferenceNorm {
  place: NormPlace;
  gamma: readonly ArrayLike<number>[];
  beta: readonly ArrayLike<number>[];
}

export function mlpLossReference(
  layers: readonly ReferenceLayer[],
  activation: Activation,
  loss: LossKind,
  input: ArrayLike<number>,
  target: ArrayLike<number>,
  batch: number,
  residual = 0,
  norm: ReferenceNorm | null = null,
): number {
  return mlpStepReference(layers, activation, loss, input, target, batch, false, residual, norm).loss;
}

/**
 * One step in float64. With `residual` A > 0 the hidden layers 2..L−1 are
 * pre-activation residual blocks (src/models/config.ts):
 *   forward   u_l = φ(h_{l−1}),  z_l = u_l W_lᵀ + b_l,  h_l = h_{l−1} + A·z_l
 *   backward  δ_l = ∂L/∂z_l = A·∂L/∂h_l,  ∂L/∂W_l = δ_lᵀ u_l
 *             ∂L/∂h_{l−1} = ∂L/∂h_l + (δ_l W_l) ⊙ φ'(h_{l−1})
 * (layer 1 keeps h_1 = φ(z_1), δ_1 = ∂L/∂h_1 ⊙ φ'(z_1); the readout: ∂L/∂h_{L−1} = δ_L W_L).
 * With `norm` (see {@link ReferenceNorm}), pre: u_l = φ(n_l), n_l = LN_l(h_{l−1}),
 * ∂L/∂h_{l−1} = ∂L/∂h_l + LN_lᵀ((δ_l W_l) ⊙ φ'(n_l)), and a final LN_L before the
 * readout, y = LN_L(h_{L−1}) W_Lᵀ + b_L (γ_L, β_L); post: s_l = h_{l−1} + A·z_l,
 * h_l = LN_l(s_l), δ_l = A·∂L/∂s_l, ∂L/∂h_{l−1} = ∂L/∂s_l + (δ_l W_l) ⊙ φ'(h_{l−1}).
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
  norm: ReferenceNorm | null = null,
): ReferenceResult {
  const L = layers.length;
  const hidden: Float64Array[] = [];
  const preact: Float64Array[] = [];
  // What each layer's matmul reads: h_{l−1}, or u_l = φ(h_{l−1}) (φ(n_l) pre-norm) in a block.
  const inputs: ArrayLike<number>[] = [];
  // Per block: what its LayerNorm read (pre: h_{l−1}; post: s_l) and, pre-norm, its output n_l.
  const normIn: Float64Array[] = [];
  const normOut: Float64Array[] = [];
  // Layer index l (0-based) is a residual block: hidden, not the first.
  const block = (l: number) => residual > 0 && l >= 1 && l <= L - 2;
  // Pre-norm nets end with a final LayerNorm before the readout (γ, β at index L − 1), as Pre-LN Transformers do.
  const finalNorm = norm?.place === 'pre' && residual > 0 && L >= 3;
  let h: ArrayLike<number> = input;
  for (let l = 0; l < L; l++) {
    const { W, b, fanIn, fanOut } = layers[l];
    const prev = h;
    if (block(l)) {
      let branchIn = prev;
      if (norm?.place === 'pre') {
        normIn[l] = Float64Array.from(prev);
        normOut[l] = layerNormForwardRef(prev, norm.gamma[l], norm.beta[l], batch, fanIn).y;
        branchIn = normOut[l];
      }
      h = Float64Array.from(branchIn, (v) => activationRef(activation, v));
    }
    if (l === L - 1 && finalNorm) {
      normIn[l] = Float64Array.from(prev);
      h = layerNormForwardRef(prev, norm.gamma[l], norm.beta[l], batch, fanIn).y;
    }
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
    let out: Float64Array = readout ? z : block(l) ? z.map((v, i) => prev[i] + residual * v) : z.map((v) => activationRef(activation, v));
    if (block(l) && norm?.place === 'post') {
      normIn[l] = out;
      out = layerNormForwardRef(out, norm.gamma[l], norm.beta[l], batch, fanOut).y;
    }
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
  const dGamma: Float64Array[] = Array.from({ length: L }, () => new Float64Array(0));
  const dBeta: Float64Array[] = Array.from({ length: L }, () => new Float64Array(0));
  if (!backward) return { loss: value, dW, db, delta, hidden, dGamma, dBeta };
  let dz = dy;
  // ∂L/∂h_l of the current block (residual nets), carried down the skip path; post-norm: ∂L/∂s_l.
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
      // ∂L/∂h_{l−1}: through the block's branch (masked by φ'(h_{l−1}), or φ'(n_l) and LN_lᵀ pre-norm) plus the skip, or from the readout.
      let branch: Float64Array = new Float64Array(batch * fanIn);
      const hBelow = block(l) && norm?.place === 'pre' ? normOut[l] : hidden[l - 1];
      for (let r = 0; r < batch; r++) {
        for (let i = 0; i < fanIn; i++) {
          let sum = 0;
          for (let o = 0; o < fanOut; o++) sum += dz[r * fanOut + o] * W[o * fanIn + i];
          branch[r * fanIn + i] = block(l) ? sum * activationGradRef(activation, hBelow[r * fanIn + i]) : sum;
        }
      }
      if ((block(l) || (l === L - 1 && finalNorm)) && norm?.place === 'pre') {
        const back = layerNormBackwardRef(branch, normIn[l], norm.gamma[l], batch, fanIn);
        branch = back.dx;
        dGamma[l] = back.dgamma;
        dBeta[l] = back.dbeta;
      }
      let dhPrev: Float64Array = block(l) && dh ? branch.map((v, i) => dh![i] + v) : branch;
      // Post-norm: what reaches block l−1's sum s_{l−1} is LN_{l−1}ᵀ ∂L/∂h_{l−1}.
      if (block(l - 1) && norm?.place === 'post') {
        const back = layerNormBackwardRef(dhPrev, normIn[l - 1], norm.gamma[l - 1], batch, fanIn);
        dhPrev = back.dx;
        dGamma[l - 1] = back.dgamma;
        dBeta[l - 1] = back.dbeta;
      }
      dh = dhPrev;
      // δ_{l−1} = A·∂L/∂h_{l−1} (post-norm: A·∂L/∂s_{l−1}) in a block; at layer 1, ∂L/∂h_1 ⊙ φ'(z_1).
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
  return { loss: value, dW, db, delta, hidden, dGamma, dBeta };
}
