/**
 * Residual MLPs on the CPU: --residual parsing and validation, the float64
 * reference against finite differences, and the residual mean field against
 * float64 simulations (exact in expectation for linear branches).
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, MLP_DEFAULTS, parseResidual, validateMlpConfig, type MlpConfig } from '../../src/models/config.ts';
import { parseSweep, pointConfig, runSweep, sweepDocument, sweepFingerprint, sweepGrid } from '../../src/cli/sweep.ts';
import { validateReport } from '../../src/report/schema.ts';
import { mlpLossReference, mlpStepReference, type ReferenceLayer } from '../../src/models/mlp-reference.ts';
import { planMlp } from '../../src/models/mlp.ts';
import { meanFieldCurve, predictGrowth } from '../../src/analysis/meanfield.ts';
import { fitGrowth } from '../../src/analysis/verdict.ts';
import { gaussianData } from '../../src/conformance/data.ts';
import { expectCentralDifferences } from '../support/tensors.ts';

function randomLayers(sizes: number[], gain: number, seed: number): ReferenceLayer[] {
  return sizes.slice(1).map((fanOut, i) => {
    const fanIn = sizes[i];
    return { W: Float64Array.from(gaussianData(fanIn * fanOut, seed + 2 * i, gain / Math.sqrt(fanIn))), b: Float64Array.from(gaussianData(fanOut, seed + 2 * i + 1, 0.2)), fanIn, fanOut };
  });
}

const log10Norm = (x: ArrayLike<number>) => 0.5 * Math.log10(Array.from(x).reduce((s, v) => s + v * v, 0));

describe('--residual', () => {
  it('takes a number or C/sqrt(L) (L = --depth) and refuses anything else, naming the flag', () => {
    expect(parseResidual('0.07', 200)).toBe(0.07);
    expect(parseResidual('1/sqrt(L)', 100)).toBeCloseTo(0.1, 15);
    expect(parseResidual('2 / sqrt(L)', 16)).toBeCloseTo(0.5, 15);
    expect(parseResidual('0', 10)).toBe(0);
    for (const bad of ['-1', 'abc', '1/L', '1/sqrt(N)', '', '2000']) expect(() => parseResidual(bad, 10), bad).toThrow(ConfigError);
    expect(() => parseResidual('x', 10)).toThrow(/--residual x/);
    expect(() => validateMlpConfig({ ...MLP_DEFAULTS, depth: 4, width: 8, input: 8, output: 8, residual: -0.5 })).toThrow(/--residual/);
    expect(validateMlpConfig({ ...MLP_DEFAULTS, depth: 4, width: 8, input: 8, output: 8, residual: 0.5 }).residual).toBe(0.5);
  });

  it('plans blocks at layers 2..L−1 only when A > 0, with a branch per block', () => {
    const plain = planMlp({ depth: 5, width: 7, input: 3, output: 2, batch: 3 });
    expect(plain.layers.map((l) => l.block)).toEqual([false, false, false, false, false]);
    expect(plain.branchArenaElements).toBe(0);
    const residual = planMlp({ depth: 5, width: 7, input: 3, output: 2, batch: 3, residual: 0.3 });
    expect(residual.layers.map((l) => l.block)).toEqual([false, true, true, true, false]);
    expect(residual.branchOffsets.filter((x) => x !== undefined)).toHaveLength(3);
    expect(residual.carryElements).toBeGreaterThanOrEqual(21);
  });
});

describe('residual float64 reference', () => {
  it('A = 0 is the plain MLP exactly', () => {
    const layers = randomLayers([3, 4, 4, 4, 2], 1.3, 5);
    const x = gaussianData(9, 1);
    const t = gaussianData(6, 2);
    const a = mlpStepReference(layers, 'tanh', 'mse', x, t, 3);
    const b = mlpStepReference(layers, 'tanh', 'mse', x, t, 3, true, 0);
    expect(b.loss).toBe(a.loss);
    expect(b.dW).toEqual(a.dW);
  });

  it.each(['relu', 'tanh', 'linear'] as const)('%s, A = 0.7, 3→4→4→4→4→2, batch 3: ∂L/∂W, ∂L/∂b and δ_l = ∂L/∂z_l match central differences within 1e-6 relative', (activation) => {
    const layers = randomLayers([3, 4, 4, 4, 4, 2], 1.4, 17);
    const x = gaussianData(9, 3);
    const t = gaussianData(6, 4);
    const A = 0.7;
    const ref = mlpStepReference(layers, activation, 'mse', x, t, 3, true, A);
    const lossAt = () => mlpLossReference(layers, activation, 'mse', x, t, 3, A);
    for (let l = 0; l < layers.length; l++) {
      expectCentralDifferences(`dW${l + 1}`, layers[l].W as Float64Array, ref.dW[l], lossAt, { rtol: 1e-6 });
      expectCentralDifferences(`db${l + 1}`, layers[l].b as Float64Array, ref.db[l], lossAt, { rtol: 1e-6 });
      // db_l = Σ over the batch of δ_l: δ is consistent with the checked bias gradient.
      const summed = new Float64Array(layers[l].fanOut);
      ref.delta[l].forEach((v, i) => (summed[i % layers[l].fanOut] += v));
      summed.forEach((v, i) => expect(v).toBeCloseTo(ref.db[l][i], 12));
    }
  });
});

describe('residual mean field', () => {
  it('blocks multiply E‖∂L/∂h‖² by 1 + A²·gain²·E[φ′(h)²]: linear exactly 1 + A²·gain²; relu between ½ and ¾ of the branch term (P(h > 0) of the residual stream)', () => {
    const A = 0.2;
    const gain = 1.8;
    const linear = meanFieldCurve({ activation: 'linear', depth: 10, sigmaW2: gain * gain, sigmaB2: 0, inputMeanSquare: 1, residual: A });
    for (const layer of linear.slice(1, -1)) expect(layer.chi).toBeCloseTo(1 + A * A * gain * gain, 12);
    const relu = meanFieldCurve({ activation: 'relu', depth: 10, sigmaW2: gain * gain, sigmaB2: 0, inputMeanSquare: 1, residual: A });
    for (const layer of relu.slice(1, -1)) {
      expect(layer.chi).toBeGreaterThan(1 + (A * A * gain * gain) / 2);
      expect(layer.chi).toBeLessThan(1 + (3 * A * A * gain * gain) / 4);
    }
    // The readout: ‖δ_{L−1}‖² = A²·σ_w,L²·‖δ_L‖².
    expect(relu[relu.length - 1].chi).toBeCloseTo(A * A * gain * gain, 12);
  });

  it.each([
    { activation: 'linear' as const, tolerance: 0.05 },
    { activation: 'relu' as const, tolerance: 0.1 },
  ])('$activation, gain 1.8, depth 48, width 64, batch 16, A = 1/√48: float64 simulations (3 networks) grow as predicted (within $tolerance relative)', ({ activation, tolerance }) => {
    const [n, B, L] = [64, 16, 48];
    const A = 1 / Math.sqrt(L);
    let slope = 0;
    for (let r = 0; r < 3; r++) {
      const layers = randomLayers(Array(L + 1).fill(n), 1.8, 1000 * r + 7).map((l) => ({ ...l, b: new Float64Array(l.fanOut) }));
      const ref = mlpStepReference(layers, activation, 'probe', gaussianData(B * n, 999 + r), gaussianData(B * n, 777 + r), B, true, A);
      slope += fitGrowth(ref.delta.slice(0, L - 1).map(log10Norm).reverse())!.slope / 3;
    }
    const predicted = predictGrowth({ activation, init: 'gaussian', gain: 1.8, biasStd: 0, width: n, inputSize: n, inputMeanSquare: 1, depth: L, residual: A }).predictedGrowthPerLayer!;
    expect(Math.abs(-slope - predicted) / predicted, `measured ${-slope}, predicted ${predicted}`).toBeLessThanOrEqual(tolerance);
  });
});

describe('sweep --residual C/sqrt(L)', () => {
  const GRID = ['--depths', '4,16,100', '--gains', '1.5', '--width', '8', '--batch', '2'];

  it('resolves A = C/√depth at each point (not at the default depth), and a number stays the same everywhere', async () => {
    const command = parseSweep([...GRID, '--residual', '2/sqrt(L)']);
    expect(command.base.residual).toBeUndefined();
    expect(command.residualPerSqrtDepth).toBe(2);
    const seen: MlpConfig[] = [];
    // runPoint records what each point would run with, then fails: the sweep records the error and goes on.
    const outcome = await runSweep(null, command, undefined, {
      runPoint: async (config) => {
        seen.push(config);
        throw new Error('not run');
      },
    });
    expect(outcome.points.map((p) => p.status)).toEqual(['error', 'error', 'error']);
    expect(seen.map((c) => c.depth)).toEqual([4, 16, 100]);
    expect(seen.map((c) => c.residual)).toEqual([1, 0.5, 0.2]);
    for (const c of seen) expect(c.residual).not.toBeCloseTo(2 / Math.sqrt(50), 6);

    const fixed = parseSweep([...GRID, '--residual', '0.3']);
    expect(fixed.residualPerSqrtDepth).toBeUndefined();
    expect(sweepGrid(fixed).map((p) => pointConfig(fixed, p).residual)).toEqual([0.3, 0.3, 0.3]);
  });

  it('keeps C in the report grid and the fingerprint, and refuses a C that is too big at some depth', () => {
    const command = parseSweep([...GRID, '--residual', '1/sqrt(L)']);
    const doc = JSON.parse(JSON.stringify(sweepDocument(command, '0.0.0', { vendor: 'v', architecture: 'a', description: 'd', device: 'x', software: true, backend: 'vulkan' }, [], null)));
    expect(doc.grid.residualPerSqrtDepth).toBe(1);
    expect('residual' in doc.base).toBe(false);
    const checked = validateReport(doc);
    expect(checked.ok, checked.ok ? '' : checked.errors.join('\n')).toBe(true);
    const plain = parseSweep(GRID);
    expect(sweepFingerprint(command, command.base)).not.toBe(sweepFingerprint(plain, plain.base));
    // No rule: the grid (and so the fingerprint of older sweeps) has no such key.
    expect('residualPerSqrtDepth' in sweepDocument(plain, 'v', null, [], null).grid).toBe(false);
    expect(() => parseSweep([...GRID, '--depths', '1,4', '--residual', '1500/sqrt(L)'])).toThrow(/at depth 1/);
  });
});
