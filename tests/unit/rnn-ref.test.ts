import { describe, expect, it } from 'vitest';
import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import { ACTIVATIONS, activationRef, type Activation } from '../../src/kernels/elementwise.ts';
import { backwardSteps, defaultRnnVariant, persistentFits, rnnBackwardStepReference, rnnForwardStepReference, rnnKernelShape, rnnSpecs } from '../../src/kernels/rnn.ts';
import { bindGroupLayoutEntries, hasUniforms, packUniforms, uniformByteSize, wgslSource } from '../../src/kernels/spec.ts';
import { allKernelSpecs } from '../../src/kernels/registry.ts';
import { orthogonalRef, randomFillRef } from '../../src/kernels/init.ts';
import { rnnLossReference, rnnStepReference, hiddenGradNorms, type RnnReferenceDims, type RnnReferenceOptions, type RnnReferenceParams } from '../../src/models/rnn-reference.ts';
import { RNN_DEFAULTS, addingProblem, planRnn, slabRows, validateRnnConfig, type RnnConfig } from '../../src/models/rnn.ts';
import { rnnPrediction, rnnRunVerdict } from '../../src/scheduler/rnn-run.ts';
import type { RnnStepStats } from '../../src/scheduler/rnn-trainer.ts';
import { rnnConfigFromFlags, isRnnStress, parseRnnStress } from '../../src/cli/rnn-flags.ts';
import { isLstmStress } from '../../src/cli/lstm-flags.ts';
import { gaussianData } from '../../src/conformance/data.ts';
import type { AdapterSummary } from '../../src/gpu/context.ts';

type Params = { Wxh: Float64Array; Whh: Float64Array; bh: Float64Array; Why: Float64Array; by: Float64Array };

function randomParams(d: RnnReferenceDims, seed: number, gain = 1.1): Params {
  const f = (n: number, s: number, std: number) => Float64Array.from(gaussianData(n, seed * 10 + s, std));
  return {
    Wxh: f(d.hidden * d.input, 1, 1 / Math.sqrt(d.input)),
    Whh: f(d.hidden * d.hidden, 2, gain / Math.sqrt(d.hidden)),
    bh: f(d.hidden, 3, 0.2),
    Why: f(d.output * d.hidden, 4, 1 / Math.sqrt(d.hidden)),
    by: f(d.output, 5, 0.2),
  };
}

function data(d: RnnReferenceDims, o: Pick<RnnReferenceOptions, 'lossAt'>, seed: number): { input: Float64Array; target: Float64Array } {
  const readouts = o.lossAt === 'all' ? d.seqLen : 1;
  return {
    input: Float64Array.from(gaussianData(d.seqLen * d.batch * d.input, seed + 100)),
    target: Float64Array.from(gaussianData(readouts * d.batch * d.output, seed + 200)),
  };
}

/**
 * An independent forward pass for truncated BPTT: the hidden states at the
 * cuts (h_t with (T − t) mod k = 0, t < T) are held at `frozen` (their values
 * at the unperturbed parameters). d/dθ of this function at θ₀ IS the truncated
 * gradient, so central differences of it check the reference's truncation.
 */
function lossWithFrozenCuts(p: Params, d: RnnReferenceDims, o: RnnReferenceOptions, input: ArrayLike<number>, target: ArrayLike<number>, frozen: Float64Array[]): number {
  const { seqLen: T, batch: B, input: I, hidden: H, output: O } = d;
  const k = Math.min(o.bptt, T);
  let h = new Float64Array(B * H);
  let loss = 0;
  const count = (o.lossAt === 'all' ? T : 1) * B * O;
  for (let t = 1; t <= T; t++) {
    const next = new Float64Array(B * H);
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < H; j++) {
        let z = p.bh[j];
        for (let i = 0; i < I; i++) z += input[((t - 1) * B + b) * I + i] * p.Wxh[j * I + i];
        for (let m = 0; m < H; m++) z += h[b * H + m] * p.Whh[j * H + m];
        next[b * H + j] = activationRef(o.activation, z);
      }
    }
    h = t < T && (T - t) % k === 0 ? Float64Array.from(frozen[t]) : next;
    if (o.lossAt === 'all' || t === T) {
      const s = o.lossAt === 'all' ? t - 1 : 0;
      for (let b = 0; b < B; b++) {
        for (let q = 0; q < O; q++) {
          let y = p.by[q];
          // The readout sees the real h_t (the cut only stops the recurrence).
          for (let m = 0; m < H; m++) y += next[b * H + m] * p.Why[q * H + m];
          const tv = target[(s * B + b) * O + q];
          loss += o.loss === 'mse' ? (y - tv) ** 2 / count : tv * y;
        }
      }
    }
  }
  return loss;
}

function expectClose(name: string, got: ArrayLike<number>, want: ArrayLike<number>, rtol: number): void {
  let scale = 1e-300;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) {
    expect(Math.abs(got[i] - want[i]) / scale, `${name}[${i}]: ${got[i]} vs ${want[i]}`).toBeLessThanOrEqual(rtol);
  }
}

const dims: RnnReferenceDims = { seqLen: 6, batch: 2, input: 3, hidden: 4, output: 2 };

const fdCases = ACTIVATIONS.flatMap((activation) =>
  [
    { lossAt: 'last' as const, loss: 'mse' as const, bptt: 6 },
    { lossAt: 'all' as const, loss: 'probe' as const, bptt: 6 },
    { lossAt: 'last' as const, loss: 'probe' as const, bptt: 2 },
    { lossAt: 'all' as const, loss: 'mse' as const, bptt: 4 },
  ].map((c) => ({ activation, ...c })),
);

describe('float64 RNN reference: central finite differences of the loss (truncated: of the loss with the cut states frozen)', () => {
  it.each(fdCases)('$activation, loss $loss at $lossAt, bptt $bptt: every ∂L/∂param within 1e-6 of the difference quotient', ({ activation, lossAt, loss, bptt }) => {
    const o: RnnReferenceOptions = { activation, loss, lossAt, bptt };
    const p = randomParams(dims, 3);
    const { input, target } = data(dims, o, 9);
    const ref = rnnStepReference(p, dims, o, input, target);
    const frozen = ref.hidden;
    const f = () => (bptt >= dims.seqLen ? rnnLossReference(p, dims, o, input, target) : lossWithFrozenCuts(p, dims, o, input, target, frozen));
    expect(f()).toBeCloseTo(ref.loss, 12);
    const eps = 1e-6;
    for (const name of ['Wxh', 'Whh', 'bh', 'Why', 'by'] as const) {
      const tensor = p[name];
      const fd = new Float64Array(tensor.length);
      for (let i = 0; i < tensor.length; i++) {
        const saved = tensor[i];
        tensor[i] = saved + eps;
        const plus = f();
        tensor[i] = saved - eps;
        const minus = f();
        tensor[i] = saved;
        fd[i] = (plus - minus) / (2 * eps);
      }
      expectClose(`${name} (${activation})`, ref.grads[name], fd, 1e-6);
    }
  });

  it('truncated BPTT with the loss at the last step: dh_t is the full gradient on the last k steps and exactly 0 before', () => {
    const o: RnnReferenceOptions = { activation: 'tanh', loss: 'probe', lossAt: 'last', bptt: 6 };
    const p = randomParams(dims, 4);
    const { input, target } = data(dims, o, 5);
    const full = rnnStepReference(p, dims, o, input, target);
    for (const k of [1, 2, 5]) {
      const cut = rnnStepReference(p, dims, { ...o, bptt: k }, input, target);
      for (let t = 1; t <= dims.seqLen; t++) {
        if (t > dims.seqLen - k) expect(Array.from(cut.dh[t - 1])).toEqual(Array.from(full.dh[t - 1]));
        else expect(cut.dh[t - 1].every((v) => v === 0)).toBe(true);
      }
    }
    // k ≥ T is full BPTT.
    expect(Array.from(rnnStepReference(p, dims, { ...o, bptt: 100 }, input, target).grads.Whh)).toEqual(Array.from(full.grads.Whh));
  });
});

describe('float64 RNN reference: the exact theory', () => {
  it.each([0.9, 1, 1.1])('linear, W_hh = %f·Q, loss at the last step: ‖∂L/∂h_t‖ = a^(T−t)·‖∂L/∂h_T‖ to 1e-12', (a) => {
    const d: RnnReferenceDims = { seqLen: 40, batch: 3, input: 2, hidden: 8, output: 3 };
    const p = randomParams(d, 6);
    p.Whh = orthogonalRef(8, 8, randomFillRef('normal', { seed: 1, count: 64 }), a);
    const o: RnnReferenceOptions = { activation: 'linear', loss: 'probe', lossAt: 'last', bptt: 40 };
    const { input, target } = data(d, o, 7);
    const norms = hiddenGradNorms(rnnStepReference(p, d, o, input, target));
    for (let t = 1; t <= d.seqLen; t++) expect(norms[t - 1] / norms[d.seqLen - 1] / a ** (d.seqLen - t)).toBeCloseTo(1, 12);
  });
});

describe('step kernel references agree with the whole-sequence reference', () => {
  it.each(ACTIVATIONS)('%s: rnnForwardStepReference / rnnBackwardStepReference reproduce h_t, dh_t, dz_t', (activation: Activation) => {
    const o: RnnReferenceOptions = { activation, loss: 'probe', lossAt: 'all', bptt: 6 };
    const p = randomParams(dims, 8);
    const { input, target } = data(dims, o, 2);
    const ref = rnnStepReference(p, dims, o, input, target);
    const { batch: B, hidden: H } = dims;
    for (let t = 1; t <= dims.seqLen; t++) {
      const u = Float64Array.from(ref.preact[t - 1]);
      // u_t = z_t − h_{t−1} W_hhᵀ
      const hw = rnnForwardStepReference('linear', B, H, p.Whh, new Float64Array(B * H), ref.hidden[t - 1]).out;
      for (let i = 0; i < u.length; i++) u[i] -= hw[i];
      expectClose(`h_${t}`, rnnForwardStepReference(activation, B, H, p.Whh, u, ref.hidden[t - 1]).out, ref.hidden[t], 1e-14);
    }
    for (const v of backwardSteps(dims.seqLen, { lossAll: true, bptt: 6 })) {
      const direct = new Float64Array(B * H);
      const dyW = rnnBackwardStepReference('linear', B, H, p.Whh, ref.hidden[v.t], v.carry ? ref.dz[v.t] : null, null).dh!;
      for (let i = 0; i < direct.length; i++) direct[i] = ref.dh[v.t - 1][i] - dyW[i];
      const step = rnnBackwardStepReference(activation, B, H, p.Whh, ref.hidden[v.t], v.carry ? ref.dz[v.t] : null, direct);
      expectClose(`dh_${v.t}`, step.dh!, ref.dh[v.t - 1], 1e-13);
      expectClose(`dz_${v.t}`, step.out, ref.dz[v.t - 1], 1e-12);
    }
  });

  it('backwardSteps: chunks of k end at T; loss at the last step visits only the last k', () => {
    const visits = (T: number, lossAll: boolean, bptt: number) => backwardSteps(T, { lossAll, bptt }).map((v) => `${v.t}${v.carry ? 'c' : ''}${v.direct ? 'd' : ''}`).join(' ');
    expect(visits(5, false, 5)).toBe('5d 4c 3c 2c 1c');
    expect(visits(5, false, 2)).toBe('5d 4c');
    expect(visits(5, true, 2)).toBe('5d 4cd 3d 2cd 1d');
    expect(visits(5, true, 1)).toBe('5d 4d 3d 2d 1d');
    expect(visits(3, false, 99)).toBe('3d 2c 1c');
  });
});

describe('RNN kernel specs agree with their generated WGSL (wgsl_reflect, no GPU)', () => {
  const specs = rnnSpecs();
  it('are all in the kernel registry (so spec-wgsl.test.ts checks them too), under unique cache keys', () => {
    const registry = allKernelSpecs().map((s) => s.key);
    expect(new Set(registry).size).toBe(registry.length);
    for (const spec of specs) expect(registry).toContain(spec.key);
  });
  it.each(specs.map((s) => [s.label, s] as const))('%s', (_label, spec) => {
    const reflect = new WgslReflect(wgslSource(spec));
    const bindings = reflect.getBindGroups()[0];
    const expected = [
      ...(hasUniforms(spec) ? [{ name: 'params', access: 'read' }] : []),
      ...spec.storage.map((s) => ({ name: s.name, access: s.access })),
    ];
    expect(bindings.map((b) => ({ name: b.name, access: b.access }))).toEqual(expected);
    expect(bindGroupLayoutEntries(spec).length).toBe(expected.length);
    const struct = reflect.uniforms[0].type as unknown as { members: { name: string; offset: number }[]; size: number };
    expect(struct.members.map((m) => [m.name, m.offset])).toEqual(Object.keys(spec.uniforms).map((n, i) => [n, 4 * i]));
    expect(struct.size).toBeLessThanOrEqual(uniformByteSize(spec));
    expect(packUniforms(spec, Object.fromEntries(Object.keys(spec.uniforms).map((n) => [n, 1]))).byteLength).toBe(uniformByteSize(spec));
    expect(reflect.entry.compute.map((e) => e.name)).toEqual([spec.entryPoint]);
  });
});

describe('RNN model plan, task and theory', () => {
  it('slab rows make every timestep start on a 256-byte boundary', () => {
    for (const [B, H] of [[1, 1], [3, 7], [2, 16], [8, 128], [5, 48], [33, 65]]) {
      const rows = slabRows(B, H);
      expect(rows).toBeGreaterThanOrEqual(B);
      expect((rows * H) % 64).toBe(0);
      expect(rows - B).toBeLessThan(64);
    }
    const plan = planRnn({ seqLen: 10, width: 7, input: 3, output: 2, batch: 3, lossAt: 'last' });
    expect(plan.tensors.map((t) => t.name)).toEqual(['Wxh', 'Whh', 'bh', 'Why', 'by']);
    expect(plan.tensors.every((t) => t.offset % 64 === 0)).toBe(true);
    expect(plan.paramCount).toBe(7 * 3 + 49 + 7 + 14 + 2);
    expect(plan.readoutRows).toBe(3);
  });

  it('adding problem: two markers, one in each half; target = the sum of the marked values; reproducible', () => {
    const T = 11;
    const B = 64;
    const a = addingProblem(T, B, 3);
    expect(addingProblem(T, B, 3).input).toEqual(a.input);
    expect(addingProblem(T, B, 4).input).not.toEqual(a.input);
    for (let b = 0; b < B; b++) {
      const marked: number[] = [];
      let sum = 0;
      for (let t = 1; t <= T; t++) {
        const value = a.input[((t - 1) * B + b) * 2];
        const marker = a.input[((t - 1) * B + b) * 2 + 1];
        expect(value).toBeGreaterThanOrEqual(0);
        expect(value).toBeLessThan(1);
        expect([0, 1]).toContain(marker);
        if (marker === 1) {
          marked.push(t);
          sum += value;
        }
      }
      expect(marked).toEqual(a.positions[b]);
      expect(marked[0]).toBeLessThanOrEqual(5);
      expect(marked[1]).toBeGreaterThan(5);
      expect(a.target[b]).toBe(Math.fround(sum));
    }
  });

  it('predictedGrowthPerStep is log10(gain) for linear orthogonal/identity with the loss at the last step, else null with Pascanu\'s condition', () => {
    const base: RnnConfig = { ...RNN_DEFAULTS, seqLen: 50, width: 8, input: 8, output: 8, activation: 'linear', init: 'orthogonal', gain: 1.02 };
    expect(rnnPrediction(base).predictedGrowthPerStep).toBe(Math.log10(1.02));
    expect(rnnPrediction({ ...base, init: 'identity', gain: 0.9 }).predictedGrowthPerStep).toBe(Math.log10(0.9));
    const tanh = rnnPrediction({ ...base, activation: 'tanh', gain: 0.8 });
    expect(tanh.predictedGrowthPerStep).toBeNull();
    expect(tanh.pascanu).toBe('vanishing');
    expect(tanh.note).toMatch(/must vanish/);
    const gaussian = rnnPrediction({ ...base, init: 'gaussian', gain: 0.8 });
    expect(gaussian.sigmaMax).toBeCloseTo(1.6, 12);
    expect(gaussian.pascanu).toBe('explosion-possible');
    expect(rnnPrediction({ ...base, lossAt: 'all' }).predictedGrowthPerStep).toBeNull();
  });

  it('the verdict fits only the timesteps truncated BPTT reaches (no false "vanishing" from the zeros below)', () => {
    const config: RnnConfig = { ...RNN_DEFAULTS, seqLen: 20, width: 4, input: 4, output: 4, activation: 'linear', init: 'orthogonal', gain: 1.5, bptt: 5 };
    const timesteps = Array.from({ length: 20 }, (_, i) => {
      const t = i + 1;
      const norm = t > 15 ? 1.5 ** (20 - t) : 0;
      return { t, hiddenGradNorm: norm, log10HiddenGradNorm: Math.log10(norm), hiddenNorm: 1 };
    });
    const step: RnnStepStats = { step: 1, loss: 0, gradNorm: 1, finiteGradNorm: 1, clipScale: 1, nonfinite: 0, nonfiniteTimestep: null, layers: [], tensors: [], timesteps };
    const v = rnnRunVerdict(config, [step]);
    expect(v.fittedTimesteps).toEqual([16, 20]);
    expect(v.growthPerStep).toBeCloseTo(Math.log10(1.5), 12);
    expect(v.status).toBe('stable');
  });

  it('defaults: persistent where one workgroup holds a tile per invocation (on SwiftShader only for small states)', () => {
    const software = { software: true } as AdapterSummary;
    const gpu = { software: false } as AdapterSummary;
    expect(persistentFits(32, 128)).toBe(true);
    expect(persistentFits(128, 128)).toBe(true);
    expect(persistentFits(128, 256)).toBe(false);
    expect(defaultRnnVariant(gpu, 32, 128)).toBe('persistent');
    expect(defaultRnnVariant(gpu, 128, 256)).toBe('step');
    expect(defaultRnnVariant(software, 4, 16)).toBe('persistent');
    expect(defaultRnnVariant(software, 8, 64)).toBe('persistent');
    expect(defaultRnnVariant(software, 8, 128)).toBe('step');
    expect(defaultRnnVariant(software, 32, 128)).toBe('step');
    // SwiftShader: fat tiles, a persistent workgroup of one invocation per tile.
    expect(rnnKernelShape(software, 'step', 32, 128)).toEqual({ rowsPerThread: 8, colsPerThread: 8, workgroupSize: 16 });
    expect(rnnKernelShape(software, 'persistent', 2, 16)).toEqual({ rowsPerThread: 2, colsPerThread: 4, workgroupSize: 4 });
    expect(rnnKernelShape(software, 'persistent', 32, 128)).toEqual({ rowsPerThread: 8, colsPerThread: 8, workgroupSize: 64 });
    expect(rnnKernelShape(gpu, 'persistent', 32, 128)).toEqual({ rowsPerThread: 4, colsPerThread: 4, workgroupSize: 256 });
    expect(rnnKernelShape(gpu, 'step', 3, 128)).toEqual({ rowsPerThread: 2, colsPerThread: 4, workgroupSize: 64 });
  });
});

describe('rnnConfigFromFlags: DESIGN.md flags → RnnConfig, messages that name the flag', () => {
  const flags = (extra: Record<string, string>) => rnnConfigFromFlags({ model: 'rnn', ...extra });

  it('maps every flag', () => {
    const c = flags({
      'seq-len': '500', width: '128', batch: '8', activation: 'linear', init: 'orthogonal', gain: '1.02', loss: 'probe',
      steps: '3', lr: '0.1', optimizer: 'adam', clip: 'norm:1', seed: '9', 'loss-at': 'all', bptt: '20', 'bias-std': '0.1', input: '4', output: '3',
    });
    expect(c).toMatchObject({
      model: 'rnn', seqLen: 500, width: 128, batch: 8, activation: 'linear', init: 'orthogonal', gain: 1.02, task: 'probe', loss: 'probe',
      steps: 3, lr: 0.1, optimizer: 'adam', clip: { kind: 'norm', threshold: 1 }, seed: 9, lossAt: 'all', bptt: 20, biasStd: 0.1, input: 4, output: 3,
    });
    expect(validateRnnConfig(c)).toBe(c);
  });

  it('--loss mse is the adding problem (2 inputs, 1 output); --task adding says the same', () => {
    for (const c of [flags({ loss: 'mse' }), flags({ task: 'adding' }), flags({ task: 'adding', loss: 'mse' })]) {
      expect(c).toMatchObject({ task: 'adding', loss: 'mse', input: 2, output: 1, lossAt: 'last', bptt: 'full' });
    }
    expect(flags({})).toMatchObject({ task: 'probe', loss: 'probe', input: 128, output: 128, seqLen: 100 });
  });

  it.each([
    [{ task: 'adding', loss: 'probe' }, /--loss probe contradicts --task adding/],
    [{ task: 'adding', input: '3' }, /--input 3: the adding problem has 2 input channels/],
    [{ loss: 'mse', 'loss-at': 'all' }, /--loss-at all: the adding problem/],
    [{ init: 'he' }, /--init he: for --model rnn choose from gaussian, orthogonal, identity/],
    [{ depth: '10' }, /--depth applies to --model mlp/],
    [{ 'seq-len': '0' }, /--seq-len/],
    [{ 'seq-len': '10', bptt: '11' }, /--bptt 11/],
    [{ bptt: 'some' }, /--bptt/],
    [{ 'loss-at': 'first' }, /--loss-at/],
    [{ task: 'copy' }, /--task/],
    [{ gain: '-1' }, /--gain/],
    [{ clip: 'norm:-1' }, /--clip/],
    [{ 'seq-len': '1', task: 'adding' }, /--seq-len 1: the adding problem needs T ≥ 2/],
  ])('%o → %s', (extra, message) => {
    expect(() => flags(extra as Record<string, string>)).toThrow(message);
  });

  it('parses the whole command line, --model rnn either spelling', () => {
    const args = ['--model', 'rnn', '--seq-len', '50', '--width', '16', '--rnn-variant', 'persistent', '--json', 'r.json', '--bptt', 'full'];
    expect(isRnnStress(args)).toBe(true);
    expect(isRnnStress(['--model=rnn'])).toBe(true);
    expect(isRnnStress(['--model', 'mlp'])).toBe(false);
    // The last --model counts, as the flag parser takes it.
    expect(isRnnStress(['--model', 'rnn', '--model', 'lstm'])).toBe(false);
    expect(isLstmStress(['--model', 'rnn', '--model=lstm'])).toBe(true);
    expect(isLstmStress(['--model', 'lstm', '--model', 'mlp'])).toBe(false);
    expect(isRnnStress(['--model=lstm', '--model', 'rnn'])).toBe(true);
    const command = parseRnnStress(args);
    expect(command).toMatchObject({ json: 'r.json', variant: 'persistent', config: { seqLen: 50, width: 16, bptt: 'full' } });
    expect(() => parseRnnStress(['--model', 'rnn', '--rnn-variant', 'fast'])).toThrow(/--rnn-variant/);
  });
});
