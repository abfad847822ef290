import { describe, expect, it } from 'vitest';
import {
  EXPLODING_DECADES,
  RELU_CRITICAL_GAIN,
  TANH_HERMITE_MAX_Q,
  VANISHING_DECADES,
  describeVerdicts,
  digamma,
  effectiveSigmaW2,
  finiteWidthDriftPerLayer,
  firstNonfiniteStep,
  fitGrowth,
  gaussHermiteExpectation,
  gaussHermiteRule,
  gaussianExpectation,
  meanFieldCurve,
  meanSquareActivation,
  meanSquareDerivative,
  mlpVerdict,
  predictGrowth,
  randomWalkSlopeStd,
  reluGrowthTolerance,
  rnnVerdict,
  runVerdict,
  tanhCriticalPoint,
  type GrowthPredictionInput,
  type StepRecordLike,
} from '../../src/analysis/index.ts';
import { initStd } from '../../src/models/mlp.ts';
import { buildRunReport } from '../../src/report/run-report.ts';
import { MLP_DEFAULTS, type MlpConfig } from '../../src/models/config.ts';
import type { StepStats } from '../../src/scheduler/mlp-trainer.ts';

// ---------------------------------------------------------------------------
// Helpers

/** Deterministic N(0,1) stream: mulberry32 uniforms, Box–Muller using both outputs. */
function normals(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let spare = NaN;
  return () => {
    if (!Number.isNaN(spare)) {
      const s = spare;
      spare = NaN;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(1 - uniform()));
    const theta = 2 * Math.PI * uniform();
    spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  };
}

/** Composite Simpson of E[f(√q z)] over z ∈ [−13, 13] with `intervals` (even) intervals: the slow, obvious reference. */
function simpsonExpectation(f: (u: number) => number, q: number, intervals = 200_000): number {
  const a = -13;
  const h = 26 / intervals;
  const s = Math.sqrt(q);
  const g = (z: number) => (f(s * z) * Math.exp(-0.5 * z * z)) / Math.sqrt(2 * Math.PI);
  let sum = g(a) + g(-a);
  for (let i = 1; i < intervals; i++) sum += (i % 2 === 1 ? 4 : 2) * g(a + i * h);
  return (sum * h) / 3;
}

const tanh2 = (u: number) => Math.tanh(u) ** 2;
const sech4 = (u: number) => (1 - Math.tanh(u) ** 2) ** 2;

/**
 * A float64 MLP with the DESIGN.md conventions (square layers of width n, the
 * readout included), gaussian weights N(0, gain²/n), biases N(0, σ_b²), N(0,1)
 * inputs, probe loss: δ_L = g ~ N(0,1). Returns ‖δ_l‖_F (l = 1..L) and the mean
 * square of z_l (l = 1..L).
 */
function simulateMlp(o: { seed: number; width: number; depth: number; batch: number; gain: number; biasStd: number; activation: 'tanh' | 'relu' }) {
  const { width: n, depth: L, batch: B } = o;
  const rand = normals(o.seed);
  const phi = o.activation === 'tanh' ? Math.tanh : (x: number) => (x > 0 ? x : 0);
  const dphi =
    o.activation === 'tanh'
      ? (x: number) => {
          const t = Math.tanh(x);
          return 1 - t * t;
        }
      : (x: number) => (x > 0 ? 1 : 0);
  let h = new Float64Array(B * n);
  for (let i = 0; i < h.length; i++) h[i] = rand();
  const weights: Float64Array[] = [];
  const zs: Float64Array[] = [];
  const meanSquareZ: number[] = [];
  const std = o.gain / Math.sqrt(n);
  for (let l = 1; l <= L; l++) {
    const w = new Float64Array(n * n);
    for (let i = 0; i < w.length; i++) w[i] = rand() * std;
    const b = new Float64Array(n);
    for (let i = 0; i < n; i++) b[i] = rand() * o.biasStd;
    const z = new Float64Array(B * n);
    let ssq = 0;
    for (let r = 0; r < B; r++) {
      for (let j = 0; j < n; j++) {
        let s = b[j];
        for (let i = 0; i < n; i++) s += h[r * n + i] * w[j * n + i];
        z[r * n + j] = s;
        ssq += s * s;
      }
    }
    weights.push(w);
    zs.push(z);
    meanSquareZ.push(ssq / (B * n));
    h = l < L ? z.map(phi) : z;
  }
  let d = new Float64Array(B * n);
  for (let i = 0; i < d.length; i++) d[i] = rand();
  const norm = (x: Float64Array) => Math.sqrt(x.reduce((s, v) => s + v * v, 0));
  const deltaNorms = new Array<number>(L);
  deltaNorms[L - 1] = norm(d);
  for (let l = L; l >= 2; l--) {
    const w = weights[l - 1];
    const z = zs[l - 2];
    const next = new Float64Array(B * n);
    for (let r = 0; r < B; r++) {
      for (let j = 0; j < n; j++) {
        const dv = d[r * n + j];
        if (dv === 0) continue;
        for (let i = 0; i < n; i++) next[r * n + i] += dv * w[j * n + i];
      }
      for (let i = 0; i < n; i++) next[r * n + i] *= dphi(z[r * n + i]);
    }
    d = next;
    deltaNorms[l - 2] = norm(d);
  }
  return { deltaNorms, meanSquareZ };
}

const base: GrowthPredictionInput = {
  activation: 'relu',
  init: 'gaussian',
  gain: 1,
  biasStd: 0,
  width: 256,
  inputSize: 256,
  inputMeanSquare: 1,
  depth: 50,
};

// ---------------------------------------------------------------------------
// Gaussian expectations

describe('Gaussian expectations', () => {
  it('integrates moments exactly', () => {
    expect(gaussianExpectation((u) => u * u, 1)).toBeCloseTo(1, 13);
    expect(gaussianExpectation((u) => u ** 4, 2)).toBeCloseTo(12, 11);
    expect(gaussianExpectation((u) => u, 3)).toBeCloseTo(0, 14);
    expect(gaussianExpectation(() => 1, 1e6)).toBeCloseTo(1, 13);
    expect(gaussianExpectation((u) => Math.cos(u), 2)).toBeCloseTo(Math.exp(-1), 13);
  });

  it('matches a high-resolution Simpson reference for tanh² and sech⁴ at small and large q', () => {
    for (const q of [0.05, 0.3, 1, 4, 50]) {
      for (const f of [tanh2, sech4]) {
        const ref = simpsonExpectation(f, q);
        expect(Math.abs(gaussianExpectation(f, q) - ref) / ref).toBeLessThan(1e-11);
      }
    }
  });

  it('handles relu’s kink: E[relu(√q z)²] = q/2 and E[relu′²] = 1/2 by quadrature too', () => {
    for (const q of [1e-6, 0.7, 3, 1e4]) {
      expect(gaussianExpectation((u) => (u > 0 ? u * u : 0), q) / (q / 2)).toBeCloseTo(1, 13);
      expect(gaussianExpectation((u) => (u > 0 ? 1 : 0), q)).toBeCloseTo(0.5, 14);
      expect(meanSquareActivation('relu', q)).toBe(q / 2);
      expect(meanSquareDerivative('relu', q)).toBe(0.5);
    }
    expect(meanSquareDerivative('relu', 0)).toBe(0); // relu′(0) = 0
    expect(meanSquareActivation('linear', 2.5)).toBe(2.5);
    expect(meanSquareDerivative('linear', 2.5)).toBe(1);
  });

  it('Gauss–Hermite: weights sum to 1, moments (2k−1)!! exact, and tanh agrees with the adaptive rule up to TANH_HERMITE_MAX_Q', () => {
    const rule = gaussHermiteRule(64);
    expect(rule.weights.reduce((a, b) => a + b)).toBeCloseTo(1, 14);
    let doubleFactorial = 1;
    for (let k = 1; k <= 20; k++) {
      doubleFactorial *= 2 * k - 1;
      expect(gaussHermiteExpectation((u) => u ** (2 * k), 1) / doubleFactorial).toBeCloseTo(1, 12);
    }
    for (const q of [1e-8, 1e-4, 0.01, TANH_HERMITE_MAX_Q]) {
      for (const f of [tanh2, sech4]) {
        const adaptive = gaussianExpectation(f, q);
        expect(Math.abs(gaussHermiteExpectation(f, q) - adaptive) / adaptive).toBeLessThan(5e-15);
      }
    }
    expect(meanSquareActivation('tanh', 0.05)).toBe(gaussHermiteExpectation(tanh2, 0.05));
    expect(meanSquareDerivative('tanh', 2)).toBe(gaussianExpectation(sech4, 2));
  });
});

// ---------------------------------------------------------------------------
// Mean field

describe('mean-field recursion and predictions', () => {
  it('iterates the relu length map from the input: q_1 = g²s_x² + σ_b², q_l = g²q/2 + σ_b², χ = g²/2', () => {
    const g2 = 1.7;
    const curve = meanFieldCurve({ activation: 'relu', depth: 6, sigmaW2: g2, sigmaB2: 0.1, inputMeanSquare: 2 });
    expect(curve.map((c) => c.index)).toEqual([1, 2, 3, 4, 5]);
    let q = g2 * 2 + 0.1;
    for (const layer of curve) {
      expect(layer.q).toBeCloseTo(q, 14);
      expect(layer.chi).toBeCloseTo(g2 / 2, 15);
      q = (g2 * q) / 2 + 0.1;
    }
    expect(curve[4].log10Delta).toBe(0);
    expect(curve[0].log10Delta).toBeCloseTo(2 * Math.log10(g2 / 2), 13);
  });

  it.each([1.2, Math.SQRT2, 1.8])('relu gain %d: predicted growth = ½·log10(gain²/2) (He et al. 2015)', (gain) => {
    const p = predictGrowth({ ...base, gain, biasStd: 0.2, inputMeanSquare: 0.3 });
    expect(p.method).toBe('he2015');
    expect(p.predictedGrowthPerLayer).toBeCloseTo(0.5 * Math.log10((gain * gain) / 2), 13);
    expect(p.predictedLog10Ratio).toBeCloseTo(48 * 0.5 * Math.log10((gain * gain) / 2), 11);
    expect(p.predictedLog10RatioToOutput).toBeCloseTo(49 * 0.5 * Math.log10((gain * gain) / 2), 11);
    expect(predictGrowth({ ...base, gain, init: 'xavier' }).predictedGrowthPerLayer).toBeCloseTo(0.5 * Math.log10((gain * gain) / 2), 13);
  });

  it('relu critical gain is √2; he init ignores --gain and is critical', () => {
    expect(RELU_CRITICAL_GAIN).toBe(Math.SQRT2);
    expect(predictGrowth({ ...base, gain: RELU_CRITICAL_GAIN }).predictedGrowthPerLayer).toBeCloseTo(0, 14);
    expect(predictGrowth({ ...base, init: 'he', gain: 3 }).predictedGrowthPerLayer).toBeCloseTo(0, 14);
  });

  it.each([0.9, 1, 1.1, 2])('linear orthogonal gain %d: growth exactly log10(gain) per layer', (gain) => {
    const p = predictGrowth({ ...base, activation: 'linear', init: 'orthogonal', gain, biasStd: 0.5, inputSize: 17, depth: 40 });
    expect(p.method).toBe('orthogonal-linear-exact');
    expect(p.predictedGrowthPerLayer).toBeCloseTo(Math.log10(gain), 14);
    expect(predictGrowth({ ...base, activation: 'linear', gain }).method).toBe('meanfield-linear');
    expect(predictGrowth({ ...base, activation: 'tanh', init: 'orthogonal', gain }).method).toBe('meanfield-orthogonal-approx');
    expect(predictGrowth({ ...base, activation: 'tanh', gain }).method).toBe('meanfield');
  });

  it('effective σ_w² of each init agrees with the model initializer (initStd²·fan_in) and the orthogonal kernel', () => {
    for (const init of ['gaussian', 'he', 'xavier'] as const) {
      for (const [fanIn, fanOut] of [
        [256, 256],
        [17, 256],
        [256, 10],
      ]) {
        expect(effectiveSigmaW2(init, 1.3, fanIn, fanOut)).toBeCloseTo(initStd({ init, gain: 1.3 }, fanIn, fanOut) ** 2 * fanIn, 13);
      }
    }
    expect(effectiveSigmaW2('orthogonal', 1.5, 256, 256)).toBe(2.25);
    expect(effectiveSigmaW2('orthogonal', 1.5, 64, 256)).toBeCloseTo(2.25 / 4, 15); // orthonormal columns
    expect(effectiveSigmaW2('orthogonal', 1.5, 256, 64)).toBe(2.25); // orthonormal rows
    // The first layer's fan-in enters q_1 only.
    const p = predictGrowth({ ...base, activation: 'tanh', init: 'xavier', gain: 1.2, inputSize: 64, depth: 5 });
    expect(p.curve[0].q).toBeCloseTo(1.44 * ((2 * 64) / (64 + 256)), 14);
  });

  it('depth 1 and 2 have no growth to fit', () => {
    const one = predictGrowth({ ...base, depth: 1 });
    expect(one.curve).toHaveLength(0);
    expect(one.predictedGrowthPerLayer).toBeNull();
    const two = predictGrowth({ ...base, activation: 'tanh', depth: 2 });
    expect(two.curve).toHaveLength(1);
    expect(two.predictedGrowthPerLayer).toBeNull();
    expect(two.predictedLog10Ratio).toBe(0);
  });

  it('fits the predicted tanh curve with the same slope fit as measurements (χ varies by layer)', () => {
    const p = predictGrowth({ ...base, activation: 'tanh', gain: 1.5, biasStd: 0.3, depth: 30 });
    const chis = p.curve.map((c) => c.chi);
    expect(Math.max(...chis) - Math.min(...chis)).toBeGreaterThan(0.2);
    expect(p.predictedGrowthPerLayer).toBe(fitGrowth(p.curve.map((c) => c.log10Delta))?.slope);
  });

  it('tanh critical line matches the DESIGN.md table', () => {
    const table: [number, number][] = [
      [0, 1],
      [1e-4, 1.086],
      [1e-3, 1.189],
      [0.01, 1.424],
      [0.05, 1.761],
      [0.1, 1.986],
      [0.3, 2.505],
      [1, 3.443],
    ];
    for (const [sb2, sw2] of table) {
      const c = tanhCriticalPoint(sb2);
      expect(Math.abs(c.sigmaW2 - sw2)).toBeLessThan(5e-4);
      if (sb2 > 0) {
        // It is a fixed point with χ = 1: iterate the length map from q* itself.
        const curve = meanFieldCurve({ activation: 'tanh', depth: 4, sigmaW2: c.sigmaW2, sigmaB2: sb2, inputMeanSquare: (c.qStar - sb2) / c.sigmaW2 });
        for (const layer of curve) {
          expect(layer.q / c.qStar).toBeCloseTo(1, 11);
          expect(layer.chi).toBeCloseTo(1, 11);
        }
      }
    }
  });

  it('finite-width relu tolerance: bias −(5/(2n))/(2 ln 10) per layer, spread 0.486·√(L/n)', () => {
    const t = reluGrowthTolerance(256, 102);
    // The exact mean (finiteWidthDriftPerLayer, the line the page draws), whose leading term is −(5/(2n))/(2 ln 10).
    expect(t.bias).toBe(finiteWidthDriftPerLayer('relu', 256));
    expect(t.bias / (-5 / 512 / (2 * Math.LN10))).toBeCloseTo(1.0065, 3);
    expect(t.perLayerStd * Math.sqrt(256)).toBeCloseTo(Math.sqrt(5) / (2 * Math.LN10), 15); // 0.48556
    expect(t.perLayerStd * Math.sqrt(256)).toBeCloseTo(0.486, 3);
    expect(t.totalStd).toBeCloseTo(0.486 * Math.sqrt(100 / 256), 3);
    expect(t.halfWidth).toBeCloseTo(4 * t.slopeStd, 15);
    // The least-squares slope of a random walk: variance → 6σ²/(5·steps).
    expect(randomWalkSlopeStd(2001, 1) ** 2 * 2000).toBeCloseTo(1.2, 2);
    expect(randomWalkSlopeStd(2, 0.3)).toBeCloseTo(0.3, 15);
  });
});

// ---------------------------------------------------------------------------
// Slope fit and verdicts

/** Norms of layers 1..L with log10 ‖δ_l‖ = rate·(L − l) (+ `noise`). */
function geometric(L: number, rate: number, noise?: () => number): number[] {
  return Array.from({ length: L }, (_, i) => 10 ** (rate * (L - (i + 1)) + (noise ? noise() : 0)));
}

describe('growth fit', () => {
  it('recovers an exact geometric rate exactly', () => {
    for (const rate of [0.05, -0.031, 0]) {
      const fit = fitGrowth(geometric(40, rate).map(Math.log10));
      expect(fit?.slope).toBeCloseTo(rate, 13);
      expect(fit?.stdError).toBeCloseTo(0, 12);
      expect(fit?.points).toBe(40);
    }
  });

  it('on noisy data lands within its standard error', () => {
    const rand = normals(7);
    const rate = 0.02;
    const sigma = 0.1;
    const ys = Array.from({ length: 200 }, (_, i) => rate * (199 - i) + sigma * rand());
    const fit = fitGrowth(ys);
    expect(fit).not.toBeNull();
    if (!fit?.stdError) throw new Error('no standard error');
    expect(Math.abs(fit.slope - rate)).toBeLessThan(4 * fit.stdError);
    // ... and the standard error is what theory says: σ/√Sxx.
    const sxx = (200 * (200 * 200 - 1)) / 12;
    expect(fit.stdError / (sigma / Math.sqrt(sxx))).toBeGreaterThan(0.8);
    expect(fit.stdError / (sigma / Math.sqrt(sxx))).toBeLessThan(1.2);
  });

  it('excludes non-finite values and needs two points', () => {
    expect(fitGrowth([])).toBeNull();
    expect(fitGrowth([3])).toBeNull();
    expect(fitGrowth([-Infinity, 2])).toBeNull();
    const fit = fitGrowth([-Infinity, NaN, 3, 2, 1]);
    expect(fit?.slope).toBeCloseTo(1, 14);
    expect(fit?.excluded).toBe(2);
    expect(fit?.intercept).toBeCloseTo(1, 14);
  });
});

describe('verdict', () => {
  it('thresholds are ±1 decade of fitted total change', () => {
    expect(EXPLODING_DECADES).toBe(1);
    expect(VANISHING_DECADES).toBe(-1);
  });

  it('classifies exploding, vanishing and stable MLPs by slope × (L − 2)', () => {
    const exploding = mlpVerdict({ deltaNorms: geometric(50, 0.05), predictedGrowthPerLayer: 0.05 });
    expect(exploding.status).toBe('exploding');
    expect(exploding.growthPerLayer).toBeCloseTo(0.05, 13);
    expect(exploding.totalChangeDecades).toBeCloseTo(0.05 * 48, 12);
    expect(exploding.predictedGrowthPerLayer).toBe(0.05);
    expect(exploding.firstNonfiniteStep).toBeNull();
    expect(mlpVerdict({ deltaNorms: geometric(50, -0.05) }).status).toBe('vanishing');
    expect(mlpVerdict({ deltaNorms: geometric(50, 0.01) }).status).toBe('stable');
    // Depth 200: a per-layer rate of 0.006 is already more than a decade end to end.
    expect(mlpVerdict({ deltaNorms: geometric(200, 0.006) }).status).toBe('exploding');
    expect(mlpVerdict({ deltaNorms: geometric(10, 0.1) }).status).toBe('stable');
  });

  it('only the hidden layers are fitted: the readout’s δ_L does not bend the slope', () => {
    const norms = geometric(20, 0.03);
    norms[19] = 1e-9;
    expect(mlpVerdict({ deltaNorms: norms }).growthPerLayer).toBeCloseTo(0.03, 13);
  });

  it('accepts log10 values beyond the float range', () => {
    const log10 = Array.from({ length: 300 }, (_, i) => 400 - 1.5 * (i + 1));
    const v = mlpVerdict({ deltaNorms: log10, scale: 'log10' });
    expect(v.growthPerLayer).toBeCloseTo(1.5, 12);
    expect(v.status).toBe('exploding');
  });

  it('handles depth 1 and 2 (no fit) and divergence', () => {
    for (const deltaNorms of [[1], [2, 1], []]) {
      const v = mlpVerdict({ deltaNorms });
      expect(v.status).toBe('stable');
      expect(v.growthPerLayer).toBeNull();
      expect(v.totalChangeDecades).toBeNull();
    }
    expect(mlpVerdict({ deltaNorms: [2, 1], diverged: true, firstNonfiniteStep: 3 })).toMatchObject({ status: 'diverged', firstNonfiniteStep: 3 });
    expect(mlpVerdict({ deltaNorms: [1, NaN, 1, 1] }).status).toBe('diverged');
    expect(mlpVerdict({ deltaNorms: [Infinity, 1, 1, 1] }).status).toBe('diverged');
    // Diverged wins over every other status.
    expect(mlpVerdict({ deltaNorms: geometric(50, -0.05), diverged: true }).status).toBe('diverged');
  });

  it('exact zeros: dead layers under a live gradient are vanishing; an all-zero gradient is not', () => {
    const dead = mlpVerdict({ deltaNorms: [0, 0, 0, 0.5, 0.8, 1, 1.1, 1] });
    expect(dead.status).toBe('vanishing');
    expect(dead.zeroGradientCount).toBe(3);
    expect(dead.growthPerLayer).toBeCloseTo(fitGrowth([0.5, 0.8, 1, 1.1].map(Math.log10))?.slope ?? NaN, 14);
    expect(mlpVerdict({ deltaNorms: [0, 1] }).status).toBe('vanishing');
    expect(mlpVerdict({ deltaNorms: [-Infinity, -Infinity, -3, -3, 0], scale: 'log10' }).status).toBe('vanishing');
    const allZero = mlpVerdict({ deltaNorms: [0, 0, 0, 0] });
    expect(allZero.status).toBe('stable');
    expect(allZero.growthPerLayer).toBeNull();
  });

  it('RNN: slope of log10 ‖∂L/∂h_t‖ against T − t, total × (T − 1)', () => {
    const T = 100;
    const norms = (a: number) => Array.from({ length: T }, (_, i) => a ** (T - (i + 1)));
    const v = rnnVerdict({ hiddenGradNorms: norms(0.9) });
    expect(v.growthPerStep).toBeCloseTo(Math.log10(0.9), 13);
    expect(v.status).toBe('vanishing');
    expect(v.totalChangeDecades).toBeCloseTo(99 * Math.log10(0.9), 11);
    expect(rnnVerdict({ hiddenGradNorms: norms(1.05) }).status).toBe('exploding');
    expect(rnnVerdict({ hiddenGradNorms: norms(1.001) }).status).toBe('stable');
    expect(rnnVerdict({ hiddenGradNorms: [1] }).growthPerStep).toBeNull();
  });

  it('from the steps of a run report: diverged from the first non-finite step, growth from the first step', () => {
    const layers = geometric(30, 0.1).map((deltaNorm, i) => ({ index: i + 1, deltaNorm }));
    const steps: StepRecordLike[] = [
      { step: 1, loss: 1, gradNorm: 5, nonfinite: 0, layers: [...layers].reverse() },
      { step: 2, loss: 2, gradNorm: 50, nonfinite: 0, layers },
      { step: 3, loss: NaN, gradNorm: NaN, nonfinite: 12, layers },
    ];
    expect(firstNonfiniteStep(steps)).toBe(3);
    expect(firstNonfiniteStep(steps.slice(0, 2))).toBeNull();
    expect(firstNonfiniteStep([{ step: 1, loss: 1, gradNorm: 1, nonfinite: 4 }])).toBe(1);
    const v = runVerdict(steps, { model: 'mlp', predictedGrowth: 0.09 });
    expect(v).toMatchObject({ status: 'diverged', firstNonfiniteStep: 3, predictedGrowthPerLayer: 0.09 });
    expect(v.growthPerLayer).toBeCloseTo(0.1, 13);
    expect(runVerdict(steps.slice(0, 2), { model: 'mlp' }).status).toBe('exploding');
    const rnn = runVerdict([{ step: 1, loss: 1, gradNorm: 1, nonfinite: 0, timesteps: [{ t: 2, hiddenGradNorm: 1 }, { t: 1, hiddenGradNorm: 0.5 }, { t: 3, hiddenGradNorm: 2 }] }], { model: 'rnn' });
    expect(rnn.growthPerStep).toBeCloseTo(-Math.log10(2), 14);
    expect(rnn.status).toBe('stable');
  });
});

// ---------------------------------------------------------------------------
// Monte-Carlo: the theory against float64 networks

describe('mean field against float64 simulation', () => {
  it('tanh, width 256, depth 30, gain 1.5, σ_b 0.3: forward q_l and the backward log10 ‖δ_l‖ slope agree with the recursion', () => {
    const config = { width: 256, depth: 30, batch: 4, gain: 1.5, biasStd: 0.3, activation: 'tanh' as const };
    const prediction = predictGrowth({ ...base, ...config, inputSize: 256, inputMeanSquare: 1 });
    const predicted = prediction.predictedGrowthPerLayer ?? NaN;
    expect(predicted).toBeGreaterThan(0.005);
    const nets = 3;
    const slopes: number[] = [];
    const slopeVariances: number[] = [];
    const qRatios: number[] = [];
    for (let seed = 1; seed <= nets; seed++) {
      const { deltaNorms, meanSquareZ } = simulateMlp({ seed, ...config });
      const verdict = mlpVerdict({ deltaNorms, predictedGrowthPerLayer: predicted });
      slopes.push(verdict.growthPerLayer ?? NaN);
      // Finite-width noise makes log10 ‖δ‖ a random walk around the prediction:
      // the residual fit stderr understates it, so size the tolerance from the
      // per-layer increments' scatter about the predicted increments.
      const y = deltaNorms.slice(0, config.depth - 1).map(Math.log10);
      const p = prediction.curve.map((c) => c.log10Delta);
      let ss = 0;
      for (let l = 0; l + 1 < y.length; l++) ss += (y[l] - y[l + 1] - (p[l] - p[l + 1])) ** 2;
      slopeVariances.push(randomWalkSlopeStd(y.length, Math.sqrt(ss / (y.length - 1))) ** 2);
      for (let l = 0; l < config.depth - 1; l++) qRatios.push(meanSquareZ[l] / prediction.curve[l].q);
    }
    const meanSlope = slopes.reduce((a, b) => a + b) / nets;
    const slopeStd = Math.sqrt(slopeVariances.reduce((a, b) => a + b) / nets / nets);
    expect(Math.abs(meanSlope - predicted)).toBeLessThan(4 * slopeStd);
    expect(slopeStd).toBeLessThan(0.3 * predicted);
    const meanRatio = qRatios.reduce((a, b) => a + b) / qRatios.length;
    expect(Math.abs(meanRatio - 1)).toBeLessThan(0.05);
  });

  it('relu, width 128, depth 20, gain 1.8: measured growth within reluGrowthTolerance of ½·log10(gain²/2)', () => {
    const config = { width: 128, depth: 20, batch: 2, gain: 1.8, biasStd: 0, activation: 'relu' as const };
    const { deltaNorms } = simulateMlp({ seed: 11, ...config });
    const measured = mlpVerdict({ deltaNorms }).growthPerLayer ?? NaN;
    const tol = reluGrowthTolerance(config.width, config.depth);
    const predicted = predictGrowth({ ...base, ...config }).predictedGrowthPerLayer ?? NaN;
    expect(predicted).toBeCloseTo(0.5 * Math.log10(1.62), 13);
    expect(Math.abs(measured - (predicted + tol.bias))).toBeLessThan(tol.halfWidth);
  });
});

// ---------------------------------------------------------------------------
// Two verdicts: the gradient at initialization, and what training did

describe('two verdicts (verdict.init, verdict.training; describeVerdicts)', () => {
  const exploding = geometric(30, 0.1).map((deltaNorm, i) => ({ index: i + 1, deltaNorm }));
  const flat = geometric(30, 0).map((deltaNorm, i) => ({ index: i + 1, deltaNorm }));
  const step = (n: number, over: Partial<StepRecordLike> = {}): StepRecordLike => ({ step: n, loss: 10 / n, gradNorm: 5, nonfinite: 0, clipScale: 1, nonfiniteLayer: null, layers: exploding, ...over });

  it('an exploding net that clipping keeps finite: "gradient at init: exploding — training: rescued by clipping"; status stays as it was', () => {
    const steps = [1, 2, 3, 4].map((n) => step(n, { clipScale: n <= 3 ? 0.01 : 1 }));
    const v = runVerdict(steps, { model: 'mlp' });
    expect(v.status).toBe('exploding');
    expect(v.init?.status).toBe('exploding');
    expect(v.training).toMatchObject({ status: 'rescued-by-clipping', steps: 4, divergedAtStep: null, divergedAtLayer: null, lossFirst: 10, lossLast: 2.5, stepsClipped: 3 });
    expect(v.training?.summary).toMatch(/clipped at 3 of 4 steps/);
    expect(describeVerdicts(v)).toBe('gradient at init: exploding — training: rescued by clipping');
  });

  it('clipping a net that does not explode is not a rescue: training finite', () => {
    const v = runVerdict([1, 2].map((n) => step(n, { layers: flat, clipScale: 0.5 })), { model: 'mlp' });
    expect(v.init?.status).toBe('stable');
    expect(v.training).toMatchObject({ status: 'finite', stepsClipped: 2 });
    expect(describeVerdicts(v)).toBe('gradient at init: stable — training: finite');
  });

  it('a run that goes non-finite: training diverged at its step and layer (MLP) or timestep (RNN); init judged from step 1 alone', () => {
    // The skipped updates of non-finite steps carry clip scale 0: not clipping.
    const steps = [step(1), step(2), step(3, { loss: NaN, gradNorm: null, nonfinite: 12, nonfiniteLayer: 7, clipScale: 0 }), step(4, { loss: NaN, gradNorm: null, nonfinite: 40, nonfiniteLayer: 1, clipScale: 0 })];
    const v = runVerdict(steps, { model: 'mlp' });
    expect(v.status).toBe('diverged');
    expect(v.init?.status).toBe('exploding');
    expect(v.training).toMatchObject({ status: 'diverged', steps: 4, divergedAtStep: 3, divergedAtLayer: 7, lossFirst: 10, lossLast: null, stepsClipped: 0 });
    expect(v.training?.summary).toBe('non-finite from step 3, layer 7 (of 4 steps)');
    expect(describeVerdicts(v)).toBe('gradient at init: exploding — training: diverged');
    const timesteps = [1, 2, 3].map((t) => ({ t, hiddenGradNorm: 1 }));
    const rnn = runVerdict([{ step: 1, loss: 1, gradNorm: 1, nonfinite: 0, timesteps }, { step: 2, loss: NaN, gradNorm: null, nonfinite: 3, nonfiniteTimestep: 2, timesteps }], { model: 'rnn' });
    expect(rnn.training).toMatchObject({ status: 'diverged', divergedAtStep: 2, divergedAtLayer: 2 });
    expect(rnn.training?.summary).toMatch(/timestep 2/);
  });

  it('a gradient already non-finite at step 1 explodes at initialization', () => {
    const overflow = exploding.map((l) => (l.index === 1 ? { ...l, deltaNorm: Infinity } : l));
    const v = runVerdict([step(1, { layers: overflow, nonfinite: 5, nonfiniteLayer: 1 })], { model: 'mlp' });
    expect(v.init).toMatchObject({ status: 'exploding', summary: expect.stringMatching(/overflowed at initialization/) });
    expect(v.training).toMatchObject({ status: 'diverged', divergedAtStep: 1, divergedAtLayer: 1 });
  });

  it('a report from before the two verdicts reads as its status', () => {
    expect(describeVerdicts({ status: 'exploding' })).toBe('verdict: exploding');
  });
});

// ---------------------------------------------------------------------------
// Finite width: the theory line of relu and linear nets

describe('finite-width theory line (Hanin 2018; DESIGN.md "Finite width")', () => {
  it('digamma matches known values', () => {
    expect(digamma(1)).toBeCloseTo(-0.5772156649015329, 13);
    expect(digamma(0.5)).toBeCloseTo(-1.9635100260214235, 13);
    // ψ(n) = H_{n−1} − γ
    let harmonic = 0;
    for (let k = 1; k < 64; k++) harmonic += 1 / k;
    expect(digamma(64)).toBeCloseTo(harmonic - 0.5772156649015329, 13);
  });

  it('the drift per layer: leading terms −(5/(2n))/(2 ln 10) (relu) and −(1/n)/(2 ln 10) (linear)', () => {
    for (const n of [128, 1024]) {
      expect(finiteWidthDriftPerLayer('relu', n) / (-(5 / (2 * n)) / (2 * Math.LN10))).toBeCloseTo(1, n === 128 ? 1 : 2);
      expect(finiteWidthDriftPerLayer('linear', n) / (-(1 / n) / (2 * Math.LN10))).toBeCloseTo(1, 2);
    }
  });

  it('matches a float64 simulation: products of random relu (and linear) Jacobian factors at width 32, 100 layers × 100 samples, within 4 standard errors', () => {
    const n = 32;
    const depth = 100;
    const samples = 100;
    const rand = normals(2024);
    for (const activation of ['relu', 'linear'] as const) {
      // He weights: σ² = 2 for relu (χ = 1), 1 for linear (χ = 1): all the drift is finite width.
      const std = Math.sqrt((activation === 'relu' ? 2 : 1) / n);
      const perSample: number[] = [];
      const W = new Float64Array(n * n);
      let d = new Float64Array(n);
      for (let s = 0; s < samples; s++) {
        for (let i = 0; i < n; i++) d[i] = rand();
        let total = 0;
        for (let l = 0; l < depth; l++) {
          for (let i = 0; i < W.length; i++) W[i] = rand() * std;
          const next = new Float64Array(n);
          let norm2 = 0;
          let before = 0;
          for (let i = 0; i < n; i++) before += d[i] * d[i];
          for (let i = 0; i < n; i++) {
            // δ_{l−1} = D·Wᵀδ_l: the relu mask keeps each unit with probability ½ (it comes from the forward pass, independent of this W).
            if (activation === 'relu' && rand() < 0) continue; // a fresh N(0, 1) below 0: probability ½
            let acc = 0;
            for (let o = 0; o < n; o++) acc += W[o * n + i] * d[o];
            next[i] = acc;
            norm2 += acc * acc;
          }
          total += 0.5 * Math.log10(norm2 / before);
          const scale = 1 / Math.sqrt(norm2);
          for (let i = 0; i < n; i++) next[i] *= scale;
          d = next;
        }
        perSample.push(total / depth);
      }
      const mean = perSample.reduce((a, b) => a + b) / samples;
      const variance = perSample.reduce((a, b) => a + (b - mean) ** 2, 0) / (samples - 1);
      const standardError = Math.sqrt(variance / samples);
      const predicted = finiteWidthDriftPerLayer(activation, n);
      expect(Math.abs(mean - predicted), `${activation}: simulated ${mean}, predicted ${predicted} ± ${standardError}`).toBeLessThan(4 * standardError);
      // The drift is resolved: many standard errors from 0 (the mean field's value).
      expect(Math.abs(predicted)).toBeGreaterThan(8 * standardError);
    }
  });

  it('He init at depth 5000, width 128: mean field flat, the finite-width line −21.5 decades; a run on that line agrees and its init verdict says why it vanishes', () => {
    const config: MlpConfig = { ...MLP_DEFAULTS, init: 'he', depth: 5000, width: 128, input: 128, output: 128, batch: 2 };
    const drift = finiteWidthDriftPerLayer('relu', 128);
    const prediction = predictGrowth({ ...base, init: 'he', depth: 5000, width: 128, inputSize: 128 });
    expect(prediction.predictedGrowthPerLayer).toBeCloseTo(0, 14);
    expect(prediction.predictedGrowthPerLayerFiniteWidth).toBeCloseTo(drift, 14);
    expect(prediction.predictedLog10RatioFiniteWidth).toBeCloseTo(drift * 4998, 9);
    expect(prediction.predictedLog10RatioFiniteWidth).toBeCloseTo(-21.5, 1);
    // A measured profile on the finite-width line (what the GPU measured: 16.6 decades down with one network's spread of ±3).
    const deltaNorm = (l: number) => 10 ** (drift * (4999 - l));
    const steps: StepStats[] = [{
      step: 1, loss: 1, gradNorm: 1, finiteGradNorm: 1, clipScale: 1, nonfinite: 0, nonfiniteLayer: null,
      layers: Array.from({ length: 5000 }, (_, i) => ({ index: i + 1, weightGradNorm: 1, biasGradNorm: 1, deltaNorm: deltaNorm(i + 1), activationNorm: 1, weightNorm: 1, maxAbsGrad: 1, nonfinite: 0 })),
    }];
    const report = buildRunReport(config, { vendor: 'v', architecture: 'a', description: 'd' } as Parameters<typeof buildRunReport>[1], steps);
    expect(report.verdict.status).toBe('vanishing');
    expect(report.verdict.agreement?.agrees).toBe(true);
    expect(report.verdict.init?.summary).toMatch(/mean field predicts a flat profile \(\+0\.00 decades\), but at width 128 the typical gradient drifts −21\.\d\d decades over 4998 layers: it vanishes because of finite width/);
    // The drawn line (prediction.log10DeltaRelative) carries the drift; the mean field stays beside it.
    expect(report.prediction[0].log10DeltaRelative).toBeCloseTo(drift * 4998, 9);
    expect(report.prediction[0].log10DeltaMeanField).toBeCloseTo(0, 12);
    expect(report.prediction[4998].log10DeltaRelative).toBe(0);
    for (const l of [1, 100, 2500, 4999]) expect(report.prediction[l - 1].log10DeltaRelative).toBeCloseTo(Math.log10(deltaNorm(l) / deltaNorm(4999)), 9);
  });

  it('no correction where none is derived: orthogonal (linear exact) and tanh keep the mean field', () => {
    for (const input of [{ activation: 'linear' as const, init: 'orthogonal' as const, gain: 1.1 }, { activation: 'tanh' as const, init: 'gaussian' as const, gain: 1.3 }, { activation: 'relu' as const, init: 'orthogonal' as const, gain: 1.2 }]) {
      const p = predictGrowth({ ...base, ...input, depth: 40 });
      expect(p.finiteWidthDriftPerLayer).toBeNull();
      expect(p.predictedGrowthPerLayerFiniteWidth).toBeNull();
      expect(p.log10DeltaFiniteWidth).toEqual(p.curve.map((c) => c.log10Delta));
      expect(p.predictedLog10RatioFiniteWidth).toBe(p.predictedLog10Ratio);
    }
  });
});
