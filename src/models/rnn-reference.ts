/**
 * float64 reference of one RNN training step from a dump's tensors (DESIGN.md
 * conventions, src/models/rnn.ts): forward through time, loss, backward
 * through time with the engine's truncation rule (backwardSteps). It checks
 * the GPU; it never runs in place of it.
 */
import { activationGradRef, activationRef, type Activation } from '../kernels/elementwise.ts';
import { backwardSteps } from '../kernels/rnn.ts';
import type { LossKind } from './config.ts';
import type { LossAt } from './rnn.ts';

type Numbers = ArrayLike<number>;

export interface RnnReferenceParams {
  /** [H, in] */
  Wxh: Numbers;
  /** [H, H] */
  Whh: Numbers;
  /** [H] */
  bh: Numbers;
  /** [out, H] */
  Why: Numbers;
  /** [out] */
  by: Numbers;
}

export interface RnnReferenceDims {
  seqLen: number;
  batch: number;
  input: number;
  hidden: number;
  output: number;
}

export interface RnnReferenceOptions {
  activation: Activation;
  loss: LossKind;
  lossAt: LossAt;
  /** Truncation k (≥ T: full BPTT). */
  bptt: number;
}

export interface RnnReferenceResult {
  loss: number;
  grads: { Wxh: Float64Array; Whh: Float64Array; bh: Float64Array; Why: Float64Array; by: Float64Array };
  /** h_t [B, H] for t = 0..T (h_0 = 0). */
  hidden: Float64Array[];
  /** z_t for t = 1..T at index t − 1. */
  preact: Float64Array[];
  /** ∂L/∂h_t, ∂L/∂z_t for t = 1..T at index t − 1 (zero where truncation stops the gradient). */
  dh: Float64Array[];
  dz: Float64Array[];
  /** y at the readout steps: [B, out] each (one for 'last', T for 'all'). */
  y: Float64Array[];
}

/** x · Wᵀ for x [rows, n], W [m, n] → [rows, m], added into `out`. */
function addMatmulNT(out: Float64Array, x: Numbers, xOffset: number, W: Numbers, rows: number, n: number, m: number): void {
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < m; o++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += x[xOffset + r * n + i] * W[o * n + i];
      out[r * m + o] += s;
    }
  }
}

/** g [rows, m] · W [m, n] → [rows, n], added into `out`. */
function addMatmulNN(out: Float64Array, g: Numbers, W: Numbers, rows: number, m: number, n: number): void {
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let o = 0; o < m; o++) s += g[r * m + o] * W[o * n + i];
      out[r * n + i] += s;
    }
  }
}

/** dW [m, n] += gᵀ [m, rows] · a [rows, n]. */
function addOuter(dW: Float64Array, g: Numbers, a: Numbers, aOffset: number, rows: number, m: number, n: number): void {
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < m; o++) {
      const go = g[r * m + o];
      if (go === 0) continue;
      for (let i = 0; i < n; i++) dW[o * n + i] += go * a[aOffset + r * n + i];
    }
  }
}

/**
 * One step in float64. `input` is [T, B, in]; `target` is [B, out] (lossAt
 * last) or [T, B, out] (all): mse targets, or the probe's cotangent g.
 */
export function rnnStepReference(
  p: RnnReferenceParams,
  d: RnnReferenceDims,
  o: RnnReferenceOptions,
  input: Numbers,
  target: Numbers,
  backward = true,
): RnnReferenceResult {
  const { seqLen: T, batch: B, input: I, hidden: H, output: O } = d;
  const hidden: Float64Array[] = [new Float64Array(B * H)];
  const preact: Float64Array[] = [];
  for (let t = 1; t <= T; t++) {
    const z = new Float64Array(B * H);
    for (let r = 0; r < B; r++) for (let j = 0; j < H; j++) z[r * H + j] = p.bh[j];
    addMatmulNT(z, input, (t - 1) * B * I, p.Wxh, B, I, H);
    addMatmulNT(z, hidden[t - 1], 0, p.Whh, B, H, H);
    preact.push(z);
    hidden.push(z.map((v) => activationRef(o.activation, v)));
  }
  const readoutSteps = o.lossAt === 'all' ? Array.from({ length: T }, (_, i) => i + 1) : [T];
  const y: Float64Array[] = [];
  for (const t of readoutSteps) {
    const yt = new Float64Array(B * O);
    for (let r = 0; r < B; r++) for (let k = 0; k < O; k++) yt[r * O + k] = p.by[k];
    addMatmulNT(yt, hidden[t], 0, p.Why, B, H, O);
    y.push(yt);
  }
  const count = readoutSteps.length * B * O;
  let loss = 0;
  const dy: Float64Array[] = y.map((yt, s) => {
    const g = new Float64Array(B * O);
    for (let i = 0; i < B * O; i++) {
      const tv = target[s * B * O + i];
      if (o.loss === 'mse') {
        const diff = yt[i] - tv;
        loss += (diff * diff) / count;
        g[i] = (2 * diff) / count;
      } else {
        loss += tv * yt[i];
        g[i] = tv;
      }
    }
    return g;
  });
  const grads = {
    Wxh: new Float64Array(H * I),
    Whh: new Float64Array(H * H),
    bh: new Float64Array(H),
    Why: new Float64Array(O * H),
    by: new Float64Array(O),
  };
  const dh = Array.from({ length: T }, () => new Float64Array(B * H));
  const dz = Array.from({ length: T }, () => new Float64Array(B * H));
  if (!backward) return { loss, grads, hidden, preact, dh, dz, y };
  readoutSteps.forEach((t, s) => {
    addOuter(grads.Why, dy[s], hidden[t], 0, B, O, H);
    for (let r = 0; r < B; r++) for (let k = 0; k < O; k++) grads.by[k] += dy[s][r * O + k];
  });
  for (const v of backwardSteps(T, { lossAll: o.lossAt === 'all', bptt: o.bptt })) {
    const g = dh[v.t - 1];
    if (v.direct) addMatmulNN(g, dy[o.lossAt === 'all' ? v.t - 1 : 0], p.Why, B, O, H);
    if (v.carry) addMatmulNN(g, dz[v.t], p.Whh, B, H, H);
    const z = preact[v.t - 1];
    const gz = dz[v.t - 1];
    for (let i = 0; i < B * H; i++) gz[i] = g[i] * activationGradRef(o.activation, z[i]);
    addOuter(grads.Whh, gz, hidden[v.t - 1], 0, B, H, H);
    addOuter(grads.Wxh, gz, input, (v.t - 1) * B * I, B, H, I);
    for (let r = 0; r < B; r++) for (let j = 0; j < H; j++) grads.bh[j] += gz[r * H + j];
  }
  return { loss, grads, hidden, preact, dh, dz, y };
}

export function rnnLossReference(p: RnnReferenceParams, d: RnnReferenceDims, o: RnnReferenceOptions, input: Numbers, target: Numbers): number {
  return rnnStepReference(p, d, o, input, target, false).loss;
}

/** ‖dh_t‖_F for t = 1..T (index t − 1). */
export function hiddenGradNorms(r: RnnReferenceResult): number[] {
  return r.dh.map((g) => Math.sqrt(g.reduce((s, v) => s + v * v, 0)));
}
