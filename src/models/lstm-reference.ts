/**
 * float64 reference of one LSTM training step from a dump's tensors
 * (src/models/lstm.ts conventions): the input part of the gates, forward
 * through time with the kernels' step references (src/kernels/lstm.ts), the
 * readout and loss at the last step, backward through time, and every
 * parameter gradient. It checks the GPU; it never runs in place of it.
 */
import { lstmBackwardStepReference, lstmForwardStepReference, type LstmCarry } from '../kernels/lstm.ts';
import type { LossKind } from './config.ts';

type Numbers = ArrayLike<number>;

/** The LSTM's parameters by their dump names. */
export interface LstmReferenceParams {
  /** [4H, in] */
  W_ih: Numbers;
  /** [4H, H] */
  W_hh: Numbers;
  /** [4H] */
  b: Numbers;
  /** [out, H] */
  W_hy: Numbers;
  /** [out] */
  b_y: Numbers;
}

export interface LstmReferenceDims {
  seqLen: number;
  batch: number;
  input: number;
  hidden: number;
  output: number;
}

export interface LstmReferenceResult {
  loss: number;
  grads: { W_ih: Float64Array; W_hh: Float64Array; b: Float64Array; W_hy: Float64Array; b_y: Float64Array };
  /** h_t, c_t [B, H] for t = 0..T (h_0 = c_0 = 0). */
  hidden: Float64Array[];
  cell: Float64Array[];
  /** i, f, g, o of step t [4, B, H] at index t − 1. */
  gates: Float64Array[];
  /** ∂L/∂h_t, ∂L/∂c_t [B, H] and ∂L/∂z_t [B, 4H] for t = 1..T at index t − 1. */
  dh: Float64Array[];
  dc: Float64Array[];
  dz: Float64Array[];
  /** f_t ⊙ ∂L/∂c_t [B, H] for t = 1..T at index t − 1 (the cell path's share of ∂L/∂c_{t−1}). */
  dcf: Float64Array[];
  /** y [B, out]. */
  y: Float64Array;
}

/** The forward pass and the loss: h, c, gates per step and y. */
function forward(p: LstmReferenceParams, d: LstmReferenceDims, loss: LossKind, input: Numbers, target: Numbers) {
  const { seqLen: T, batch: B, input: I, hidden: H, output: O } = d;
  const hidden: Float64Array[] = [new Float64Array(B * H)];
  const cell: Float64Array[] = [new Float64Array(B * H)];
  const gates: Float64Array[] = [];
  for (let t = 1; t <= T; t++) {
    const zx = new Float64Array(B * 4 * H);
    for (let b = 0; b < B; b++) {
      for (let k = 0; k < 4 * H; k++) {
        let sum = p.b[k];
        for (let m = 0; m < I; m++) sum += input[((t - 1) * B + b) * I + m] * p.W_ih[k * I + m];
        zx[b * 4 * H + k] = sum;
      }
    }
    const r = lstmForwardStepReference(B, H, p.W_hh, zx, hidden[t - 1], cell[t - 1]);
    hidden.push(r.h);
    cell.push(r.c);
    gates.push(r.gates);
  }
  const y = new Float64Array(B * O);
  const dy = new Float64Array(B * O);
  let value = 0;
  for (let b = 0; b < B; b++) {
    for (let o = 0; o < O; o++) {
      let sum = p.b_y[o];
      for (let j = 0; j < H; j++) sum += hidden[T][b * H + j] * p.W_hy[o * H + j];
      const i = b * O + o;
      y[i] = sum;
      // mse: the mean over B·out of (y − target)² (PyTorch's MSELoss); probe: Σ g ⊙ y.
      if (loss === 'mse') {
        value += (sum - target[i]) ** 2 / (B * O);
        dy[i] = (2 * (sum - target[i])) / (B * O);
      } else {
        value += sum * target[i];
        dy[i] = target[i];
      }
    }
  }
  return { hidden, cell, gates, y, dy, loss: value };
}

/** The loss alone (for finite differences). */
export function lstmLossReference(p: LstmReferenceParams, d: LstmReferenceDims, loss: LossKind, input: Numbers, target: Numbers): number {
  return forward(p, d, loss, input, target).loss;
}

/** One full step: loss, every gradient and the per-timestep state and gradients (full BPTT, the loss at step T). */
export function lstmStepReference(p: LstmReferenceParams, d: LstmReferenceDims, loss: LossKind, input: Numbers, target: Numbers): LstmReferenceResult {
  const { seqLen: T, batch: B, input: I, hidden: H, output: O } = d;
  const f = forward(p, d, loss, input, target);
  const grads = {
    W_ih: new Float64Array(4 * H * I),
    W_hh: new Float64Array(4 * H * H),
    b: new Float64Array(4 * H),
    W_hy: new Float64Array(O * H),
    b_y: new Float64Array(O),
  };
  const direct = new Float64Array(B * H);
  for (let b = 0; b < B; b++) {
    for (let o = 0; o < O; o++) {
      const g = f.dy[b * O + o];
      grads.b_y[o] += g;
      for (let j = 0; j < H; j++) {
        grads.W_hy[o * H + j] += g * f.hidden[T][b * H + j];
        direct[b * H + j] += g * p.W_hy[o * H + j];
      }
    }
  }
  const dh: Float64Array[] = new Array(T);
  const dc: Float64Array[] = new Array(T);
  const dz: Float64Array[] = new Array(T);
  const dcf: Float64Array[] = new Array(T);
  let carry: LstmCarry | null = null;
  for (let t = T; t >= 1; t--) {
    const r = lstmBackwardStepReference(B, H, p.W_hh, f.gates[t - 1], f.cell[t], f.cell[t - 1], t === T ? direct : null, carry);
    dh[t - 1] = r.dh;
    dc[t - 1] = r.dc;
    dz[t - 1] = r.dz;
    dcf[t - 1] = r.dcf;
    carry = { dz: r.dz, dcf: r.dcf };
    for (let b = 0; b < B; b++) {
      for (let k = 0; k < 4 * H; k++) {
        const g = r.dz[b * 4 * H + k];
        grads.b[k] += g;
        for (let j = 0; j < H; j++) grads.W_hh[k * H + j] += g * f.hidden[t - 1][b * H + j];
        for (let m = 0; m < I; m++) grads.W_ih[k * I + m] += g * input[((t - 1) * B + b) * I + m];
      }
    }
  }
  return { loss: f.loss, grads, hidden: f.hidden, cell: f.cell, gates: f.gates, dh, dc, dcf, dz, y: f.y };
}
