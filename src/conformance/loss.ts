import {
  LOSS_KINDS,
  LOSS_VALUE_WORKGROUPS,
  lossGradientReference,
  lossValueReference,
  prepareLossGradient,
  prepareLossValue,
  type LossKind,
} from '../kernels/loss.ts';
import type { GpuContext } from '../gpu/context.ts';
import type { CaseResult, ConformanceCase } from './case.ts';
import { compareClose, describeReport } from './compare.ts';
import { gaussianData, seededRandom } from './data.ts';

const UNIT_ROUNDOFF = 2 ** -24;

/**
 * Gradient accuracy. probe copies g: exact. mse computes (½y − ½t)·f32(4/count):
 * the halves are exact, so three roundings, |Δ| ≤ 3·2⁻²⁴·|ref|, plus 2⁻¹²² for
 * halves of values near the subnormal range that the adapter may flush.
 */
export function lossGradientTolerance(loss: LossKind): { atol: number; rtol: number } {
  return loss === 'probe' ? { atol: 0, rtol: 0 } : { atol: 2 ** -122, rtol: 3 * UNIT_ROUNDOFF };
}

/**
 * Value accuracy: every rescaling of the scaled sums is by a power of two, so
 * the sum errs by at most γ_d·Σ|terms| with d the additions on its longest
 * path (lossValueSumDepth: block, running total, tree), plus 2 roundings to
 * form each term and 1 for the final ·(1/count): rtol (d + 4)·2⁻²⁴ on
 * Σ|terms|·scale (the mean of the squares for mse). Non-finite results must
 * match exactly (NaN for NaN, ±Inf by sign).
 */
export function lossValueRtol(sumDepth: number): number {
  return (sumDepth + 4) * UNIT_ROUNDOFF;
}

export const LOSS_GRADIENT_CONTRACT = 'probe: exact; mse: |Δ| ≤ 2⁻¹²² + 3·2⁻²⁴·|ref|';
export const LOSS_VALUE_CONTRACT = '|Δ| ≤ 2⁻¹²⁶ + (d+4)·2⁻²⁴·Σ|terms|·scale (d = additions on the longest path); NaN/±Inf exact; no other word written';

const SENTINEL = 0xa5a5a5a5;

/**
 * Output-like data with the edge cases: zeros, tiny, near-subnormal, huge.
 * `sign` −1 negates them, so y = 3e38 meets t = −3e38 (the mse halves must not overflow).
 */
function outputs(count: number, seed: number, std: number, sign = 1): Float32Array {
  const y = gaussianData(count, seed, std);
  const specials = [0, -0, 1e-30, -1e-30, 3e38, -3e38, 1e30, 2.5e-38, 0.5];
  for (let i = 0; i < Math.min(count, specials.length); i++) y[(i * 7919) % count] = sign * specials[i];
  return y;
}

export function lossGradientCase(loss: LossKind, count: number, maxWorkgroupsPerDimension?: number): ConformanceCase {
  const tolerance = lossGradientTolerance(loss);
  return {
    family: 'loss',
    kernel: `loss.gradient ${loss}${maxWorkgroupsPerDimension ? ` (2-D grid, ≤ ${maxWorkgroupsPerDimension} a dimension)` : ''}`,
    shape: `${count}`,
    contract: LOSS_GRADIENT_CONTRACT,
    async run(ctx: GpuContext): Promise<CaseResult> {
      const y = outputs(count, count * 13 + 1, 3);
      // The specials of y and t meet at the same indices: 3e38 − (−3e38) must not overflow.
      const t = outputs(count, count * 29 + 2, 1, -1);
      const kernel = await prepareLossGradient(ctx, { loss, maxWorkgroupsPerDimension });
      const yb = ctx.upload('loss.y', y);
      const tb = ctx.upload('loss.target', t);
      const dy = ctx.createStorage('loss.dy', count * 4);
      try {
        await ctx.run([kernel.bind({ count }, { y: yb, target: tb, dy })]);
        const gpu = await ctx.readF32(dy, count);
        const ref = lossGradientReference(loss, y, t);
        const expected = tolerance.rtol === 0 ? Float32Array.from(ref) : ref;
        const report = compareClose(gpu, expected, tolerance);
        return { ok: report.ok, maxError: report.maxAbsError, detail: report.ok ? '' : describeReport(report) };
      } finally {
        yb.destroy();
        tb.destroy();
        dy.destroy();
      }
    },
  };
}

interface ValueSetup {
  loss: LossKind;
  /** Default: the adapter's (defaultLossValueWorkgroup). */
  workgroupSize?: number;
  kernel: string;
  shape: string;
  build: () => { y: Float32Array; target: Float32Array };
}

/** Runs the value kernel into word 5 of an 8-word buffer of sentinels; returns the loss and any stray write. */
async function runValue(
  ctx: GpuContext,
  loss: LossKind,
  y: Float32Array,
  target: Float32Array,
  workgroupSize?: number,
): Promise<{ value: number; stray: string; depth: number }> {
  const kernel = await prepareLossValue(ctx, { loss, workgroupSize });
  const yb = ctx.upload('loss.y', y);
  const tb = ctx.upload('loss.target', target);
  const out = ctx.upload('loss.out', new Uint32Array(8).fill(SENTINEL));
  try {
    const outputWord = 5;
    await ctx.run([kernel.bind({ count: y.length, outputWord }, { y: yb, target: tb, out })]);
    const words = await ctx.readU32(out, 8);
    const strayIndex = words.findIndex((w, i) => i !== outputWord && w !== SENTINEL);
    return {
      value: new Float32Array(words.buffer)[outputWord],
      stray: strayIndex >= 0 ? `word ${strayIndex} (not the output word ${outputWord}) was overwritten` : '',
      depth: kernel.sumDepth(y.length),
    };
  } finally {
    yb.destroy();
    tb.destroy();
    out.destroy();
  }
}

function lossValueCase(setup: ValueSetup): ConformanceCase {
  return {
    family: 'loss',
    kernel: `loss.value ${setup.loss}${setup.workgroupSize ? ` wg${setup.workgroupSize}` : ''} ${setup.kernel}`,
    shape: setup.shape,
    contract: LOSS_VALUE_CONTRACT,
    async run(ctx: GpuContext): Promise<CaseResult> {
      const { y, target } = setup.build();
      const { value, stray, depth } = await runValue(ctx, setup.loss, y, target, setup.workgroupSize);
      const ref = lossValueReference(setup.loss, y, target);
      const problems: string[] = [];
      if (stray) problems.push(stray);
      let error: number;
      if (!Number.isFinite(ref.value)) {
        error = Object.is(value, ref.value) || (Number.isNaN(value) && Number.isNaN(ref.value)) ? 0 : Infinity;
        if (error !== 0) problems.push(`loss ${value}, expected ${ref.value}`);
      } else {
        error = Math.abs(value - ref.value);
        // 2⁻¹²⁶: a loss below the normal f32 range may be flushed to zero.
        const allowed = 2 ** -126 + lossValueRtol(depth) * ref.magnitude;
        if (!(error <= allowed)) {
          problems.push(`loss ${value} vs float64 ${ref.value}: |Δ| ${error.toExponential(3)} > allowed ${allowed.toExponential(3)} (Σ|terms| ${ref.magnitude})`);
        }
      }
      return { ok: problems.length === 0, maxError: error, detail: problems.join('; ') };
    },
  };
}

/** The non-finite rules, several small inputs in one case. */
function nonfiniteCase(loss: LossKind): ConformanceCase {
  const scenarios: { name: string; y: number[]; t: number[] }[] =
    loss === 'mse'
      ? [
          { name: 'NaN in y', y: [1, NaN, 2], t: [0, 0, 0] },
          { name: 'NaN in target', y: [1, 2, 3], t: [0, 0, NaN] },
          { name: '+Inf in y', y: [1, Infinity, 2], t: [0, 0, 0] },
          { name: '−Inf in y', y: [1, -Infinity, 2], t: [0, 0, 0] },
          { name: 'Inf − Inf', y: [1, Infinity, 2], t: [0, Infinity, 0] },
          { name: 'Inf − (−Inf)', y: [1, Infinity, 2], t: [0, -Infinity, 0] },
          { name: '3e38 − (−3e38), mean past f32', y: [3e38], t: [-3e38] },
        ]
      : [
          { name: 'NaN in y', y: [1, NaN, 2], t: [1, 1, 1] },
          { name: '+Inf·g>0', y: [1, Infinity, 2], t: [1, 2, 1] },
          { name: '+Inf·g<0', y: [1, Infinity, 2], t: [1, -2, 1] },
          { name: '+Inf and −Inf terms', y: [Infinity, 1, Infinity], t: [1, 1, -1] },
          { name: 'Inf·0', y: [1, Infinity, 2], t: [1, 0, 1] },
          { name: 'sum past f32', y: [3e38, 3e38], t: [1, 1] },
        ];
  return {
    family: 'loss',
    kernel: `loss.value ${loss} non-finite`,
    shape: `${scenarios.length} inputs`,
    contract: LOSS_VALUE_CONTRACT,
    async run(ctx: GpuContext): Promise<CaseResult> {
      const problems: string[] = [];
      for (const s of scenarios) {
        const y = Float32Array.from(s.y);
        const t = Float32Array.from(s.t);
        const { value, stray } = await runValue(ctx, loss, y, t);
        // Past f32 the float64 value is finite but the f32 loss is +Inf (or ±Inf by sign).
        const ref = lossValueReference(loss, y, t).value;
        const expected = Math.abs(ref) > 3.4028234663852886e38 ? Math.sign(ref) * Infinity : ref;
        const same = Number.isNaN(expected) ? Number.isNaN(value) : Object.is(value, expected);
        if (!same) problems.push(`${s.name}: loss ${value}, expected ${expected}`);
        if (stray) problems.push(`${s.name}: ${stray}`);
      }
      if (loss === 'mse') {
        // The gradient propagates non-finite values (the stats then count them).
        const kernel = await prepareLossGradient(ctx, { loss });
        const y = Float32Array.from([NaN, Infinity, 1]);
        const yb = ctx.upload('loss.y', y);
        const tb = ctx.upload('loss.target', new Float32Array(3));
        const dy = ctx.createStorage('loss.dy', 12);
        try {
          await ctx.run([kernel.bind({ count: 3 }, { y: yb, target: tb, dy })]);
          const g = await ctx.readF32(dy, 3);
          if (!Number.isNaN(g[0]) || g[1] !== Infinity || g[2] !== Math.fround(Math.fround(4 / 3) * 0.5)) {
            problems.push(`gradient of [NaN, Inf, 1] is [${Array.from(g).join(', ')}], expected [NaN, Infinity, ${2 / 3}]`);
          }
        } finally {
          yb.destroy();
          tb.destroy();
          dy.destroy();
        }
      }
      return { ok: problems.length === 0, maxError: problems.length === 0 ? 0 : NaN, detail: problems.join('; ') };
    },
  };
}

/** 1, odd, past a workgroup and a block of it, realistic; 10⁶ is the design's largest output. */
export const LOSS_GRADIENT_COUNTS = [1, 7, 257, 65_537, 1_000_003];
export const LOSS_VALUE_COUNTS = [1, 7, 1000, 65_537, 1_000_000];

export function lossCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  for (const loss of LOSS_KINDS) {
    for (const count of LOSS_GRADIENT_COUNTS) cases.push(lossGradientCase(loss, count));
    // 257 workgroups folded into a 7 × 37 grid with an idle tail.
    cases.push(lossGradientCase(loss, 65_537, 7));
  }
  for (const loss of LOSS_KINDS) {
    // Both workgroup variants on every adapter (the default one runs every size).
    for (const workgroupSize of LOSS_VALUE_WORKGROUPS) {
      cases.push(lossValueCase({
        loss,
        workgroupSize,
        kernel: 'gaussian',
        shape: '65537',
        build: () => ({ y: gaussianData(65_537, 17, 2), target: gaussianData(65_537, 19) }),
      }));
    }
    for (const count of LOSS_VALUE_COUNTS) {
      cases.push(lossValueCase({
        loss,
        kernel: 'gaussian',
        shape: `${count}`,
        build: () => ({ y: gaussianData(count, count * 3 + 7, 2), target: gaussianData(count, count * 5 + 11) }),
      }));
    }
    cases.push(nonfiniteCase(loss));
  }
  const million = 1_000_000;
  cases.push(
    // Σ(y − t)² ≈ 10⁴⁰ overflows an f32 sum; the mean, 10³⁴, does not.
    lossValueCase({
      loss: 'mse',
      kernel: 'huge (Σ past f32, mean 1e34)',
      shape: `${million}`,
      build: () => ({ y: gaussianData(million, 41, 1e17), target: gaussianData(million, 43) }),
    }),
    // Terms ±1e33, 60 % positive: partial sums pass f32 max, the total (≈1.6e38) does not.
    lossValueCase({
      loss: 'probe',
      kernel: 'huge (partial sums past f32)',
      shape: `${million}`,
      build: () => {
        const g = gaussianData(million, 47);
        const next = seededRandom(53);
        const y = new Float32Array(million);
        for (let i = 0; i < million; i++) {
          if (Math.abs(g[i]) < 0.01) g[i] = g[i] < 0 ? -0.01 : 0.01;
          const sign = i < 0.6 * million ? 1 : -1;
          y[i] = (sign * 1e33 * (0.5 + next())) / g[i];
        }
        return { y, target: g };
      },
    }),
    // Terms ≈ 1e-40 (subnormal as f32 products) of one sign: the sum, ≈ 6e-36, is normal.
    lossValueCase({
      loss: 'probe',
      kernel: 'tiny (subnormal terms)',
      shape: '65537',
      build: () => {
        const next = seededRandom(59);
        const y = Float32Array.from({ length: 65_537 }, () => 1e-30 * (0.5 + next()));
        const g = Float32Array.from({ length: 65_537 }, () => 1e-10 * (0.5 + next()));
        return { y, target: g };
      },
    }),
  );
  return cases;
}
