import {
  CLIP_KINDS,
  OPTIMIZER_KINDS,
  STEP_COUNT,
  STEP_STATE_BYTES,
  STEP_STATE_WORDS,
  clipScaleReference,
  decodeStepState,
  optimizerStateRef,
  prepareGlobalNorm,
  prepareOptimizer,
  resolveHyper,
  type ClipConfig,
  type ClipKind,
  type OptimizerHyper,
  type OptimizerKind,
  type StepState,
} from '../kernels/optim.ts';
import {
  SEGMENT_STATS_WORDS,
  STATS_MAX_ABS,
  STATS_NONFINITE,
  STATS_SCALE,
  STATS_SSQ,
  prepareSegmentReduce,
  type Segment,
} from '../kernels/reduce.ts';
import type { GpuContext } from '../gpu/context.ts';
import type { CaseResult, ConformanceCase } from './case.ts';
import { gaussianData, seededRandom } from './data.ts';
import { reduceNormRtol } from './reduce.ts';

const U = 2 ** -24;
const F32_MAX = 3.4028234663852886e38;

/**
 * Accuracy contracts.
 * Global norm: the (2^e, ssq) records are combined by exact power-of-two
 * rescalings and a sum of non-negative terms over d = ⌈count/64⌉ + 6
 * additions: ‖g‖ errs by (d+2)/2·2⁻²⁴ relative on top of the records' own
 * error (the reduce contract); the decoded log10 by that / ln 10; the f32
 * log10 word the GPU writes by 1e-5 absolute more (log2 and f32 rounding of a
 * number up to ~40). Clip scale C/(‖g‖ + 1e−6): the norm's relative error
 * plus 8·2⁻²⁴. Counts and step counters: exact.
 * Update: float64 reference (PyTorch's formulas) with a running error bound per
 * element: each step adds 2⁻²⁴·|p| for p's rounding, the clip scale's relative
 * error times |lr·ĝ|, and per optimizer the roundings of its recurrences
 * (momentum buffer 3u of its terms' magnitudes, Adam's m 3u, v 4u, the
 * bias-corrected step 48u, with the m and v errors propagated through
 * m/(√v/√bc2 + eps)). The GPU must stay within twice that bound.
 */
export const GLOBAL_NORM_CONTRACT =
  '‖g‖: |Δ|/‖g‖ ≤ (d+2)/2·2⁻²⁴ + records; log10: that/ln 10 (+1e-5 for the f32 word); clip: +8·2⁻²⁴; counts exact';
export const UPDATE_CONTRACT = '|Δ| ≤ 2 × running float64 error bound (p rounding, clip scale error, recurrence roundings)';

export function globalNormRtol(records: number): number {
  return ((Math.ceil(records / 64) + 6 + 2) / 2) * U;
}

// ---------------------------------------------------------------------------
// Global norm from records uploaded directly

interface RecordSpec {
  /** Exponent e of the scale 2^e, or null for an empty record (scale 0). */
  e: number | null;
  ssq: number;
  nonfinite: number;
}

function recordWords(records: readonly RecordSpec[], before: number): Uint32Array {
  const words = new Uint32Array((before + records.length + 1) * SEGMENT_STATS_WORDS);
  const f32 = new Float32Array(words.buffer);
  // Records outside the range: huge, with non-finite counts, so reading one shows.
  for (let r = 0; r < before + records.length + 1; r++) {
    f32[r * SEGMENT_STATS_WORDS + STATS_SCALE] = 2 ** 120;
    f32[r * SEGMENT_STATS_WORDS + STATS_SSQ] = 1e9;
    f32[r * SEGMENT_STATS_WORDS + STATS_MAX_ABS] = 2 ** 121;
    words[r * SEGMENT_STATS_WORDS + STATS_NONFINITE] = 99;
  }
  records.forEach((rec, i) => {
    const o = (before + i) * SEGMENT_STATS_WORDS;
    f32[o + STATS_SCALE] = rec.e === null ? 0 : 2 ** rec.e;
    f32[o + STATS_SSQ] = rec.e === null ? 0 : rec.ssq;
    f32[o + STATS_MAX_ABS] = rec.e === null ? 0 : 2 ** rec.e * Math.min(1.99, Math.sqrt(rec.ssq));
    words[o + STATS_NONFINITE] = rec.nonfinite;
  });
  return words;
}

/** Σ scale²·ssq in float64 of the records as f32 would hold them. */
function recordsSumSquares(records: readonly RecordSpec[]): number {
  return records.reduce((s, r) => (r.e === null ? s : s + 2 ** (2 * r.e) * Math.fround(r.ssq)), 0);
}

function checkNorm(problems: string[], label: string, gpu: StepState, sumSquares: number, rtol: number): number {
  const norm = Math.sqrt(sumSquares);
  const error = norm === 0 ? gpu.gradNorm : Math.abs(gpu.gradNorm - norm) / norm;
  if (!(error <= rtol)) problems.push(`${label}: ‖g‖ ${gpu.gradNorm} vs float64 ${norm} (relative |Δ| ${error.toExponential(3)} > ${rtol.toExponential(3)})`);
  const log10 = Math.log10(norm);
  const logTol = rtol / Math.LN10;
  if (norm === 0) {
    if (gpu.log10GradNorm !== -Infinity || gpu.gpuLog10GradNorm !== -Infinity) problems.push(`${label}: log10 ‖g‖ of 0 is ${gpu.log10GradNorm} / ${gpu.gpuLog10GradNorm}, not −Infinity`);
  } else {
    if (!(Math.abs(gpu.log10GradNorm - log10) <= logTol)) problems.push(`${label}: log10 ‖g‖ ${gpu.log10GradNorm} vs ${log10} (allowed ±${logTol.toExponential(3)})`);
    if (!(Math.abs(gpu.gpuLog10GradNorm - log10) <= logTol + 1e-5)) {
      problems.push(`${label}: GPU log10 word ${gpu.gpuLog10GradNorm} vs ${log10} (allowed ±${(logTol + 1e-5).toExponential(3)})`);
    }
  }
  return error;
}

function checkClip(problems: string[], label: string, gpu: number, ref: number, rtol: number): void {
  const error = ref === 0 ? Math.abs(gpu) : Math.abs(gpu - ref) / ref;
  if (!(error <= rtol + 8 * U)) problems.push(`${label}: clip scale ${gpu} vs float64 ${ref} (relative |Δ| ${error.toExponential(3)})`);
}

function result(problems: string[], maxError: number): CaseResult {
  const shown = problems.slice(0, 6).join('\n  ');
  return { ok: problems.length === 0, maxError, detail: problems.length === 0 ? '' : `${problems.length} problem(s):\n  ${shown}${problems.length > 6 ? '\n  …' : ''}` };
}

/**
 * `count` records at record offset 3 of a buffer whose other records would
 * spoil the result if read; norm clipping at C well below and well above ‖g‖
 * and clip none; three steps each (the counter must read 3).
 */
function recordsCase(kernel: string, records: () => RecordSpec[]): ConformanceCase {
  return {
    family: 'optim',
    kernel: `optim.globalNorm ${kernel}`,
    shape: `${records().length} records`,
    contract: GLOBAL_NORM_CONTRACT,
    async run(ctx: GpuContext): Promise<CaseResult> {
      const recs = records();
      const before = 3;
      const stats = ctx.upload('optim.stats', recordWords(recs, before));
      const state = ctx.createStorage('optim.state', STEP_STATE_BYTES);
      const problems: string[] = [];
      let maxError = 0;
      const sumSquares = recordsSumSquares(recs);
      const nonfinite = recs.reduce((s, r) => s + r.nonfinite, 0);
      const norm = Math.sqrt(sumSquares);
      const rtol = globalNormRtol(recs.length);
      try {
        const thresholds: [ClipKind, number][] = [['none', 0], ['norm', Math.max(1e-30, norm * 1e-3)], ['norm', Math.min(3e38, Math.max(1, norm) * 1e3)]];
        for (const [clip, threshold] of thresholds) {
          const label = clip === 'none' ? 'clip none' : `norm:${threshold.toExponential(2)}`;
          const kernel = await prepareGlobalNorm(ctx, { clip });
          ctx.device.queue.writeBuffer(state, 0, new Uint32Array(STEP_STATE_WORDS));
          const dispatch = kernel.bind({ first: before, count: recs.length, clipThreshold: threshold }, { stats, state });
          for (let step = 1; step <= 3; step++) await ctx.run([dispatch]);
          const gpu = decodeStepState(await ctx.readU32(state, STEP_STATE_WORDS));
          maxError = Math.max(maxError, checkNorm(problems, label, gpu, sumSquares, rtol));
          if (gpu.nonfinite !== nonfinite) problems.push(`${label}: non-finite total ${gpu.nonfinite} ≠ ${nonfinite}`);
          const skipped = nonfinite > 0;
          if (gpu.step !== (skipped ? 0 : 3) || gpu.skipped !== (skipped ? 3 : 0)) {
            problems.push(`${label}: after 3 steps the counters read step ${gpu.step}, skipped ${gpu.skipped}`);
          }
          const clipConfig: ClipConfig = clip === 'none' ? { kind: 'none' } : { kind: 'norm', threshold };
          checkClip(problems, label, gpu.clipScale, skipped ? 0 : clipScaleReference(norm, clipConfig), rtol);
        }
      } finally {
        stats.destroy();
        state.destroy();
      }
      return result(problems, maxError);
    },
  };
}

/** Records of random exponents in [lo, hi], ssq in [1, 4·length), some empty. */
function randomRecords(count: number, seed: number, lo: number, hi: number, nonfinite = 0): RecordSpec[] {
  const next = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => {
    if (i % 17 === 5) return { e: null, ssq: 0, nonfinite: 0 };
    const length = 1 + Math.floor(next() * 5000);
    return {
      e: lo + Math.floor(next() * (hi - lo + 1)),
      ssq: 1 + next() * (4 * length - 1),
      nonfinite: nonfinite > 0 && i % 97 === 3 ? nonfinite : 0,
    };
  });
}

// ---------------------------------------------------------------------------
// The training-step tail: segment reduce → global norm → update, step by step

interface TailSetup {
  optimizer: OptimizerKind;
  clip: ClipKind;
  hyper: OptimizerHyper;
  p0: Float32Array;
  grads: Float32Array[];
  /** Initial m and v (default zero) and updates already counted in the state (default 0). */
  m0?: Float32Array;
  v0?: Float32Array;
  step0?: number;
  /** Forces the update's grid into 2-D past this many workgroups. */
  maxWorkgroupsPerDimension?: number;
}

interface TailStep {
  p: Float32Array;
  m: Float32Array;
  v: Float32Array;
  state: StepState;
}

/** Splits n elements into up to three segments of awkward lengths (the per-tensor records). */
function arenaSegments(n: number): Segment[] {
  if (n < 3) return [{ offset: 0, length: n }];
  const a = Math.max(1, Math.floor(n * 0.61));
  const b = Math.max(a + 1, Math.floor(n * 0.97));
  return [{ offset: 0, length: a }, { offset: a, length: b - a }, { offset: b, length: n - b }];
}

/** Runs the step tail on the GPU once per gradient and reads everything after each step. */
async function runTail(ctx: GpuContext, s: TailSetup): Promise<{ steps: TailStep[]; normRtol: number }> {
  const n = s.p0.length;
  const segments = arenaSegments(n);
  const reduce = await prepareSegmentReduce(ctx);
  const globalNorm = await prepareGlobalNorm(ctx, { clip: s.clip });
  const optimizer = await prepareOptimizer(ctx, { optimizer: s.optimizer, clip: s.clip, maxWorkgroupsPerDimension: s.maxWorkgroupsPerDimension });
  const params = ctx.upload('optim.params', s.p0);
  const grads = ctx.createStorage('optim.grads', n * 4);
  const m = s.m0 ? ctx.upload('optim.m', s.m0) : ctx.createStorage('optim.m', n * 4);
  const v = s.v0 ? ctx.upload('optim.v', s.v0) : ctx.createStorage('optim.v', n * 4);
  const firstRecord = 2;
  const stats = ctx.createStorage('optim.stats', (firstRecord + segments.length) * SEGMENT_STATS_WORDS * 4);
  const state = ctx.createStorage('optim.state', STEP_STATE_BYTES);
  if (s.step0) {
    const words = new Uint32Array(STEP_STATE_WORDS);
    words[STEP_COUNT] = s.step0;
    ctx.device.queue.writeBuffer(state, 0, words);
  }
  const reduction = reduce.bind(segments, { data: grads, stats }, { outputOffset: firstRecord });
  try {
    const dispatches = [
      ...reduction.dispatches,
      globalNorm.bind({ first: firstRecord, count: segments.length, clipThreshold: s.hyper.clipThreshold }, { stats, state }),
      optimizer.bind({ count: n, ...s.hyper }, { params, grads, state, m, v }),
    ];
    const steps: TailStep[] = [];
    for (const g of s.grads) {
      ctx.device.queue.writeBuffer(grads, 0, g.buffer, g.byteOffset, g.byteLength);
      await ctx.run(dispatches);
      steps.push({
        p: await ctx.readF32(params, n),
        m: await ctx.readF32(m, n),
        v: await ctx.readF32(v, n),
        state: decodeStepState(await ctx.readU32(state, STEP_STATE_WORDS)),
      });
    }
    const depth = Math.max(...segments.map((seg) => reduce.sumDepth(seg.length)));
    return { steps, normRtol: reduceNormRtol(depth) + globalNormRtol(segments.length) };
  } finally {
    reduction.destroy();
    for (const b of [params, grads, m, v, stats, state]) b.destroy();
  }
}

/** The float64 state with a running error bound of each element (see UPDATE_CONTRACT). */
interface BoundedState {
  p: Float64Array;
  m: Float64Array;
  v: Float64Array;
  t: number;
  ep: Float64Array;
  em: Float64Array;
  ev: Float64Array;
}

/**
 * One reference step (optimizerStepRef's formulas, restated here with their
 * error terms): `clipRtol` is the relative error allowed the GPU's clip scale.
 */
function boundedStep(s: BoundedState, g: Float32Array, o: TailSetup, clipRtol: number): number {
  const h = resolveHyper('reference', o.clip, o.hyper);
  let sumSquares = 0;
  for (const x of g) {
    if (!Number.isFinite(x)) return 0;
    sumSquares += x * x;
  }
  const clip: ClipConfig = o.clip === 'none' ? { kind: 'none' } : { kind: o.clip, threshold: h.clipThreshold };
  const c = clipScaleReference(Math.sqrt(sumSquares), clip);
  const ec = o.clip === 'norm' ? clipRtol + 8 * U : 0; // relative error of ĝ (clamp and ×1 are exact)
  s.t += 1;
  const bc1 = 1 - h.beta1 ** s.t;
  const bc2 = 1 - h.beta2 ** s.t;
  for (let i = 0; i < g.length; i++) {
    const cg = o.clip === 'value' ? Math.min(h.clipThreshold, Math.max(-h.clipThreshold, g[i])) : g[i] * c;
    const ecg = ec * Math.abs(cg) + (o.clip === 'norm' ? U * Math.abs(cg) : 0);
    let step: number;
    let estep: number;
    if (o.optimizer === 'sgd') {
      step = h.lr * cg;
      estep = h.lr * ecg + 2 * U * Math.abs(step);
    } else if (o.optimizer === 'momentum') {
      const b = h.momentum * s.m[i] + cg;
      s.em[i] = h.momentum * s.em[i] + ecg + 3 * U * (h.momentum * Math.abs(s.m[i]) + Math.abs(cg));
      s.m[i] = b;
      step = h.lr * b;
      estep = h.lr * s.em[i] + 2 * U * Math.abs(step);
    } else {
      const m1 = h.beta1 * s.m[i] + (1 - h.beta1) * cg;
      const v1 = h.beta2 * s.v[i] + (1 - h.beta2) * cg * cg;
      s.em[i] = h.beta1 * s.em[i] + (1 - h.beta1) * ecg + 3 * U * (h.beta1 * Math.abs(s.m[i]) + (1 - h.beta1) * Math.abs(cg));
      s.ev[i] = h.beta2 * s.ev[i] + 2 * (1 - h.beta2) * Math.abs(cg) * ecg + 4 * U * v1;
      s.m[i] = m1;
      s.v[i] = v1;
      const sqrtV = Math.sqrt(v1);
      const denom = sqrtV / Math.sqrt(bc2) + h.eps;
      step = (h.lr / bc1) * (m1 / denom);
      // d(step) = (lr/bc1)·(dm/denom + |m|·dD/denom²), dD = dv/(2√v·√bc2).
      const eD = sqrtV > 0 ? s.ev[i] / (2 * sqrtV * Math.sqrt(bc2)) : 0;
      estep = (h.lr / bc1) * (s.em[i] / denom + (Math.abs(m1) * eD) / (denom * denom)) + 48 * U * Math.abs(step);
    }
    s.p[i] -= step;
    s.ep[i] += estep + U * Math.abs(s.p[i]);
  }
  return c;
}

function compareBounded(problems: string[], label: string, name: string, gpu: Float32Array, ref: Float64Array, bound: Float64Array): number {
  let worst = -1;
  let worstExcess = -Infinity;
  let failures = 0;
  let maxError = 0;
  for (let i = 0; i < ref.length; i++) {
    const error = Math.abs(gpu[i] - ref[i]);
    // 2^-149: the smallest f32 spacing (subnormal results may also be flushed: 2^-126).
    const allowed = 2 * bound[i] + 2 ** -126;
    maxError = Math.max(maxError, Number.isNaN(error) ? Infinity : error);
    if (!(error <= allowed)) {
      failures++;
      const excess = Number.isNaN(error) ? Infinity : error / allowed;
      if (excess > worstExcess) {
        worstExcess = excess;
        worst = i;
      }
    }
  }
  if (failures > 0) {
    problems.push(
      `${label}: ${failures} ${name} element(s) out of bound; worst [${worst}]: gpu ${gpu[worst]} vs float64 ${ref[worst]} ` +
        `(|Δ| ${Math.abs(gpu[worst] - ref[worst]).toExponential(3)} > ${(2 * bound[worst] + 2 ** -126).toExponential(3)})`,
    );
  }
  return maxError;
}

/** Gradients of random sign with log10 magnitudes uniform in [−9, 1), some exactly 0 (eps matters for Adam). */
function gradients(n: number, seed: number): Float32Array {
  const next = seededRandom(seed);
  const g = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const magnitude = i % 23 === 11 ? 0 : 10 ** (-9 + 10 * next());
    g[i] = next() < 0.5 ? -magnitude : magnitude;
  }
  return g;
}

function hyperFor(optimizer: OptimizerKind, clip: ClipKind, grads: Float32Array[]): OptimizerHyper {
  const lr = optimizer === 'adam' ? 0.01 : 0.1;
  // norm: C at half the first step's norm (so steps clip); value: C = 0.5 (clamps many entries).
  const norm = Math.sqrt(grads[0].reduce((s, x) => s + x * x, 0));
  const clipThreshold = clip === 'norm' ? Math.max(1e-30, 0.5 * norm) : clip === 'value' ? 0.5 : undefined;
  return { lr, clipThreshold, ...(optimizer === 'momentum' ? { momentum: 0.9 } : {}), ...(optimizer === 'adam' ? { beta1: 0.9, beta2: 0.999, eps: 1e-8 } : {}) };
}

function optimizerCase(optimizer: OptimizerKind, clip: ClipKind, n: number, maxWorkgroupsPerDimension?: number): ConformanceCase {
  const stepCount = 3;
  const clipName = clip === 'none' ? 'no clip' : `clip ${clip}`;
  const fold = maxWorkgroupsPerDimension ? ` (2-D grid, ≤ ${maxWorkgroupsPerDimension} a dimension)` : '';
  return {
    family: 'optim',
    kernel: `optim.update ${optimizer} ${clipName} ×${stepCount} steps${fold}`,
    shape: `${n}`,
    contract: UPDATE_CONTRACT,
    async run(ctx: GpuContext): Promise<CaseResult> {
      const p0 = gaussianData(n, n * 7 + 3);
      const grads = Array.from({ length: stepCount }, (_, k) => gradients(n, n * 31 + k * 1009 + 17));
      if (clip === 'value' && n > 2) {
        grads[0][0] = 0.5; // exactly ±C: clamp keeps it
        grads[0][1] = -0.5;
      }
      const setup: TailSetup = { optimizer, clip, hyper: hyperFor(optimizer, clip, grads), p0, grads, maxWorkgroupsPerDimension };
      const { steps, normRtol } = await runTail(ctx, setup);
      const ref: BoundedState = {
        ...optimizerStateRef(p0),
        ep: new Float64Array(n),
        em: new Float64Array(n),
        ev: new Float64Array(n),
      };
      const problems: string[] = [];
      let maxError = 0;
      steps.forEach((gpu, k) => {
        const label = `step ${k + 1}`;
        const c = boundedStep(ref, grads[k], setup, normRtol);
        maxError = Math.max(maxError, compareBounded(problems, label, 'p', gpu.p, ref.p, ref.ep));
        if (optimizer !== 'sgd') compareBounded(problems, label, optimizer === 'adam' ? 'm' : 'momentum buffer', gpu.m, ref.m, ref.em);
        if (optimizer === 'adam') compareBounded(problems, label, 'v', gpu.v, ref.v, ref.ev);
        if (gpu.state.step !== k + 1 || gpu.state.skipped !== 0) problems.push(`${label}: counters read step ${gpu.state.step}, skipped ${gpu.state.skipped}`);
        checkClip(problems, label, gpu.state.clipScale, c, normRtol);
        const sumSquares = grads[k].reduce((s, x) => s + x * x, 0);
        checkNorm(problems, label, gpu.state, sumSquares, normRtol);
      });
      return result(problems, maxError);
    },
  };
}

/**
 * Norm clipping bounds the applied gradient: sgd with lr 1 from p = 0 leaves
 * p = −ĝ, and ‖ĝ‖ = min(‖g‖, ~C) ≤ C·(1 + 1e-5), for norms from far below C
 * to past f32 max (the clip scale then leaves the normal f32 range).
 */
function appliedNormCase(): ConformanceCase {
  const n = 1000;
  const norms = [1e-3, 0.5, 0.999, 1.001, 2, 1e3, 1e30, 1e38, 1e39];
  const C = 1;
  return {
    family: 'optim',
    kernel: 'optim.update sgd clip norm:1 bounds ‖ĝ‖',
    shape: `${n} × ‖g‖ ${norms.map((x) => x.toExponential(0)).join(',')}`,
    contract: '‖ĝ‖ ≤ C·(1 + 1e-5) and |‖ĝ‖ − min(‖g‖, C·‖g‖/(‖g‖+1e−6))| ≤ 1e-5 relative',
    async run(ctx: GpuContext): Promise<CaseResult> {
      const problems: string[] = [];
      let maxError = 0;
      for (const target of norms) {
        const g = gaussianData(n, Math.round(Math.log2(target) * 10) + 1000);
        const raw = Math.sqrt(g.reduce((s, x) => s + x * x, 0));
        for (let i = 0; i < n; i++) g[i] = (g[i] / raw) * target;
        const norm = Math.sqrt(g.reduce((s, x) => s + x * x, 0));
        const { steps } = await runTail(ctx, { optimizer: 'sgd', clip: 'norm', hyper: { lr: 1, clipThreshold: C }, p0: new Float32Array(n), grads: [g] });
        const applied = Math.sqrt(steps[0].p.reduce((s, x) => s + x * x, 0));
        const expected = norm * clipScaleReference(norm, { kind: 'norm', threshold: C });
        const error = Math.abs(applied - expected) / expected;
        maxError = Math.max(maxError, error);
        if (!(applied <= C * (1 + 1e-5))) problems.push(`‖g‖ ${norm.toExponential(3)}: applied ‖ĝ‖ ${applied} > C·(1 + 1e-5)`);
        if (!(error <= 1e-5)) problems.push(`‖g‖ ${norm.toExponential(3)}: applied ‖ĝ‖ ${applied} vs ${expected} (relative ${error.toExponential(3)})`);
        if (norm > F32_MAX && !(steps[0].state.gradNorm > F32_MAX && Number.isFinite(steps[0].state.gpuLog10GradNorm))) {
          problems.push(`‖g‖ ${norm.toExponential(3)} past f32: state reads ‖g‖ ${steps[0].state.gradNorm}, log10 word ${steps[0].state.gpuLog10GradNorm}`);
        }
      }
      return result(problems, maxError);
    },
  };
}

/** value:C clamps each gradient entry exactly: sgd lr 1 from p = 0 leaves p = −clamp(g, −C, C). */
function valueClampCase(): ConformanceCase {
  const n = 1031;
  const C = 0.25;
  return {
    family: 'optim',
    kernel: `optim.update sgd clip value:${C} clamps`,
    shape: `${n}`,
    contract: 'exact',
    async run(ctx: GpuContext): Promise<CaseResult> {
      const g = gaussianData(n, 71);
      g.set([C, -C, Math.fround(C * (1 + 2 ** -23)), -Math.fround(C * (1 - 2 ** -24)), 0, 1e30, -1e30, 3e38], 0);
      const { steps } = await runTail(ctx, { optimizer: 'sgd', clip: 'value', hyper: { lr: 1, clipThreshold: C }, p0: new Float32Array(n), grads: [g] });
      const problems: string[] = [];
      let clamped = 0;
      steps[0].p.forEach((p, i) => {
        const expected = -Math.min(C, Math.max(-C, g[i]));
        if (Math.abs(g[i]) > C) clamped++;
        if (p !== expected && !(p === 0 && expected === 0)) problems.push(`[${i}] g ${g[i]}: p ${p}, expected ${expected}`);
      });
      if (clamped < n / 2) problems.push(`only ${clamped} entries exceed C: the case does not exercise the clamp`);
      if (steps[0].state.clipScale !== 1) problems.push(`value clipping must leave the clip scale at 1, state reads ${steps[0].state.clipScale}`);
      return result(problems, problems.length === 0 ? 0 : NaN);
    },
  };
}

/**
 * Non-finite gradients skip the update (the documented policy): step 2 has
 * a NaN and an Inf; p, m and v must stay bit for bit as after step 1, the
 * state must read clip scale 0, 2 non-finite, step 1, skipped 1; step 3
 * then continues as Adam's t = 2 in float64.
 */
function nonfiniteCase(optimizer: OptimizerKind, clip: ClipKind): ConformanceCase {
  const n = 257;
  return {
    family: 'optim',
    kernel: `optim.update ${optimizer} clip ${clip} skips non-finite steps`,
    shape: `${n}`,
    contract: 'skipped step: p, m, v unchanged bit for bit; clip scale 0; counters exact',
    async run(ctx: GpuContext): Promise<CaseResult> {
      const p0 = gaussianData(n, 73);
      const grads = [gradients(n, 79), gradients(n, 83), gradients(n, 89)];
      grads[1][5] = NaN;
      grads[1][200] = -Infinity;
      const setup: TailSetup = { optimizer, clip, hyper: hyperFor(optimizer, clip, grads), p0, grads };
      const { steps, normRtol } = await runTail(ctx, setup);
      const problems: string[] = [];
      const [s1, s2, s3] = steps;
      const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
      const same = (a: Float32Array, b: Float32Array) => bits(a).every((w, i) => w === bits(b)[i]);
      if (!same(s1.p, s2.p) || !same(s1.m, s2.m) || !same(s1.v, s2.v)) problems.push('the skipped step changed p, m or v');
      const st = s2.state;
      if (st.clipScale !== 0 || st.nonfinite !== 2 || st.step !== 1 || st.skipped !== 1) {
        problems.push(`skipped step state: clip ${st.clipScale}, non-finite ${st.nonfinite}, step ${st.step}, skipped ${st.skipped} (expected 0, 2, 1, 1)`);
      }
      // The finite part of the norm is still reported.
      checkNorm(problems, 'skipped step', st, grads[1].reduce((s, x) => (Number.isFinite(x) ? s + x * x : s), 0), normRtol);
      if (s3.state.step !== 2 || s3.state.skipped !== 1 || s3.state.nonfinite !== 0) {
        problems.push(`step 3 state: step ${s3.state.step}, skipped ${s3.state.skipped}, non-finite ${s3.state.nonfinite} (expected 2, 1, 0)`);
      }
      const ref: BoundedState = { ...optimizerStateRef(p0), ep: new Float64Array(n), em: new Float64Array(n), ev: new Float64Array(n) };
      boundedStep(ref, grads[0], setup, normRtol);
      if (boundedStep(ref, grads[1], setup, normRtol) !== 0) problems.push('reference did not skip');
      boundedStep(ref, grads[2], setup, normRtol);
      const maxError = compareBounded(problems, 'step 3', 'p', s3.p, ref.p, ref.ep);
      return result(problems, maxError);
    },
  };
}

/** End to end: segment reduce of 1e±30 data over many awkward tensors → the global norm, as float64. */
function reducedNormCase(): ConformanceCase {
  const lengths = Array.from({ length: 150 }, (_, i) => 1 + ((i * 7919) % 997));
  return {
    family: 'optim',
    kernel: 'optim.globalNorm of reduced tensors, magnitudes 1e-30..1e30',
    shape: `${lengths.length} tensors`,
    contract: GLOBAL_NORM_CONTRACT,
    async run(ctx: GpuContext): Promise<CaseResult> {
      const total = lengths.reduce((a, b) => a + b, 0);
      const data = new Float32Array(total);
      const segments: Segment[] = [];
      let at = 0;
      lengths.forEach((length, i) => {
        const std = 10 ** (((i * 37) % 61) - 30); // 1e-30 … 1e30, squares far outside f32
        data.set(gaussianData(length, 500 + i, std), at);
        segments.push({ offset: at, length });
        at += length;
      });
      const reduce = await prepareSegmentReduce(ctx);
      const globalNorm = await prepareGlobalNorm(ctx, { clip: 'norm' });
      const buffer = ctx.upload('optim.data', data);
      const stats = ctx.createStorage('optim.stats', (segments.length + 1) * SEGMENT_STATS_WORDS * 4);
      const state = ctx.createStorage('optim.state', STEP_STATE_BYTES);
      const reduction = reduce.bind(segments, { data: buffer, stats }, { outputOffset: 1 });
      try {
        const C = 1e20;
        await ctx.run([...reduction.dispatches, globalNorm.bind({ first: 1, count: segments.length, clipThreshold: C }, { stats, state })]);
        const gpu = decodeStepState(await ctx.readU32(state, STEP_STATE_WORDS));
        const sumSquares = data.reduce((s, x) => s + x * x, 0);
        const depth = Math.max(...lengths.map((l) => reduce.sumDepth(l)));
        const rtol = reduceNormRtol(depth) + globalNormRtol(segments.length);
        const problems: string[] = [];
        const error = checkNorm(problems, 'reduced', gpu, sumSquares, rtol);
        checkClip(problems, 'reduced', gpu.clipScale, clipScaleReference(Math.sqrt(sumSquares), { kind: 'norm', threshold: C }), rtol);
        return result(problems, error);
      } finally {
        reduction.destroy();
        buffer.destroy();
        stats.destroy();
        state.destroy();
      }
    },
  };
}

/**
 * Adam's bias correction 1 − β^t over the whole range of t (the step counter
 * preset in the state, m and v from a previous run): the Taylor branch of
 * −expm1(t·ln β) near β^t = 1, the 1 − exp branch past it, β1 = 0.
 */
function adamBiasCase(beta1: number, beta2: number): ConformanceCase {
  const ts = [1, 2, 5, 30, 200, 693, 694, 5000, 100_000, 3_000_000];
  const n = 97;
  return {
    family: 'optim',
    kernel: `optim.update adam β=(${beta1}, ${beta2}) bias correction at t = ${ts[0]}…${ts[ts.length - 1]}`,
    shape: `${n} × ${ts.length} t`,
    contract: UPDATE_CONTRACT,
    async run(ctx: GpuContext): Promise<CaseResult> {
      const problems: string[] = [];
      let maxError = 0;
      for (const t of ts) {
        const p0 = gaussianData(n, t + 1);
        const g = gradients(n, t + 2);
        const m0 = gaussianData(n, t + 3, 0.1);
        const v0 = Float32Array.from(gaussianData(n, t + 4, 0.1), (x) => x * x);
        const hyper = { lr: 0.01, beta1, beta2, eps: 1e-8 };
        const setup: TailSetup = { optimizer: 'adam', clip: 'none', hyper, p0, grads: [g], m0, v0, step0: t - 1 };
        const { steps, normRtol } = await runTail(ctx, setup);
        const ref: BoundedState = {
          p: Float64Array.from(p0), m: Float64Array.from(m0), v: Float64Array.from(v0), t: t - 1,
          ep: new Float64Array(n), em: new Float64Array(n), ev: new Float64Array(n),
        };
        boundedStep(ref, g, setup, normRtol);
        maxError = Math.max(maxError, compareBounded(problems, `t = ${t}`, 'p', steps[0].p, ref.p, ref.ep));
        if (steps[0].state.step !== t) problems.push(`t = ${t}: the counter reads ${steps[0].state.step}`);
      }
      return result(problems, maxError);
    },
  };
}

/** 1, one quad (the vec4 form), odd, realistic (a multiple of 4: vec4), past 2¹⁶ (and a workgroup). */
export const OPTIM_SIZES = [1, 4, 7, 1000, 65_537];

export function optimCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [
    recordsCase('mixed magnitudes', () => randomRecords(1000, 1, -60, 60)),
    // e up to 126 with ssq up to 2·10⁴: ‖g‖ ≈ 10⁴⁰, past f32 max; the log10 must stay exact.
    recordsCase('‖g‖ past f32 max', () => randomRecords(300, 2, 90, 126)),
    recordsCase('tiny (2^-126 scales)', () => randomRecords(100, 3, -126, -100)),
    recordsCase('all zero', () => Array.from({ length: 5 }, () => ({ e: null, ssq: 0, nonfinite: 0 }))),
    recordsCase('non-finite counts', () => randomRecords(500, 4, -10, 10, 3)),
    reducedNormCase(),
    appliedNormCase(),
    valueClampCase(),
  ];
  for (const optimizer of OPTIMIZER_KINDS) {
    for (const clip of CLIP_KINDS) {
      for (const n of OPTIM_SIZES) cases.push(optimizerCase(optimizer, clip, n));
    }
  }
  // 257 workgroups folded into a 7 × 37 grid with an idle tail.
  cases.push(optimizerCase('adam', 'norm', 65_537, 7));
  // The vec4 form folded the same way: 8963 quads in 36 workgroups, a 6 × 6 grid.
  cases.push(optimizerCase('momentum', 'value', 35_852, 7));
  cases.push(adamBiasCase(0.9, 0.999), adamBiasCase(0, 0.5), adamBiasCase(0.99, 0.9999));
  cases.push(nonfiniteCase('adam', 'norm'), nonfiniteCase('momentum', 'value'), nonfiniteCase('sgd', 'none'));
  return cases;
}
