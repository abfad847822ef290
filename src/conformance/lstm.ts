import { lstmBackwardStepReference, lstmForwardStepReference, prepareLstm } from '../kernels/lstm.ts';
import { releaseDispatches, type GpuContext } from '../gpu/context.ts';
import type { ConformanceCase } from './case.ts';
import { compareClose, type CloseReport } from './compare.ts';
import { gaussianData, uniformData } from './data.ts';
import { elementwiseTolerance } from './elementwise.ts';
import { RNN_CASE_SHAPES, merge, paddingUntouched, shapeName, slab, type RnnCaseShape } from './rnn.ts';

const UNIT_ROUNDOFF = 2 ** -24;

/**
 * Accuracy contract of one LSTM step, per element |Δ| ≤ atol + rtol·S:
 *   gates  an (H+1)-term dot product (Higham's γ on Σ|terms| = S), then σ or
 *          tanh, whose error WGSL leaves implementation-defined (exp: 3 + 2|x|
 *          ulp; elementwiseTolerance's tanh allowance covers both at |z| ≲ 10)
 *   c, h   f·c_{t−1} + i·g, o·tanh(c): every gate error enters multiplied by
 *          a factor ≤ max(1, |c_{t−1}|), so S = (|c_{t−1}| + 3)·(max gate S + 1)
 *   back   dh: a (4H+1)-term dot product, S = Σ|terms|; dc adds dh·o·(1 − tanh²c)
 *          and f_{t+1}·dc_{t+1}: S = Σ|terms| + |f_{t+1}·dc_{t+1}| (dcf = f·dc on the same S); dz multiplies dc
 *          (or dh) by gate products ≤ max(1, |c_{t−1}|): S = (1 + |c_{t−1}|)·S_dc.
 * Each timestep is checked against the reference applied to the GPU's own
 * previous state (h, c of t − 1; dz, dc of t + 1), so the contract is per
 * step and does not compound.
 */
export function lstmStepTolerance(hidden: number, direction: 'forward' | 'backward'): { atol: number; rtol: number } {
  const act = elementwiseTolerance('tanh');
  const terms = direction === 'forward' ? hidden : 4 * hidden;
  return { atol: 1e-6 + 2 * act.atol, rtol: (terms + 8) * UNIT_ROUNDOFF + 2 * act.rtol };
}

/** Gate q of step t from a [T, 4, rows, H] buffer, dense [B, H]. */
function gateSlab(gates: Float32Array, t: number, q: number, s: RnnCaseShape): Float32Array {
  return slab(gates, 4 * (t - 1) + q, s);
}

/** All four gates of step t, dense [4, B, H] (the reference's layout). */
function gatesOf(gates: Float32Array, t: number, s: RnnCaseShape): Float32Array {
  const n = s.batch * s.hidden;
  const out = new Float32Array(4 * n);
  for (let q = 0; q < 4; q++) out.set(gateSlab(gates, t, q, s), q * n);
  return out;
}

/** The same shape seen as 4H wide rows (zx and dz: [T, rows, 4H]). */
function wide(s: RnnCaseShape): RnnCaseShape {
  return { ...s, hidden: 4 * s.hidden };
}

/** gates, c_t, h_t for t = 1..T from random W_hh, zx, h_0, c_0: each step against the reference from the GPU's h_{t−1}, c_{t−1}. */
export function lstmForwardCase(s: RnnCaseShape, rowsPerThread = 1): ConformanceCase {
  const tolerance = lstmStepTolerance(s.hidden, 'forward');
  return {
    family: 'lstm',
    kernel: `lstm.forward [${rowsPerThread} row${rowsPerThread === 1 ? '' : 's'}]`,
    shape: shapeName(s),
    contract: `per step |Δ| ≤ ${tolerance.atol.toExponential(1)} + (H+8)·2⁻²⁴·S + σ/tanh error (S: Σ|terms| of each gate, propagated to c and h)`,
    async run(ctx: GpuContext) {
      const { batch, hidden: H, rows, steps: T } = s;
      const slabSize = rows * H;
      const seed = batch * 6007 + H * 3001 + T;
      const w = gaussianData(4 * H * H, seed, 1 / Math.sqrt(H));
      const zx = gaussianData(T * 4 * slabSize, seed + 1);
      // h_0, c_0 random (the kernel reads whatever slot 0 holds); later slots, padding included, a sentinel.
      const h0 = new Float32Array((T + 1) * slabSize).fill(7);
      h0.set(uniformData(batch * H, seed + 2));
      const c0 = new Float32Array((T + 1) * slabSize).fill(7);
      c0.set(gaussianData(batch * H, seed + 3));
      const gates0 = new Float32Array(T * 4 * slabSize).fill(7);
      const kernel = await prepareLstm(ctx, { direction: 'forward', rowsPerThread });
      const buffers = { w: ctx.upload('w', w), zx: ctx.upload('zx', zx), gates: ctx.upload('gates', gates0), c: ctx.upload('c', c0), h: ctx.upload('h', h0) };
      try {
        const dispatches = kernel.bindForward({ steps: T, batch, hidden: H, slab: slabSize }, buffers);
        await ctx.run(dispatches);
        releaseDispatches(dispatches);
        const h = await ctx.readF32(buffers.h, (T + 1) * slabSize);
        const c = await ctx.readF32(buffers.c, (T + 1) * slabSize);
        const gates = await ctx.readF32(buffers.gates, T * 4 * slabSize);
        const reports: { name: string; report: CloseReport }[] = [];
        const n = batch * H;
        for (let t = 1; t <= T; t++) {
          const cPrev = slab(c, t - 1, s);
          const ref = lstmForwardStepReference(batch, H, w, slab(zx, t - 1, wide(s)), slab(h, t - 1, s), cPrev);
          reports.push({ name: `gates_${t}`, report: compareClose(gatesOf(gates, t, s), ref.gates, tolerance, ref.magnitude) });
          const stateScale = Float64Array.from(cPrev, (cp, u) => {
            const m = Math.max(ref.magnitude[u], ref.magnitude[n + u], ref.magnitude[2 * n + u], ref.magnitude[3 * n + u]);
            return (Math.abs(cp) + 3) * (m + 1);
          });
          reports.push({ name: `c_${t}`, report: compareClose(slab(c, t, s), ref.c, tolerance, stateScale) });
          reports.push({ name: `h_${t}`, report: compareClose(slab(h, t, s), ref.h, tolerance, stateScale) });
        }
        const extra = paddingUntouched(h, h0, s, T + 1) || paddingUntouched(c, c0, s, T + 1) || paddingUntouched(gates, gates0, s, 4 * T);
        return merge(reports, extra);
      } finally {
        for (const b of Object.values(buffers)) b.destroy();
      }
    },
  };
}

/** dh_t, dc_t, dz_t for t = T..1 from random W_hh, gates, c and direct terms: each step against the reference from the GPU's dz_{t+1}, dcf_{t+1}. */
export function lstmBackwardCase(s: RnnCaseShape, lossAll: boolean, rowsPerThread = 1): ConformanceCase {
  const tolerance = lstmStepTolerance(s.hidden, 'backward');
  return {
    family: 'lstm',
    kernel: `lstm.backward (${lossAll ? 'loss all' : 'loss last'}) [${rowsPerThread} row${rowsPerThread === 1 ? '' : 's'}]`,
    shape: shapeName(s),
    contract: `per step |Δ| ≤ ${tolerance.atol.toExponential(1)} + (4H+8)·2⁻²⁴·S + tanh error (S: Σ|terms| of dh, + |f_{t+1} dc_{t+1}| for dc, dcf, ×(1 + |c_{t−1}|) for dz)`,
    async run(ctx: GpuContext) {
      const { batch, hidden: H, rows, steps: T } = s;
      const slabSize = rows * H;
      const seed = batch * 37 + H * 1013 + T * 11 + (lossAll ? 1 : 0);
      const w = gaussianData(4 * H * H, seed, 1 / Math.sqrt(H));
      // Gates as the forward pass leaves them: i, f, o in (0, 1), g in (−1, 1); c anything.
      const gates = uniformData(T * 4 * slabSize, seed + 1, 0, 1);
      for (let t = 0; t < T; t++) gates.subarray((4 * t + 2) * slabSize, (4 * t + 3) * slabSize).forEach((v, i, a) => (a[i] = 2 * v - 1));
      const c = gaussianData((T + 1) * slabSize, seed + 2);
      const direct = gaussianData(T * slabSize, seed + 3);
      const dc0 = new Float32Array(T * slabSize).fill(5);
      const dcf0 = new Float32Array(T * slabSize).fill(5);
      const dz0 = new Float32Array(T * 4 * slabSize).fill(5);
      const kernel = await prepareLstm(ctx, { direction: 'backward', rowsPerThread });
      const buffers = {
        w: ctx.upload('w', w),
        gates: ctx.upload('gates', gates),
        c: ctx.upload('c', c),
        dh: ctx.upload('dh', direct),
        dc: ctx.upload('dc', dc0),
        dcf: ctx.upload('dcf', dcf0),
        dz: ctx.upload('dz', dz0),
      };
      try {
        const dispatches = kernel.bindBackward({ steps: T, batch, hidden: H, slab: slabSize }, buffers, lossAll);
        await ctx.run(dispatches);
        releaseDispatches(dispatches);
        const dh = await ctx.readF32(buffers.dh, T * slabSize);
        const dc = await ctx.readF32(buffers.dc, T * slabSize);
        const dcf = await ctx.readF32(buffers.dcf, T * slabSize);
        const dz = await ctx.readF32(buffers.dz, T * 4 * slabSize);
        const reports: { name: string; report: CloseReport }[] = [];
        for (let t = T; t >= 1; t--) {
          const carry = t < T ? { dz: slab(dz, t, wide(s)), dcf: slab(dcf, t, s) } : null;
          const direct_t = lossAll || t === T ? slab(direct, t - 1, s) : null;
          const cPrev = slab(c, t - 1, s);
          const ref = lstmBackwardStepReference(batch, H, w, gatesOf(gates, t, s), slab(c, t, s), cPrev, direct_t, carry);
          const dcScale = Float64Array.from(ref.magnitude, (m, u) => m + (carry ? Math.abs(carry.dcf[u]) : 0));
          const dzScale = new Float64Array(4 * batch * H);
          for (let b = 0; b < batch; b++) {
            for (let q = 0; q < 4; q++) {
              for (let j = 0; j < H; j++) dzScale[b * 4 * H + q * H + j] = dcScale[b * H + j] * (1 + Math.abs(cPrev[b * H + j]));
            }
          }
          reports.push({ name: `dh_${t}`, report: compareClose(slab(dh, t - 1, s), ref.dh, tolerance, ref.magnitude) });
          reports.push({ name: `dc_${t}`, report: compareClose(slab(dc, t - 1, s), ref.dc, tolerance, dcScale) });
          reports.push({ name: `dcf_${t}`, report: compareClose(slab(dcf, t - 1, s), ref.dcf, tolerance, dcScale) });
          reports.push({ name: `dz_${t}`, report: compareClose(slab(dz, t - 1, wide(s)), ref.dz, tolerance, dzScale) });
        }
        const extra = paddingUntouched(dh, direct, s, T) || paddingUntouched(dc, dc0, s, T) || paddingUntouched(dcf, dcf0, s, T) || paddingUntouched(dz, dz0, wide(s), T);
        return merge(reports, extra);
      } finally {
        for (const b of Object.values(buffers)) b.destroy();
      }
    },
  };
}

/**
 * Forward and backward (loss at the last step, and at every step) at the
 * RNN's awkward shapes: H = 1, odd sizes off every tile, padded slabs,
 * B = 1, and the benchmark's 32×128; plus T = 1 (no carry at all); each
 * at one row per invocation, then 2, 4 and 8 rows on the odd shapes.
 */
export function lstmCases(): ConformanceCase[] {
  const shapes: RnnCaseShape[] = [...RNN_CASE_SHAPES, { batch: 2, hidden: 5, rows: 3, steps: 1 }];
  const cases = shapes.flatMap((s) => [lstmForwardCase(s), lstmBackwardCase(s, false), lstmBackwardCase(s, true)]);
  // Several rows per invocation, with a partial last block (B 5, B 9) and a block wider than the batch (B 3 with 8 rows).
  const odd = [RNN_CASE_SHAPES[1], RNN_CASE_SHAPES[2], RNN_CASE_SHAPES[3]];
  for (const [s, rows] of [[odd[1], 2], [odd[1], 4], [odd[2], 4], [odd[0], 8]] as const) {
    cases.push(lstmForwardCase(s, rows), lstmBackwardCase(s, true, rows));
  }
  return cases;
}
