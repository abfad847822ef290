import { ACTIVATIONS, activationGradFromOutputRef, type Activation } from '../kernels/elementwise.ts';
import {
  RNN_VARIANTS,
  backwardSteps,
  prepareRnn,
  rnnBackwardStepReference,
  rnnForwardStepReference,
  type BackwardSchedule,
  type RnnKernelShape,
  type RnnVariant,
} from '../kernels/rnn.ts';
import { releaseDispatches, type GpuContext } from '../gpu/context.ts';
import type { ConformanceCase, CaseResult } from './case.ts';
import { compareClose, describeReport, type CloseReport } from './compare.ts';
import { gaussianData, uniformData } from './data.ts';
import { elementwiseTolerance } from './elementwise.ts';

const UNIT_ROUNDOFF = 2 ** -24;

/**
 * Accuracy contract of one recurrent step: an (H+1)-term dot product in f32
 * (Higham's γ bound on Σ|terms|, two more roundings for the sum with u_t or
 * the direct term and for φ or φ'), plus the activation's own error (tanh
 * is implementation-defined in WGSL; elementwiseTolerance). Every timestep
 * is checked against the reference applied to the GPU's own previous state
 * (h_{t−1} or dz_{t+1}), so the contract is per step and does not compound.
 */
export function rnnStepTolerance(hidden: number, activation: Activation): { atol: number; rtol: number } {
  const act = elementwiseTolerance(activation);
  return { atol: 1e-6 + act.atol, rtol: (hidden + 3) * UNIT_ROUNDOFF + act.rtol };
}

export interface RnnCaseShape {
  batch: number;
  hidden: number;
  /** Rows per slab ≥ batch (the rows past batch must stay untouched). */
  rows: number;
  steps: number;
}

/** Awkward shapes: one unit, odd sizes off every tile, padded slabs, and the benchmark's 32×128. */
export const RNN_CASE_SHAPES: readonly RnnCaseShape[] = [
  { batch: 1, hidden: 1, rows: 1, steps: 3 },
  { batch: 3, hidden: 7, rows: 5, steps: 3 },
  { batch: 5, hidden: 13, rows: 6, steps: 4 },
  { batch: 9, hidden: 65, rows: 9, steps: 3 },
  { batch: 32, hidden: 128, rows: 32, steps: 2 },
];

function tileName(tile: RnnKernelShape | undefined): string {
  return tile ? ` [tile ${tile.rowsPerThread}×${tile.colsPerThread}, wg ${tile.workgroupSize}]` : '';
}

/** `B3×H7 (rows 5), T3` (shared with the LSTM cases). */
export function shapeName(s: RnnCaseShape): string {
  return `B${s.batch}×H${s.hidden}${s.rows > s.batch ? ` (rows ${s.rows})` : ''}, T${s.steps}`;
}

/** Slab t of a [slots, rows, H] array, dense [B, H]. */
export function slab(data: Float32Array, t: number, s: RnnCaseShape): Float32Array {
  const start = t * s.rows * s.hidden;
  return data.subarray(start, start + s.batch * s.hidden);
}

/** Rows past the batch of every slab: must be exactly their initial value. */
export function paddingUntouched(gpu: Float32Array, initial: Float32Array, s: RnnCaseShape, slots: number): string {
  for (let t = 0; t < slots; t++) {
    for (let i = s.batch * s.hidden; i < s.rows * s.hidden; i++) {
      const j = t * s.rows * s.hidden + i;
      if (gpu[j] !== initial[j]) return `padding row element ${j} changed: ${initial[j]} → ${gpu[j]}`;
    }
  }
  return '';
}

/** One case result from named comparisons and an extra failure text ('' if none). */
export function merge(reports: { name: string; report: CloseReport }[], extra: string): CaseResult {
  const bad = reports.find((r) => !r.report.ok);
  const maxError = Math.max(...reports.map((r) => r.report.maxAbsError));
  if (bad) return { ok: false, maxError, detail: `${bad.name}: ${describeReport(bad.report)}` };
  if (extra) return { ok: false, maxError, detail: extra };
  return { ok: true, maxError, detail: '' };
}

/** h_t for t = 1..T from random W, u and h_0, each step against the reference from the GPU's h_{t−1}. */
export function rnnForwardCase(variant: RnnVariant, activation: Activation, s: RnnCaseShape, tile?: RnnKernelShape): ConformanceCase {
  const tolerance = rnnStepTolerance(s.hidden, activation);
  return {
    family: 'rnn',
    kernel: `rnn.forward ${variant} ${activation}${tileName(tile)}`,
    shape: shapeName(s),
    contract: `per step |Δ| ≤ ${tolerance.atol.toExponential(1)} + (H+3)·2⁻²⁴·Σ|terms|${activation === 'tanh' ? ' + tanh error' : ''}`,
    async run(ctx: GpuContext) {
      const { batch, hidden: H, rows, steps: T } = s;
      const seed = batch * 7919 + H * 104729 + T;
      const w = gaussianData(H * H, seed, 1.2 / Math.sqrt(H));
      const u = gaussianData(T * rows * H, seed + 1);
      // h_0 random (the kernel reads whatever slot 0 holds); every later slot, padding included, a sentinel.
      const h0 = new Float32Array((T + 1) * rows * H).fill(7);
      h0.set(uniformData(batch * H, seed + 2));
      const kernel = await prepareRnn(ctx, { direction: 'forward', variant, activation, ...tile }, { batch, hidden: H });
      const buffers = { w: ctx.upload('w', w), u: ctx.upload('u', u), h: ctx.upload('h', h0) };
      try {
        const dispatches = kernel.bindForward({ steps: T, batch, hidden: H, slab: rows * H }, buffers);
        await ctx.run(dispatches);
        releaseDispatches(dispatches);
        const h = await ctx.readF32(buffers.h, (T + 1) * rows * H);
        const reports: { name: string; report: CloseReport }[] = [];
        for (let t = 1; t <= T; t++) {
          const ref = rnnForwardStepReference(activation, batch, H, w, slab(u, t - 1, s), slab(h, t - 1, s));
          reports.push({ name: `h_${t}`, report: compareClose(slab(h, t, s), ref.out, tolerance, ref.magnitude) });
        }
        return merge(reports, paddingUntouched(h, h0, s, T + 1));
      } finally {
        for (const b of Object.values(buffers)) b.destroy();
      }
    },
  };
}

/**
 * dh_t, dz_t down the backward schedule from random W, h, direct terms: each
 * visited step against the reference from the GPU's dz_{t+1}; steps not
 * visited (truncation) and padding rows must stay untouched.
 */
export function rnnBackwardCase(variant: RnnVariant, activation: Activation, s: RnnCaseShape, schedule: BackwardSchedule, tile?: RnnKernelShape): ConformanceCase {
  const tolerance = rnnStepTolerance(s.hidden, activation);
  const scheduleName = `${schedule.lossAll ? 'loss all' : 'loss last'}, bptt ${schedule.bptt >= s.steps ? 'full' : schedule.bptt}`;
  return {
    family: 'rnn',
    kernel: `rnn.backward ${variant} ${activation} (${scheduleName})${tileName(tile)}`,
    shape: shapeName(s),
    contract: `per step |Δ| ≤ ${tolerance.atol.toExponential(1)} + (H+3)·2⁻²⁴·Σ|terms|${activation === 'tanh' ? ' + tanh error' : ''}; unvisited steps untouched`,
    async run(ctx: GpuContext) {
      const { batch, hidden: H, rows, steps: T } = s;
      const seed = batch * 31 + H * 1009 + T * 7 + (schedule.lossAll ? 1 : 0);
      const w = gaussianData(H * H, seed, 1.2 / Math.sqrt(H));
      // h = φ(z): relu outputs ≥ 0 with exact zeros, tanh outputs in (−1, 1).
      const h = uniformData((T + 1) * rows * H, seed + 1).map((v) => (activation === 'relu' ? Math.max(v, 0) : activation === 'tanh' ? 0.99 * v : 2 * v));
      const direct = gaussianData(T * rows * H, seed + 2);
      const dzInitial = new Float32Array(T * rows * H).fill(5);
      const kernel = await prepareRnn(ctx, { direction: 'backward', variant, activation, ...tile }, { batch, hidden: H });
      const buffers = { w: ctx.upload('w', w), h: ctx.upload('h', h), dh: ctx.upload('dh', direct), dz: ctx.upload('dz', dzInitial) };
      try {
        const dispatches = kernel.bindBackward({ steps: T, batch, hidden: H, slab: rows * H }, schedule, buffers);
        await ctx.run(dispatches);
        releaseDispatches(dispatches);
        const dh = await ctx.readF32(buffers.dh, T * rows * H);
        const dz = await ctx.readF32(buffers.dz, T * rows * H);
        const reports: { name: string; report: CloseReport }[] = [];
        const visited = new Set<number>();
        for (const v of backwardSteps(T, schedule)) {
          visited.add(v.t);
          const ref = rnnBackwardStepReference(activation, batch, H, w, slab(h, v.t, s), v.carry ? slab(dz, v.t, s) : null, v.direct ? slab(direct, v.t - 1, s) : null);
          reports.push({ name: `dh_${v.t}`, report: compareClose(slab(dh, v.t - 1, s), ref.dh!, tolerance, ref.magnitude) });
          // dz = dh·φ'(h): one more rounding on the same scale.
          const hT = slab(h, v.t, s);
          const dzScale = Float64Array.from(ref.magnitude, (m, i) => m * Math.abs(activationGradFromOutputRef(activation, hT[i])));
          reports.push({ name: `dz_${v.t}`, report: compareClose(slab(dz, v.t - 1, s), ref.out, tolerance, dzScale) });
        }
        let extra = paddingUntouched(dz, dzInitial, s, T) || paddingUntouched(dh, direct, s, T);
        for (let t = 1; t <= T && !extra; t++) {
          if (visited.has(t)) continue;
          const a = slab(dz, t - 1, s);
          const b = slab(dh, t - 1, s);
          const d0 = slab(direct, t - 1, s);
          if (a.some((v) => v !== 5) || b.some((v, i) => v !== d0[i])) extra = `timestep ${t} is outside the truncation window but was written`;
        }
        return merge(reports, extra);
      } finally {
        for (const b of Object.values(buffers)) b.destroy();
      }
    },
  };
}

/**
 * Tile shapes checked explicitly on top of the adapter's own choice, so every
 * code path (1, 2, 4, 8 rows; 4 and 8 units; persistent invocations looping
 * over several tiles) runs on any adapter.
 */
export const RNN_EXTRA_TILES: readonly { variant: RnnVariant; tile: RnnKernelShape }[] = [
  { variant: 'step', tile: { rowsPerThread: 1, colsPerThread: 4, workgroupSize: 64 } },
  { variant: 'step', tile: { rowsPerThread: 2, colsPerThread: 8, workgroupSize: 16 } },
  { variant: 'step', tile: { rowsPerThread: 8, colsPerThread: 8, workgroupSize: 16 } },
  { variant: 'persistent', tile: { rowsPerThread: 4, colsPerThread: 4, workgroupSize: 256 } },
  { variant: 'persistent', tile: { rowsPerThread: 2, colsPerThread: 4, workgroupSize: 3 } },
];

/**
 * Every variant × activation × shape with the adapter's tile shapes, forward
 * and backward (full; truncated on the odd shapes), then the extra tile shapes
 * on one odd shape. `quick` keeps two shapes (3×7 padded, 9×65) and the extra
 * tiles: fewer pipelines to compile, which SwiftShader does slowly (the test
 * suite runs quick; `gradstorm check` everything).
 */
export function rnnCases(variants: readonly RnnVariant[] = RNN_VARIANTS, options: { quick?: boolean } = {}): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const shapes = options.quick ? [RNN_CASE_SHAPES[1], RNN_CASE_SHAPES[3]] : RNN_CASE_SHAPES;
  for (const variant of variants) {
    for (const activation of ACTIVATIONS) {
      for (const s of shapes) {
        cases.push(rnnForwardCase(variant, activation, s));
        cases.push(rnnBackwardCase(variant, activation, s, { lossAll: true, bptt: s.steps }));
        if (s.steps >= 3 && s.batch > 1 && s.batch < 32) {
          cases.push(rnnBackwardCase(variant, activation, s, { lossAll: true, bptt: 2 }));
          cases.push(rnnBackwardCase(variant, activation, s, { lossAll: false, bptt: 2 }));
        }
      }
    }
  }
  const odd = RNN_CASE_SHAPES[3];
  for (const { variant, tile } of RNN_EXTRA_TILES.filter((x) => variants.includes(x.variant))) {
    cases.push(rnnForwardCase(variant, 'tanh', odd, tile));
    cases.push(rnnBackwardCase(variant, 'relu', odd, { lossAll: true, bptt: 2 }, tile));
  }
  return cases;
}
