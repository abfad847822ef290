import type { Activation } from '../kernels/elementwise.ts';
import type { InitScheme } from '../models/config.ts';
import { fitGrowth } from './verdict.ts';

/**
 * Mean-field theory beside the measurement (DESIGN.md, "Numerics that bite").
 *
 * Model conventions: layers 1..L−1 are h_l = φ(h_{l−1} W_lᵀ + b_l), layer L is a
 * linear readout. With weights of variance σ_w²/fan_in and biases of variance
 * σ_b², the mean square of a pre-activation z_l over units is (large width)
 *
 *   q_1 = σ_w,1²·s_x² + σ_b²,   q_l = σ_w,l²·E[φ(√q_{l−1} z)²] + σ_b²,
 *
 * and the squared norm of the pre-activation gradient δ_l = ∂L/∂z_l obeys
 * ‖δ_{l−1}‖² ≈ χ_{l−1}·‖δ_l‖² with χ_l = σ_w,l+1²·E[φ′(√q_l z)²].
 *
 * The length map is iterated layer by layer from the actual input (using χ at
 * the fixed point q* for every layer can be off by decades).
 */

// ---------------------------------------------------------------------------
// Gaussian expectations

/** QUADPACK qk15: Kronrod nodes (≥ 0), Kronrod weights, and the 7-point Gauss weights of the odd-indexed nodes. */
const XGK = [
  0.991455371120812639206854697526329, 0.949107912342758524526189684047851, 0.864864423359769072789712788640926,
  0.741531185599394439863864773280788, 0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
  0.207784955007898467600689403773245, 0,
];
const WGK = [
  0.02293532201052922496373200805897, 0.063092092629978553290700663189204, 0.104790010322250183839876322541518,
  0.140653259715525918745189590510238, 0.16900472663926790282658342659855, 0.190350578064785409913256402421014,
  0.204432940075298892414161999234649, 0.209482141084727828012999174891714,
];
const WG = [0.129484966168869693270611432679082, 0.27970539148927666790146777142378, 0.381830050505118944950369775488975, 0.417959183673469387755102040816327];

interface Panel {
  a: number;
  b: number;
  value: number;
  error: number;
  abs: number;
}

function kronrod15(g: (x: number) => number, a: number, b: number): Panel {
  const c = 0.5 * (a + b);
  const h = 0.5 * (b - a);
  const fc = g(c);
  let k = fc * WGK[7];
  let gauss = fc * WG[3];
  let abs = Math.abs(fc) * WGK[7];
  for (let j = 0; j < 7; j++) {
    const f1 = g(c - h * XGK[j]);
    const f2 = g(c + h * XGK[j]);
    k += WGK[j] * (f1 + f2);
    abs += WGK[j] * (Math.abs(f1) + Math.abs(f2));
    if (j % 2 === 1) gauss += WG[(j - 1) / 2] * (f1 + f2);
  }
  return { a, b, value: k * h, error: Math.abs((k - gauss) * h), abs: abs * Math.abs(h) };
}

/** Beyond |z| = 13 the standard normal density is below 1e−37: nothing an activation does out there matters. */
export const GAUSSIAN_TAIL_CUTOFF = 13;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

export interface ExpectationOptions {
  /** Relative tolerance on ∫|f|·density (default 1e−13). */
  relTol?: number;
  /** Absolute tolerance (default 1e−300). */
  absTol?: number;
  /** Panel budget of the adaptive rule (default 2000). */
  maxPanels?: number;
}

/**
 * E[f(√q·z)] for z ~ N(0, 1): globally adaptive Gauss–Kronrod (7–15) over
 * z ∈ [−13, 13], with breakpoints at 0 (where activations have their kinks)
 * and at ±k/√q (where the activation's own scale sits when q is large), so the
 * rule sees a sharp feature of f(√q·z) however large q is. The error estimate
 * is the raw |K15 − G7| of each panel, which overstates the true error of the
 * Kronrod sum by orders of magnitude for smooth f: results are accurate to
 * ~1e−14 relative for smooth f and exact (to rounding) for piecewise
 * polynomials with a kink at 0, like relu.
 */
export function gaussianExpectation(f: (u: number) => number, q: number, options: ExpectationOptions = {}): number {
  if (!(q >= 0) || !Number.isFinite(q)) throw new RangeError(`gaussianExpectation: variance q = ${q} must be finite and ≥ 0`);
  if (q === 0) return f(0);
  const relTol = options.relTol ?? 1e-13;
  const absTol = options.absTol ?? 1e-300;
  const maxPanels = options.maxPanels ?? 2000;
  const s = Math.sqrt(q);
  const g = (z: number) => f(s * z) * Math.exp(-0.5 * z * z) * INV_SQRT_2PI;
  const cut = GAUSSIAN_TAIL_CUTOFF;
  const breaks = new Set<number>([-cut, 0, cut]);
  for (const k of [0.5, 1, 2, 4, 8]) {
    const z = k / s;
    if (z < cut) {
      breaks.add(z);
      breaks.add(-z);
    }
  }
  const edges = [...breaks].sort((x, y) => x - y);
  const panels: Panel[] = [];
  for (let i = 0; i + 1 < edges.length; i++) panels.push(kronrod15(g, edges[i], edges[i + 1]));
  for (;;) {
    let value = 0;
    let error = 0;
    let abs = 0;
    let worst = 0;
    for (let i = 0; i < panels.length; i++) {
      value += panels[i].value;
      error += panels[i].error;
      abs += panels[i].abs;
      if (panels[i].error > panels[worst].error) worst = i;
    }
    if (error <= Math.max(absTol, relTol * abs) || panels.length >= maxPanels) return value;
    const p = panels[worst];
    const mid = 0.5 * (p.a + p.b);
    if (!(mid > p.a && mid < p.b)) return value;
    panels[worst] = kronrod15(g, p.a, mid);
    panels.push(kronrod15(g, mid, p.b));
  }
}

export interface GaussHermiteRule {
  /** Nodes for z ~ N(0, 1) (probabilists'), descending. */
  nodes: number[];
  /** Weights, summing to 1. */
  weights: number[];
}

const hermiteRules = new Map<number, GaussHermiteRule>();

/**
 * The n-point Gauss–Hermite rule for E[g(z)], z ~ N(0,1): Newton's method on
 * the orthonormal Hermite recurrence (stable for any n) from the asymptotic
 * first guesses of Numerical Recipes' gauher. Exact for polynomials of degree
 * < 2n. Cached.
 */
export function gaussHermiteRule(n: number): GaussHermiteRule {
  if (!Number.isInteger(n) || n < 1 || n > 400) throw new RangeError(`gaussHermiteRule: n = ${n} must be an integer in [1, 400]`);
  const cached = hermiteRules.get(n);
  if (cached) return cached;
  const x = new Array<number>(n).fill(0);
  const w = new Array<number>(n).fill(0);
  const pim4 = Math.PI ** -0.25;
  let z = 0;
  for (let i = 0; i < (n + 1) >> 1; i++) {
    if (i === 0) z = Math.sqrt(2 * n + 1) - 1.85575 * (2 * n + 1) ** -0.16667;
    else if (i === 1) z -= (1.14 * n ** 0.426) / z;
    else if (i === 2) z = 1.86 * z - 0.86 * x[0];
    else if (i === 3) z = 1.91 * z - 0.91 * x[1];
    else z = 2 * z - x[i - 2];
    let pp = 0;
    for (let it = 0; it < 100; it++) {
      let p1 = pim4;
      let p2 = 0;
      for (let j = 0; j < n; j++) {
        const p3 = p2;
        p2 = p1;
        p1 = z * Math.sqrt(2 / (j + 1)) * p2 - Math.sqrt(j / (j + 1)) * p3;
      }
      pp = Math.sqrt(2 * n) * p2;
      const z1 = z;
      z = z1 - p1 / pp;
      if (Math.abs(z - z1) <= 1e-15 * Math.max(1, Math.abs(z))) break;
    }
    x[i] = z;
    x[n - 1 - i] = -z;
    w[i] = w[n - 1 - i] = 2 / (pp * pp);
  }
  // Physicists' rule (weight e^{−x²}) → N(0, 1): z = √2·x, weights / √π.
  const rule = { nodes: x.map((v) => v * Math.SQRT2), weights: w.map((v) => v / Math.sqrt(Math.PI)) };
  hermiteRules.set(n, rule);
  return rule;
}

/**
 * E[f(√q·z)] by an n-point Gauss–Hermite rule. Converges geometrically only
 * while f(√q·z) is analytic in a wide strip: for tanh (poles at z = ±iπ/(2√q))
 * 64 nodes give ~1e−15 up to q ≈ 0.1 but only 1e−7 at q = 1 — which is why
 * gaussianExpectation is adaptive.
 */
export function gaussHermiteExpectation(f: (u: number) => number, q: number, n = 64): number {
  const { nodes, weights } = gaussHermiteRule(n);
  const s = Math.sqrt(q);
  let sum = 0;
  for (let i = 0; i < nodes.length; i++) sum += weights[i] * f(s * nodes[i]);
  return sum;
}

/**
 * Up to this q, tanh's 64-point Gauss–Hermite sums agree with the adaptive
 * rule to ~1e−15 (checked in tests/unit/analysis.test.ts) at a fraction of
 * its cost: the length map of a critical tanh net creeps toward q = 0 like
 * 1/l, so deep nets spend most layers here.
 */
export const TANH_HERMITE_MAX_Q = 0.1;

const tanhSquared = (u: number) => {
  const t = Math.tanh(u);
  return t * t;
};
const sechFourth = (u: number) => {
  const t = Math.tanh(u);
  const d = 1 - t * t;
  return d * d;
};

/** E[φ(√q z)²] for z ~ N(0,1): closed forms for relu (q/2) and linear (q), quadrature for tanh. */
export function meanSquareActivation(activation: Activation, q: number): number {
  switch (activation) {
    case 'relu':
      return q / 2;
    case 'linear':
      return q;
    case 'tanh':
      return q <= TANH_HERMITE_MAX_Q ? gaussHermiteExpectation(tanhSquared, q) : gaussianExpectation(tanhSquared, q);
  }
}

/**
 * E[φ′(√q z)²] for z ~ N(0,1): relu 1/2 (0 when q = 0, as relu′(0) = 0),
 * linear 1, tanh E[sech⁴] by quadrature.
 */
export function meanSquareDerivative(activation: Activation, q: number): number {
  switch (activation) {
    case 'relu':
      return q > 0 ? 0.5 : 0;
    case 'linear':
      return 1;
    case 'tanh':
      return q <= TANH_HERMITE_MAX_Q ? gaussHermiteExpectation(sechFourth, q) : gaussianExpectation(sechFourth, q);
  }
}

// ---------------------------------------------------------------------------
// The recursion

export interface MeanFieldParams {
  activation: Activation;
  /** Weight layers L, the readout included (hidden layers 1..L−1). */
  depth: number;
  /** σ_w² of the hidden-to-hidden weights W_2..W_{L−1}: weight variance × fan_in (gain² for gaussian init). */
  sigmaW2: number;
  /** σ_b²: the bias variance. */
  sigmaB2: number;
  /** s_x²: mean square of an input element. */
  inputMeanSquare: number;
  /** σ_w² of W_1 (default sigmaW2). */
  firstLayerSigmaW2?: number;
  /** σ_w² of the readout W_L, which carries δ_L back to δ_{L−1} (default sigmaW2). */
  readoutSigmaW2?: number;
  /** Residual scale A (0 or absent: the plain MLP); see {@link meanFieldCurve}. */
  residual?: number;
  /** LayerNorm in the residual blocks and where (absent: none); see {@link layerNormMeanFieldCurve}. Only with residual > 0 and depth ≥ 3. */
  layerNorm?: 'pre' | 'post';
}

/** One layer of the mean-field recursion: q_l and χ_l. */
export interface MeanFieldLayer {
  /** Layer l, 1..L−1. */
  index: number;
  /** q_l: predicted mean square of the pre-activation z_l. */
  q: number;
  /** χ_l = σ_w,l+1²·E[φ′(√q_l z)²]: ‖δ_l‖² ≈ χ_l·‖δ_{l+1}‖² (residual nets: the same ratio, see {@link meanFieldCurve}). */
  chi: number;
  /** p_l: predicted log10 ‖δ_l‖ − log10 ‖δ_{L−1}‖ (p_{L−1} = 0, p_{l−1} = p_l + ½ log10 χ_{l−1}). */
  log10Delta: number;
}

/**
 * Iterates the length map layer by layer and accumulates the predicted log10 ‖δ_l‖ curve, l = 1..L−1.
 *
 * Residual nets (A = `residual` > 0; pre-activation blocks 2..L−1:
 * u_l = φ(h_{l−1}), z_l = u_l W_lᵀ + b_l, h_l = h_{l−1} + A·z_l; Yang &
 * Schoenholz 2017, Hanin & Rolnick 2018). With G_l = ∂L/∂h_l and the weights
 * independent of the gradients (exact in expectation for linear branches):
 *   backward  E‖G_{l−1}‖² = (1 + A²·σ_w²·D′_{l−1})·E‖G_l‖²,  D′_l = E[φ′(h_l)²]
 *             (linear: 1 + A²·gain²; relu: D′ = P(h > 0), between ½ and ¾)
 *             ‖δ_l‖² = A²·‖G_l‖² in a block, ‖δ_1‖² = E[φ′(z_1)²]·‖G_1‖², ‖G_{L−1}‖² = σ_w,L²·‖δ_L‖²
 *   forward   h_l = s + n_l: s = φ(z_1) the stem's output (z_1 ~ N(0, q_1)) and n_l ~ N(0, v_l)
 *             the sum of the branches, v_l = v_{l−1} + A²·q_l, q_l = E[z_l²] = σ_w²·E[φ(h_{l−1})²] + σ_b²
 * so χ_l = ‖δ_l‖²/‖δ_{l+1}‖² is 1 + A²σ_w²D′_l between blocks. The mean
 * length stays bounded when Σ_l A²·σ_w²·D′_l does: A ∝ 1/√L.
 */
export function meanFieldCurve(p: MeanFieldParams): MeanFieldLayer[] {
  const { activation, depth, sigmaW2, sigmaB2, inputMeanSquare } = p;
  if (!Number.isInteger(depth) || depth < 1) throw new RangeError(`meanFieldCurve: depth ${depth} must be an integer ≥ 1`);
  for (const [name, v] of Object.entries({ sigmaW2, sigmaB2, inputMeanSquare, first: p.firstLayerSigmaW2 ?? 0, readout: p.readoutSigmaW2 ?? 0, residual: p.residual ?? 0 })) {
    if (!(v >= 0) || !Number.isFinite(v)) throw new RangeError(`meanFieldCurve: ${name} = ${v} must be finite and ≥ 0`);
  }
  if ((p.residual ?? 0) > 0 && depth >= 3) return p.layerNorm ? layerNormMeanFieldCurve(p, p.residual ?? 0, p.layerNorm) : residualMeanFieldCurve(p, p.residual ?? 0);
  const hidden = depth - 1;
  const layers: MeanFieldLayer[] = [];
  let q = (p.firstLayerSigmaW2 ?? sigmaW2) * inputMeanSquare + sigmaB2;
  let lastQ = NaN;
  let lastPhi2 = NaN;
  let lastDphi2 = NaN;
  for (let l = 1; l <= hidden; l++) {
    if (l > 1) q = sigmaW2 * lastPhi2 + sigmaB2;
    if (q !== lastQ) {
      // Near a fixed point q repeats exactly: reuse the expectations.
      lastPhi2 = meanSquareActivation(activation, q);
      lastDphi2 = meanSquareDerivative(activation, q);
      lastQ = q;
    }
    const nextSigmaW2 = l === hidden ? (p.readoutSigmaW2 ?? sigmaW2) : sigmaW2;
    layers.push({ index: l, q, chi: nextSigmaW2 * lastDphi2, log10Delta: 0 });
  }
  for (let l = hidden - 1; l >= 1; l--) {
    layers[l - 1].log10Delta = layers[l].log10Delta + 0.5 * Math.log10(layers[l - 1].chi);
  }
  return layers;
}

/** Φ(x), the standard normal CDF (erfc by its Chebyshev fit, relative error < 1.2e−7: plenty for a theory line). */
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * z);
  const erfc =
    t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? 1 - 0.5 * erfc : 0.5 * erfc;
}

/**
 * E[φ′(s + n)²] and E[φ(s + n)²] over n ~ N(0, v), for one stem value s:
 * what a residual stream h = s + n gives its next branch (closed forms for
 * relu and linear, Gauss–Hermite for tanh).
 */
function streamMoments(activation: Activation, s: number, v: number): { d: number; m: number } {
  if (activation === 'linear') return { d: 1, m: s * s + v };
  if (activation === 'relu') {
    if (v === 0) return s > 0 ? { d: 1, m: s * s } : { d: 0, m: 0 };
    const sd = Math.sqrt(v);
    const t = s / sd;
    const cdf = normalCdf(t);
    return { d: cdf, m: (s * s + v) * cdf + s * sd * Math.exp(-0.5 * t * t) * INV_SQRT_2PI };
  }
  const d = (n: number) => sechFourth(s + n);
  const m = (n: number) => tanhSquared(s + n);
  return v === 0 ? { d: d(0), m: m(0) } : { d: gaussHermiteExpectation(d, v, 32), m: gaussHermiteExpectation(m, v, 32) };
}

/** meanFieldCurve of a residual net (A > 0, depth ≥ 3): the recursion in its comment. */
function residualMeanFieldCurve(p: MeanFieldParams, A: number): MeanFieldLayer[] {
  const { activation, depth, sigmaW2, sigmaB2, inputMeanSquare } = p;
  const hidden = depth - 1;
  const A2 = A * A;
  const q1 = (p.firstLayerSigmaW2 ?? sigmaW2) * inputMeanSquare + sigmaB2;
  const phi = (u: number) => (activation === 'relu' ? (u > 0 ? u : 0) : activation === 'tanh' ? Math.tanh(u) : u);
  // D′_l and E[φ(h_l)²] of the stream h_l = φ(z_1) + n_l, averaged over the stem's z_1.
  const moments = (v: number) => {
    const over = (f: (u: number) => number) => gaussianExpectation(f, q1, { relTol: 1e-9 });
    return { d: over((u) => streamMoments(activation, phi(u), v).d), m: over((u) => streamMoments(activation, phi(u), v).m) };
  };
  const q: number[] = [];
  const dStream: number[] = [];
  let v = 0;
  let stream = moments(0);
  q[1] = q1;
  dStream[1] = stream.d;
  for (let l = 2; l <= hidden; l++) {
    q[l] = sigmaW2 * stream.m + sigmaB2;
    v += A2 * q[l];
    stream = moments(v);
    dStream[l] = stream.d;
  }
  const layers: MeanFieldLayer[] = [];
  for (let l = 1; l <= hidden; l++) {
    let chi: number;
    if (l === hidden) chi = A2 * (p.readoutSigmaW2 ?? sigmaW2); // ‖δ_{L−1}‖² = A²‖G_{L−1}‖² = A²σ_w,L²‖δ_L‖²
    else if (l === 1) chi = (meanSquareDerivative(activation, q1) * (1 + A2 * sigmaW2 * dStream[1])) / A2;
    else chi = 1 + A2 * sigmaW2 * dStream[l];
    layers.push({ index: l, q: q[l], chi, log10Delta: 0 });
  }
  for (let l = hidden - 1; l >= 1; l--) {
    layers[l - 1].log10Delta = layers[l].log10Delta + 0.5 * Math.log10(layers[l - 1].chi);
  }
  return layers;
}

/** ε under LayerNorm's square root (src/kernels/layernorm.ts LAYERNORM_EPS, as PyTorch). */
const LN_EPS = 1e-5;

/**
 * meanFieldCurve of a residual net with LayerNorm in its blocks (A > 0,
 * depth ≥ 3; src/models/config.ts): γ = 1, β = 0 at init.
 *
 * LayerNorm's Jacobian. LN(x) = (x − μ)/σ with σ² = Var_row(x) + ε has
 * J = (1/σ)·(I − 11ᵀ/n − n̂n̂ᵀ/n) (n̂ = LN(x), ‖n̂‖² ≈ n): a projection that
 * removes two of n directions, scaled by 1/σ. For a cotangent not aligned
 * with 1 or n̂, E‖Jᵀr‖² = (1 − O(1/n))·‖r‖²/σ²; the O(1/n) is dropped here
 * (the finite-width tolerance of the tests covers it).
 *
 * The stream. Every h here is (per unit, over units and batch) an affine
 * image of the stem s = φ(z_1), z_1 ~ N(0, q_1), plus an independent
 * Gaussian: h = α·(s − E s) + m + N(0, w) — the branches are sums of many
 * products with independent weights, hence Gaussian; s is not. So
 * Var_row(h) = α²·Var(s) + w, and a branch reading h (or LN(h)) sees
 *   c = E[φ(·)²],  D′ = E[φ′(·)²],  D₁ = E[φ′(z_1)²·φ′(·)²]
 * by the closed forms of streamMoments averaged over z_1. A branch's output
 * has q_l = σ_w²·c_l + σ_b² per unit.
 *
 * pre-norm: h_l = h_{l−1} + A·(φ(LN(h_{l−1})) W_lᵀ + b_l), final y = LN(h_{L−1}) W_Lᵀ + b_L.
 *   forward   v_l := Var_row(h_l) + ε = v_{l−1} + A²·q_l, v_1 = Var(s) + ε, and LN makes the branch
 *             input exactly standardized, so q_l ≈ σ_w²·c + σ_b² is the same every block (relu c = ½,
 *             linear 1, once the stream is Gaussian): v_l grows LINEARLY in l.
 *   backward  G_l = ∂L/∂h_l, δ_l = A·G_l; the branch adds Jᵀ((δ_l W_l) ⊙ φ′(LN h_{l−1})):
 *               E‖G_{l−1}‖² = (1 + A²·σ_w²·D′_l / v_{l−1})·E‖G_l‖²
 *             so χ_l = ‖δ_l‖²/‖δ_{l+1}‖² = 1 + A²σ_w²D′_{l+1}/v_l → 1 as v_l grows: the product over
 *             blocks is polynomial in L, not exponential. Linear with σ_b = 0 (c = D′ = 1, up to ε):
 *             A²σ_w² = v_{l+1} − v_l, so χ_l = v_{l+1}/v_l and ‖δ_l‖² ∝ 1/v_l; relu the same
 *             (c = D′ = ½) once the stream is Gaussian, i.e. once the stem is washed out.
 *             Readout: ‖δ_{L−1}‖² = A²·σ_w,L²·‖δ_L‖²/v_{L−1} — the final LN divides the output's
 *             gradient by √v_{L−1} ∝ √(A²L): pre-norm gradients near the output are O(1/√L).
 *   layer 1   δ_1 = G_1 ⊙ φ′(z_1), and every branch's mask φ′(LN h_{l−1}) is a function of z_1 too
 *             (the stream still carries the stem): G_1 is the readout's part plus one part per block,
 *             and under the mask the readout's part keeps E[φ′(z_1)²] of itself, block l's part
 *             D₁_l/D′_l of itself (relu: P(z_1 > 0, h_{l−1} > mean) / P(h_{l−1} > mean)).
 * post-norm: s_l = h_{l−1} + A·(φ(h_{l−1}) W_lᵀ + b_l), h_l = LN(s_l), no final LN.
 *   forward   u_l := Var_row(s_l) + ε = Var_row(h_{l−1}) + A²·q_l (+ ε); for l ≥ 3 h_{l−1} is an
 *             LN output (Var_row = 1 − ε/u): u_l ≈ 1 + A²(σ_w²c + σ_b²), constant in l.
 *   backward  S_l = ∂L/∂s_l = Jᵀ G_l, δ_l = A·S_l, G_{l−1} = S_l + (δ_l W_l) ⊙ φ′(h_{l−1}):
 *               E‖S_{l−1}‖² = (1 + A²σ_w²·D′_l)/u_{l−1} · E‖S_l‖²
 *             χ_l = (1 + A²σ_w²D′_{l+1})/u_l: each block's LN rescales by 1/√(1 + A²(σ_w²c + σ_b²))
 *             while its branch adds A²σ_w²D′; relu (c = D′ = ½ on a Gaussian stream) and linear
 *             (c = D′ = 1) with σ_b = 0 balance exactly: χ = 1, a flat profile. Readout:
 *             ‖δ_{L−1}‖² = A²·σ_w,L²·‖δ_L‖²/u_{L−1}, O(1) whatever L — the contrast with pre-norm's
 *             O(1/√L) is Xiong et al. 2020's (post-norm: large gradients near the output at init).
 *   layer 1   as for pre-norm, the parts of G_1 = S_2 + (δ_2 W_2) ⊙ φ′(h_1) (φ′(h_1) = φ′(φ(z_1)))
 *             carried down through the LNs' 1/u_l, each masked by φ′(z_1) with its own D₁_l/D′_l.
 */
export function layerNormMeanFieldCurve(p: MeanFieldParams, A: number, place: 'pre' | 'post'): MeanFieldLayer[] {
  const { activation, depth, sigmaW2, sigmaB2, inputMeanSquare } = p;
  if (!(A > 0) || depth < 3) throw new RangeError(`layerNormMeanFieldCurve: needs A > 0 (got ${A}) and depth ≥ 3 (got ${depth})`);
  const hidden = depth - 1;
  const A2 = A * A;
  const q1 = (p.firstLayerSigmaW2 ?? sigmaW2) * inputMeanSquare + sigmaB2;
  const phi = (u: number) => (activation === 'relu' ? (u > 0 ? u : 0) : activation === 'tanh' ? Math.tanh(u) : u);
  const dphi2 = (u: number) => (activation === 'relu' ? (u > 0 ? 1 : 0) : activation === 'tanh' ? sechFourth(u) : 1);
  const over = (f: (u: number) => number) => gaussianExpectation(f, q1, { relTol: 1e-9 });
  const meanS = over(phi);
  const varS = Math.max(0, over((u) => phi(u) ** 2) - meanS * meanS);
  const dz1 = meanSquareDerivative(activation, q1);
  // c, D′ and D₁ of the stream α·(s − E s) + m + N(0, w).
  const branchSees = (alpha: number, m: number, w: number) => {
    if (alpha * alpha * varS <= 1e-24 * w) {
      // The stem is washed out (post-norm shrinks it by 1/σ a block): a Gaussian stream, no integral over z_1.
      const g = streamMoments(activation, m, w);
      return { c: g.m, d: g.d, d1: dz1 * g.d };
    }
    const at = (u: number) => streamMoments(activation, alpha * (phi(u) - meanS) + m, w);
    return { c: over((u) => at(u).m), d: over((u) => at(u).d), d1: over((u) => dphi2(u) * at(u).d) };
  };
  const q: number[] = [NaN, q1];
  const chi: number[] = [];
  if (place === 'pre') {
    // v[l] = Var_row(h_l) + ε; the stream h_l = s + N(0, w_l).
    const v: number[] = [NaN, varS + LN_EPS];
    const seen: { c: number; d: number; d1: number }[] = [];
    let w = 0;
    for (let l = 2; l <= hidden; l++) {
      const sigma = Math.sqrt(v[l - 1]);
      seen[l] = branchSees(1 / sigma, 0, w / v[l - 1]);
      q[l] = sigmaW2 * seen[l].c + sigmaB2;
      w += A2 * q[l];
      v[l] = varS + w + LN_EPS;
    }
    for (let l = 2; l < hidden; l++) chi[l] = 1 + (A2 * sigmaW2 * seen[l + 1].d) / v[l];
    chi[hidden] = (A2 * (p.readoutSigmaW2 ?? sigmaW2)) / v[hidden];
    // Layer 1: G_1 = (the readout's part) + Σ_l (block l's branch part); masked by φ′(z_1), each part keeps D₁_l/D′_l of itself.
    let total = 1;
    let masked = dz1;
    for (let l = hidden; l >= 2; l--) {
      const branch = ((A2 * sigmaW2 * seen[l].d) / v[l - 1]) * total;
      if (l === 2) chi[1] = (masked + (seen[2].d > 0 ? (branch * seen[2].d1) / seen[2].d : 0)) / (A2 * total);
      total += branch;
      masked += seen[l].d > 0 ? (branch * seen[l].d1) / seen[l].d : 0;
    }
  } else {
    // u[l] = Var_row(s_l) + ε; h_{l−1} = α·(s − E s) + m + N(0, w).
    const u: number[] = [];
    const seen: { c: number; d: number; d1: number }[] = [];
    let [alpha, m, w] = [1, meanS, 0];
    for (let l = 2; l <= hidden; l++) {
      seen[l] = branchSees(alpha, m, w);
      q[l] = sigmaW2 * seen[l].c + sigmaB2;
      u[l] = alpha * alpha * varS + w + A2 * q[l] + LN_EPS;
      const sigma = Math.sqrt(u[l]);
      [alpha, m, w] = [alpha / sigma, 0, (w + A2 * q[l]) / u[l]];
    }
    for (let l = 2; l < hidden; l++) chi[l] = (1 + A2 * sigmaW2 * seen[l + 1].d) / u[l];
    chi[hidden] = (A2 * (p.readoutSigmaW2 ?? sigmaW2)) / u[hidden];
    // Layer 1, as for pre-norm: total and φ′(z_1)-masked parts of E‖S_l‖², from S_{L−1} down to G_1.
    let total = 1;
    let masked = dz1;
    for (let l = hidden; l >= 2; l--) {
      const branch = A2 * sigmaW2 * seen[l].d * total;
      if (l === 2) chi[1] = (masked + (seen[2].d > 0 ? (branch * seen[2].d1) / seen[2].d : 0)) / (A2 * total);
      else {
        total = (total + branch) / u[l - 1];
        masked = (masked + (seen[l].d > 0 ? (branch * seen[l].d1) / seen[l].d : 0)) / u[l - 1];
      }
    }
  }
  const layers: MeanFieldLayer[] = [];
  for (let l = 1; l <= hidden; l++) layers.push({ index: l, q: q[l], chi: chi[l], log10Delta: 0 });
  for (let l = hidden - 1; l >= 1; l--) {
    layers[l - 1].log10Delta = layers[l].log10Delta + 0.5 * Math.log10(layers[l - 1].chi);
  }
  return layers;
}

// ---------------------------------------------------------------------------
// Initializations and the prediction of a run

/**
 * σ_w² = (weight variance)·fan_in of one layer under each init, matching
 * src/models/mlp.ts `initStd` and the orthogonal kernel:
 * - gaussian: std gain/√fan_in → gain².
 * - he: std √2/√fan_in, ignoring --gain (He et al. 2015) → 2.
 * - xavier: std gain·√(2/(fan_in+fan_out)) → gain²·2·fan_in/(fan_in+fan_out)
 *   (= gain² for square hidden layers).
 * - orthogonal: W = gain·Q with orthonormal rows (fan_out ≤ fan_in) or
 *   columns (fan_out > fan_in) → gain²·min(1, fan_in/fan_out): for square
 *   layers every singular value is gain, so ‖δW‖ = gain·‖δ‖ exactly.
 */
export function effectiveSigmaW2(init: InitScheme, gain: number, fanIn: number, fanOut: number): number {
  switch (init) {
    case 'gaussian':
      return gain * gain;
    case 'he':
      return 2;
    case 'xavier':
      return (gain * gain * 2 * fanIn) / (fanIn + fanOut);
    case 'orthogonal':
      return gain * gain * Math.min(1, fanIn / fanOut);
  }
}

/** Which theory a prediction used. */
export type PredictionMethod =
  /** relu, gaussian-family init: χ = σ_w²/2 at every layer (He et al. 2015); exact in the mean-field limit. */
  | 'he2015'
  /** linear, gaussian-family init: χ = σ_w². */
  | 'meanfield-linear'
  /** tanh, gaussian-family init: the length map iterated from the input. */
  | 'meanfield'
  /** linear, orthogonal init: every singular value is gain, growth exactly log10(gain) per layer. */
  | 'orthogonal-linear-exact'
  /** relu or tanh, orthogonal init: mean field with σ_w = gain, a good approximation (not exact) for orthogonal weights. */
  | 'meanfield-orthogonal-approx'
  /** pre-activation residual blocks (A > 0): per block E‖∂L/∂h_{l−1}‖² = (1 + A²·σ_w²·E[φ′(h_{l−1})²])·E‖∂L/∂h_l‖², iterated (see meanFieldCurve); exact in expectation for linear branches. */
  | 'residual-meanfield'
  /** pre-norm LayerNorm blocks (`--norm layer --norm-place pre`): E‖G_{l−1}‖² = (1 + A²σ_w²D′_l/v_{l−1})·E‖G_l‖², v_l the residual stream's variance, growing linearly in l (see layerNormMeanFieldCurve): polynomial, not exponential. */
  | 'layernorm-pre-meanfield'
  /** post-norm LayerNorm blocks (`--norm-place post`): each block's LN rescales E‖∂L/∂s‖² by (1 + A²σ_w²D′)/(1 + A²(σ_w²c + σ_b²)) (see layerNormMeanFieldCurve). */
  | 'layernorm-post-meanfield'
  /** No theory line (kept for reports written before the LayerNorm mean field existed). */
  | 'none';

/** The parts of an MLP config the theory needs (see {@link predictGrowth}). */
export interface GrowthPredictionInput {
  activation: Activation;
  init: InitScheme;
  gain: number;
  /** σ_b (the std, as --bias-std). */
  biasStd: number;
  width: number;
  inputSize: number;
  /** s_x²: mean square of an input element (1 for N(0,1) inputs). */
  inputMeanSquare: number;
  /** Weight layers L, the readout included. */
  depth: number;
  /** Output features (default width); only the readout's χ_{L−1} depends on it. */
  outputSize?: number;
  /** Residual scale A (0 or absent: plain). */
  residual?: number;
  /** LayerNorm in the residual blocks (`--norm layer`; needs residual > 0, depth ≥ 3): true or 'pre' for pre-norm, 'post' for post-norm. */
  layerNorm?: boolean | 'pre' | 'post';
}

/** What {@link predictGrowth} predicts: the growth per layer, the total change, the curve and the method. */
export interface GrowthPrediction {
  /**
   * The least-squares slope of the predicted log10 ‖δ_l‖ against L − l over
   * l = L−1..1 — the same fit (`fitGrowth`) the verdict applies to the
   * measurement; null when depth < 3 (fewer than two hidden layers).
   */
  predictedGrowthPerLayer: number | null;
  /** Layers 1..L−1. */
  curve: MeanFieldLayer[];
  method: PredictionMethod;
  /** σ_w² of the hidden-to-hidden weights. */
  sigmaW2: number;
  sigmaB2: number;
  /** Predicted log10 ‖δ_1‖/‖δ_{L−1}‖ (p_1); 0 when depth ≤ 2. */
  predictedLog10Ratio: number;
  /** Predicted log10 ‖δ_1‖/‖δ_L‖ = ½ Σ_{l=1}^{L−1} log10 χ_l, the readout included; 0 when depth = 1. */
  predictedLog10RatioToOutput: number;
  /**
   * Finite width (relu and linear with gaussian-family weights; see
   * finiteWidthDriftPerLayer): the per-layer drift of the TYPICAL log10 ‖δ‖
   * (its mean over networks) below the mean-field line, ≤ 0; null where no
   * correction is derived (tanh, orthogonal weights: the mean field is then
   * the whole prediction).
   */
  finiteWidthDriftPerLayer: number | null;
  /** predictedGrowthPerLayer + finiteWidthDriftPerLayer (the same fit on the corrected curve); null where either is. */
  predictedGrowthPerLayerFiniteWidth: number | null;
  /** Predicted typical log10 ‖δ_1‖/‖δ_{L−1}‖ at this width (p_1 with the drift); equals predictedLog10Ratio where no correction applies. */
  predictedLog10RatioFiniteWidth: number;
  /**
   * The line to draw and print: typical log10 ‖δ_l‖ − log10 ‖δ_{L−1}‖ for
   * l = 1..L−1, the mean-field curve plus the finite-width drift over the
   * L−1−l layers between l and L−1 (the mean-field curve itself where no
   * correction applies). `curve[i].log10Delta` stays the mean-field value.
   */
  log10DeltaFiniteWidth: number[];
}

/** The theory's growth of ‖δ_l‖ for an MLP config: the mean-field recursion iterated layer by layer from the input (exact for ReLU: χ = gain²/2). */
export function predictGrowth(input: GrowthPredictionInput): GrowthPrediction {
  const { activation, init, gain, biasStd, width, inputSize, inputMeanSquare, depth } = input;
  const lnPlace = input.layerNorm && (input.residual ?? 0) > 0 && depth >= 3 ? (input.layerNorm === 'post' ? 'post' : 'pre') : undefined;
  const outputSize = input.outputSize ?? width;
  const sigmaW2 = effectiveSigmaW2(init, gain, width, width);
  const sigmaB2 = biasStd * biasStd;
  const curve = meanFieldCurve({
    activation,
    depth,
    sigmaW2,
    sigmaB2,
    inputMeanSquare,
    firstLayerSigmaW2: effectiveSigmaW2(init, gain, inputSize, depth === 1 ? outputSize : width),
    readoutSigmaW2: effectiveSigmaW2(init, gain, width, outputSize),
    residual: input.residual ?? 0,
    layerNorm: lnPlace,
  });
  let method: PredictionMethod;
  if (lnPlace) method = lnPlace === 'pre' ? 'layernorm-pre-meanfield' : 'layernorm-post-meanfield';
  else if ((input.residual ?? 0) > 0 && depth >= 3) method = 'residual-meanfield';
  else if (init === 'orthogonal') method = activation === 'linear' ? 'orthogonal-linear-exact' : 'meanfield-orthogonal-approx';
  else method = activation === 'relu' ? 'he2015' : activation === 'linear' ? 'meanfield-linear' : 'meanfield';
  const fit = fitGrowth(curve.map((layer) => layer.log10Delta));
  const p1 = curve.length > 0 ? curve[0].log10Delta : 0;
  const last = curve.length > 0 ? 0.5 * Math.log10(curve[curve.length - 1].chi) : 0;
  const drift = method === 'he2015' || method === 'meanfield-linear' ? finiteWidthDriftPerLayer(activation === 'relu' ? 'relu' : 'linear', width) : null;
  const hidden = curve.length;
  // p_l − p_{L−1} gains the drift once per layer between l and L−1; the fitted slope gains it exactly once.
  const log10DeltaFiniteWidth = curve.map((layer, i) => layer.log10Delta + (drift ?? 0) * (hidden - 1 - i));
  const slope = fit ? fit.slope : null;
  return {
    predictedGrowthPerLayer: slope,
    curve,
    method,
    sigmaW2,
    sigmaB2,
    predictedLog10Ratio: p1,
    predictedLog10RatioToOutput: p1 + last,
    finiteWidthDriftPerLayer: drift,
    predictedGrowthPerLayerFiniteWidth: slope !== null && drift !== null ? slope + drift : null,
    predictedLog10RatioFiniteWidth: hidden > 0 ? log10DeltaFiniteWidth[0] : 0,
    log10DeltaFiniteWidth,
  };
}

// ---------------------------------------------------------------------------
// Critical lines

/** The critical gain of a relu net (χ = gain²/2 = 1). */
export const RELU_CRITICAL_GAIN = Math.SQRT2;

/** A point of the tanh critical line (χ = 1 at the fixed point q*). */
export interface TanhCriticalPoint {
  /** σ_w² on the critical line for the given σ_b². */
  sigmaW2: number;
  sigmaB2: number;
  /** The fixed point q* of the length map there. */
  qStar: number;
}

/**
 * The tanh order-to-chaos line: for a bias variance σ_b², the σ_w² at which
 * χ(q*) = σ_w²·E[sech⁴(√q* z)] = 1 at the fixed point q* = σ_w²·E[tanh²(√q* z)] + σ_b².
 *
 * Solved by one bisection on q* (in log q): χ = 1 gives σ_w²(q) = 1/E[sech⁴(√q z)],
 * and the fixed-point equation then gives σ_b²(q) = q − σ_w²(q)·E[tanh²(√q z)],
 * which increases from 0 (q → 0) monotonically; σ_b² = 0 gives σ_w² = 1, q* = 0.
 */
export function tanhCriticalPoint(sigmaB2: number): TanhCriticalPoint {
  if (!(sigmaB2 >= 0) || !Number.isFinite(sigmaB2)) throw new RangeError(`tanhCriticalPoint: σ_b² = ${sigmaB2} must be finite and ≥ 0`);
  if (sigmaB2 === 0) return { sigmaW2: 1, sigmaB2: 0, qStar: 0 };
  const sw2 = (q: number) => 1 / meanSquareDerivative('tanh', q);
  const sb2 = (q: number) => q - sw2(q) * meanSquareActivation('tanh', q);
  let lo = Math.log(1e-300);
  let hi = 0;
  while (sb2(Math.exp(hi)) < sigmaB2) {
    lo = hi;
    hi += 2;
    if (hi > 700) throw new RangeError(`tanhCriticalPoint: no critical point for σ_b² = ${sigmaB2}`);
  }
  for (let i = 0; i < 200 && hi - lo > 1e-15 * Math.max(1, Math.abs(hi)); i++) {
    const mid = 0.5 * (lo + hi);
    if (sb2(Math.exp(mid)) < sigmaB2) lo = mid;
    else hi = mid;
  }
  const qStar = Math.exp(0.5 * (lo + hi));
  return { sigmaW2: sw2(qStar), sigmaB2, qStar };
}

/** The critical σ_w² of tanh for a bias variance σ_b² (the gain is its square root). */
export function tanhCriticalSigmaW2(sigmaB2: number): number {
  return tanhCriticalPoint(sigmaB2).sigmaW2;
}

// ---------------------------------------------------------------------------
// Finite width

/** ψ(x), the digamma function, for x > 0: recurrence up to x ≥ 10, then its asymptotic series (~1e−14). */
export function digamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`digamma: x = ${x} must be > 0`);
  let shift = 0;
  while (x < 10) {
    shift -= 1 / x;
    x += 1;
  }
  const f = 1 / (x * x);
  return shift + Math.log(x) - 0.5 / x - f * (1 / 12 - f * (1 / 120 - f * (1 / 252 - f * (1 / 240 - f / 132))));
}

/**
 * E[ln F] − ln χ for one layer's squared gradient factor F = ‖δ_{l−1}‖²/‖δ_l‖²
 * at width n (Hanin 2018, "Which neural net architectures give rise to
 * exploding and vanishing gradients?"; the derivation is short): with
 * gaussian W of variance σ²/n, (W_lᵀδ_l) has n independent N(0, σ²‖δ_l‖²/n)
 * entries, so
 * - linear: F = (σ²/n)·χ²_n, E[ln F] − ln σ² = ψ(n/2) + ln(2/n) ≈ −1/n;
 * - relu: the mask keeps K ~ Binomial(n, ½) of them (the mask comes from the
 *   forward pass, independent of W_l), F = (σ²/n)·χ²_K, and with χ = σ²/2
 *   E[ln F] − ln χ = E[ψ(K/2)] + ln(4/n) ≈ −5/(2n) (K ≥ 1: a layer with every
 *   unit dead, probability 2⁻ⁿ, ends the gradient and is left out).
 * The variance is ≈ 5/n (relu) and 2/n (linear): DESIGN.md, "Finite width".
 * Exact sums (not the leading terms) so that a simulation at width 32 agrees
 * to its statistical error; at n = 128 the relu value is 1.3% above 5/(2n).
 */
export function finiteWidthLogFactorBias(activation: 'relu' | 'linear', width: number): number {
  if (!Number.isInteger(width) || width < 1) throw new RangeError(`finiteWidthLogFactorBias: width ${width} must be an integer ≥ 1`);
  const n = width;
  if (activation === 'linear') return digamma(n / 2) + Math.log(2 / n);
  // Σ_{k≥1} P(K = k)·ψ(k/2), normalized over k ≥ 1; log-pmf built incrementally (no lgamma needed).
  let logC = 0; // ln C(n, 0)
  let sum = 0;
  let mass = 0;
  for (let k = 1; k <= n; k++) {
    logC += Math.log((n - k + 1) / k);
    const p = Math.exp(logC - n * Math.LN2);
    if (p === 0) continue;
    sum += p * digamma(k / 2);
    mass += p;
  }
  return sum / mass + Math.log(4 / n);
}

/**
 * Per-layer drift of the typical log10 ‖δ‖ (the mean of log10 over networks)
 * below the mean-field line: ½·finiteWidthLogFactorBias / ln 10 (the norm is
 * the square root of F). relu at n = 128: −0.00430 a layer, −21.5 decades
 * over 5000 layers, which is why He init at that depth and width vanishes
 * although χ = 1 exactly.
 */
export function finiteWidthDriftPerLayer(activation: 'relu' | 'linear', width: number): number {
  return finiteWidthLogFactorBias(activation, width) / (2 * Math.LN10);
}

/** The finite-width band around the predicted growth per layer within which a measurement agrees with the theory. */
export interface GrowthTolerance {
  /**
   * Expected finite-width bias of the per-layer growth (log10 of ‖δ‖ per
   * layer) relative to ½·log10(gain²/2): finiteWidthDriftPerLayer('relu', n) ≈ −(5/(2n))/(2 ln 10).
   */
  bias: number;
  /** `sigmas` standard deviations of the least-squares slope (per layer) over the fitted layers. */
  halfWidth: number;
  /** Std of one layer's log10 factor: √(5/n)/(2 ln 10) ≈ 0.4855/√n. */
  perLayerStd: number;
  /** Std of the fitted slope when the log10 ‖δ‖ curve is a random walk with perLayerStd steps. */
  slopeStd: number;
  /** Per-sample spread of log10 ‖δ_1‖/‖δ_{L−1}‖: perLayerStd·√(L−2) ≈ 0.486·√(L/n). */
  totalStd: number;
}

/**
 * Std of the least-squares slope (`fitGrowth`) fitted to `points` values of a
 * random walk with steps of std `stepStd`: the slope is Σ_k e_k·Σ_{j≥k} w_j
 * with w the least-squares weights, so its variance is stepStd²·Σ_k (Σ_{j≥k} w_j)²
 * (≈ 6·stepStd²/(5·steps) for many points, a little above the endpoint
 * estimator's stepStd²/steps). 0 when fewer than two points.
 */
export function randomWalkSlopeStd(points: number, stepStd: number): number {
  if (points < 2) return 0;
  const mean = (points - 1) / 2;
  let sxx = 0;
  for (let j = 0; j < points; j++) sxx += (j - mean) ** 2;
  let tail = 0;
  let variance = 0;
  // Steps k = 1..points−1 enter every value j ≥ k.
  for (let j = points - 1; j >= 1; j--) {
    tail += (j - mean) / sxx;
    variance += tail * tail;
  }
  return stepStd * Math.sqrt(variance);
}

/**
 * Tolerance for comparing a measured relu growthPerLayer (width n, depth L,
 * one sample: the batch's Frobenius norm only narrows it) with ½·log10(gain²/2).
 * Per layer, ln of the squared-norm gradient factor has mean ln(gain²/2) − 5/(2n)
 * and variance 5/n, so log10 of the norm factor has mean ½·log10(gain²/2) −
 * (5/(2n))/(2 ln 10) and std √(5/n)/(2 ln 10) = 0.4855/√n; over the L−2 fitted
 * steps the total spreads as 0.4855·√((L−2)/n).
 */
export function reluGrowthTolerance(width: number, depth: number, sigmas = 4): GrowthTolerance {
  if (!(width >= 1)) throw new RangeError(`reluGrowthTolerance: width ${width} must be ≥ 1`);
  // The exact mean (finiteWidthDriftPerLayer), whose leading term is −(5/(2n))/(2 ln 10): the theory line the page draws and this tolerance share it.
  const bias = finiteWidthDriftPerLayer('relu', Math.round(width));
  const perLayerStd = Math.sqrt(5 / width) / (2 * Math.LN10);
  const points = Math.max(0, depth - 1);
  const slopeStd = randomWalkSlopeStd(points, perLayerStd);
  return { bias, halfWidth: sigmas * slopeStd, perLayerStd, slopeStd, totalStd: perLayerStd * Math.sqrt(Math.max(0, depth - 2)) };
}
