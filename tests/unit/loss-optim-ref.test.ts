import { describe, expect, it } from 'vitest';
import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import { LOSS_KINDS, lossGradientReference, lossSpecs, lossValueReference, lossValueSumDepth } from '../../src/kernels/loss.ts';
import {
  STEP_CLIP_EXPONENT,
  STEP_CLIP_MANTISSA,
  STEP_COUNT,
  STEP_LOG10_NORM,
  STEP_NONFINITE,
  STEP_NORM_SCALE,
  STEP_NORM_SSQ,
  STEP_SKIPPED,
  STEP_STATE_WORDS,
  clipScaleReference,
  decodeStepState,
  globalNormReference,
  optimSpecs,
  optimizerStateRef,
  optimizerStepRef,
} from '../../src/kernels/optim.ts';
import { segmentStatsReference } from '../../src/kernels/reduce.ts';
import { hasUniforms, wgslSource, type KernelSpec } from '../../src/kernels/spec.ts';
import { gaussianData } from '../../src/conformance/data.ts';

describe('loss references (float64, CPU)', () => {
  it.each(LOSS_KINDS.map((k) => [k]))('%s: the gradient matches central finite differences of the value', (loss) => {
    const n = 12; // B = 3, out = 4
    const y = Array.from(gaussianData(n, 1));
    const t = Array.from(gaussianData(n, 2));
    const grad = lossGradientReference(loss, y, t);
    const h = 1e-6;
    for (let i = 0; i < n; i++) {
      const up = y.slice();
      const down = y.slice();
      up[i] += h;
      down[i] -= h;
      const fd = (lossValueReference(loss, up, t).value - lossValueReference(loss, down, t).value) / (2 * h);
      expect(Math.abs(fd - grad[i])).toBeLessThan(1e-8 * Math.max(1, Math.abs(grad[i])));
    }
  });

  it('mse is the mean of squares (PyTorch MSELoss), probe the dot product with g', () => {
    expect(lossValueReference('mse', [1, 2, 4], [0, 0, 1]).value).toBeCloseTo((1 + 4 + 9) / 3, 14);
    expect(lossGradientReference('mse', [1, 2, 4], [0, 0, 1])).toEqual(Float64Array.from([2 / 3, 4 / 3, 2]));
    expect(lossValueReference('probe', [1, 2, 4], [0.5, -1, 2]).value).toBe(0.5 - 2 + 8);
    expect(lossValueReference('probe', [1, 2, 4], [0.5, -1, 2]).magnitude).toBe(0.5 + 2 + 8);
    expect(lossGradientReference('probe', [1, 2, 4], [0.5, -1, 2])).toEqual(Float64Array.from([0.5, -1, 2]));
    expect(Number.isNaN(lossValueReference('probe', [Infinity, Infinity], [1, -1]).value)).toBe(true);
    expect(lossValueReference('mse', [Infinity], [0]).value).toBe(Infinity);
  });

  it('the sum depth counts a block, the blocks of one invocation and the tree', () => {
    expect(lossValueSumDepth(1, 64)).toBe(1 + 1 + 6);
    expect(lossValueSumDepth(1_000_000, 64)).toBe(64 + 245 + 6);
  });
});

describe('optimizer references (float64, CPU)', () => {
  it('clip scale is min(1, C/(‖g‖ + 1e-6)) for norm clipping and 1 otherwise', () => {
    expect(clipScaleReference(10, { kind: 'norm', threshold: 1 })).toBeCloseTo(1 / (10 + 1e-6), 15);
    expect(clipScaleReference(0.5, { kind: 'norm', threshold: 1 })).toBe(1);
    expect(clipScaleReference(0, { kind: 'norm', threshold: 1e-9 })).toBeCloseTo(1e-3, 15);
    expect(clipScaleReference(10, { kind: 'value', threshold: 1 })).toBe(1);
    expect(clipScaleReference(10, { kind: 'none' })).toBe(1);
  });

  it('the global norm combines per-tensor sums of squares and counts non-finite entries', () => {
    const tensors = segmentStatsReference([3, 4, 12, NaN, 0], [{ offset: 0, length: 2 }, { offset: 2, length: 3 }]);
    const r = globalNormReference(tensors, { kind: 'norm', threshold: 1 });
    expect(r.norm).toBe(13);
    expect(r.nonfinite).toBe(1);
    expect(r.clipScale).toBe(0); // non-finite: the step is skipped
    const finite = globalNormReference(segmentStatsReference([3, 4], [{ offset: 0, length: 2 }]), { kind: 'norm', threshold: 1 });
    expect(finite.clipScale).toBeCloseTo(1 / 5, 6);
    expect(finite.log10Norm).toBeCloseTo(Math.log10(5), 15);
  });

  it('sgd and momentum (PyTorch, dampening 0) follow their recurrences', () => {
    const sgd = optimizerStateRef([1, -2]);
    optimizerStepRef(sgd, [0.5, 1], { optimizer: 'sgd', clip: 'none' }, { lr: 0.1 });
    expect(Array.from(sgd.p)).toEqual([1 - 0.05, -2 - 0.1]);
    const mom = optimizerStateRef([0]);
    for (const g of [1, 2, -1]) optimizerStepRef(mom, [g], { optimizer: 'momentum', clip: 'none' }, { lr: 0.5, momentum: 0.9 });
    // b: 1, 0.9 + 2 = 2.9, 2.61 − 1 = 1.61; p = −0.5·(1 + 2.9 + 1.61)
    expect(mom.m[0]).toBeCloseTo(1.61, 14);
    expect(mom.p[0]).toBeCloseTo(-0.5 * (1 + 2.9 + 1.61), 14);
    expect(mom.t).toBe(3);
  });

  it('adam: the first step moves each parameter by lr·g/(|g| + eps); later steps follow the bias-corrected moments', () => {
    const g1 = [1e-3, -2, 1e-9, 0];
    const s = optimizerStateRef([0, 0, 0, 0]);
    optimizerStepRef(s, g1, { optimizer: 'adam', clip: 'none' }, { lr: 0.01 });
    g1.forEach((g, i) => expect(s.p[i]).toBeCloseTo(-0.01 * (g / (Math.abs(g) + 1e-8)), 15));
    // Step 2 by hand with β = (0.9, 0.999), eps 1e-8, for g = (1, then 3).
    const a = optimizerStateRef([1]);
    optimizerStepRef(a, [1], { optimizer: 'adam', clip: 'none' }, { lr: 0.1 });
    optimizerStepRef(a, [3], { optimizer: 'adam', clip: 'none' }, { lr: 0.1 });
    const m = 0.9 * 0.1 + 0.1 * 3;
    const v = 0.999 * 0.001 + 0.001 * 9;
    const p1 = 1 - 0.1 * (1 / (1 + 1e-8));
    const p2 = p1 - (0.1 / (1 - 0.81)) * (m / (Math.sqrt(v) / Math.sqrt(1 - 0.999 ** 2) + 1e-8));
    expect(a.m[0]).toBeCloseTo(m, 15);
    expect(a.v[0]).toBeCloseTo(v, 15);
    expect(a.p[0]).toBeCloseTo(p2, 14);
  });

  it('clipping: norm scales by min(1, C/(‖g‖+1e-6)), value clamps; a non-finite gradient skips the step', () => {
    const s = optimizerStateRef([0, 0]);
    const c = optimizerStepRef(s, [3, 4], { optimizer: 'sgd', clip: 'norm' }, { lr: 1, clipThreshold: 1 });
    expect(c).toBeCloseTo(1 / (5 + 1e-6), 15);
    expect(Math.hypot(s.p[0], s.p[1])).toBeLessThanOrEqual(1);
    const v = optimizerStateRef([0, 0, 0]);
    optimizerStepRef(v, [3, -0.1, -4], { optimizer: 'sgd', clip: 'value' }, { lr: 1, clipThreshold: 0.5 });
    expect(Array.from(v.p)).toEqual([-0.5, 0.1, 0.5]);
    const skip = optimizerStateRef([1, 2]);
    expect(optimizerStepRef(skip, [NaN, 1], { optimizer: 'adam', clip: 'none' }, { lr: 1 })).toBe(0);
    expect(Array.from(skip.p)).toEqual([1, 2]);
    expect(skip.t).toBe(0);
  });

  it('decodeStepState reads every word, the clip scale as m·2^k and ‖g‖ past f32', () => {
    const words = new Uint32Array(STEP_STATE_WORDS);
    const f32 = new Float32Array(words.buffer);
    const i32 = new Int32Array(words.buffer);
    f32[STEP_NORM_SCALE] = 2 ** 126;
    f32[STEP_NORM_SSQ] = 1e4;
    f32[STEP_CLIP_MANTISSA] = 0.5;
    i32[STEP_CLIP_EXPONENT] = -126;
    f32[STEP_LOG10_NORM] = 40;
    words[STEP_NONFINITE] = 0;
    words[STEP_COUNT] = 7;
    words[STEP_SKIPPED] = 2;
    const s = decodeStepState(words);
    expect(s.gradNorm).toBe(2 ** 126 * 100);
    expect(s.gradNorm).toBeGreaterThan(3.5e38);
    expect(s.log10GradNorm).toBeCloseTo(126 * Math.log10(2) + 2, 12);
    expect(s.clipScale).toBe(2 ** -127);
    expect([s.step, s.skipped, s.nonfinite, s.gpuLog10GradNorm]).toEqual([7, 2, 0, 40]);
    const zero = decodeStepState(new Uint32Array(STEP_STATE_WORDS));
    expect([zero.gradNorm, zero.log10GradNorm]).toEqual([0, -Infinity]);
  });
});

describe('loss and optim specs agree with their generated WGSL (wgsl_reflect, no GPU)', () => {
  const specs: KernelSpec[] = [...lossSpecs(), ...optimSpecs()];
  it('have unique keys', () => {
    expect(new Set(specs.map((s) => s.key)).size).toBe(specs.length);
  });
  it.each(specs.map((s) => [s.label, s] as const))('%s', (_label, spec) => {
    const reflect = new WgslReflect(wgslSource(spec));
    const bindings = reflect.getBindGroups()[0];
    const expected = [...(hasUniforms(spec) ? ['params'] : []), ...spec.storage.map((s) => s.name)];
    expect(bindings.map((b) => b.name)).toEqual(expected);
    const struct = reflect.uniforms[0].type as unknown as { members: { name: string; offset: number }[] };
    expect(struct.members.map((m) => [m.name, m.offset])).toEqual(Object.keys(spec.uniforms).map((n, i) => [n, 4 * i]));
    expect(reflect.entry.compute.map((e) => e.name)).toEqual([spec.entryPoint]);
  });
});
