import { describe, expect, it, vi } from 'vitest';
import { testGpu } from '../support/gpu.ts';
import { MATMUL_TILINGS, matmulReference, matmulShapeClass, matmulTilingAvailable, matmulTilingFits, matmulTilingName, parseMatmulVariant, prepareMatmul, type MatmulDims, type MatmulKernel } from '../../src/kernels/matmul.ts';
import { emptyTable, ensureTuned, tuneMatmulClass, tuningKey, type TuningStore, type TuningTable } from '../../src/tune/tuner.ts';
import { uniformData } from '../../src/conformance/data.ts';
import { MLP_DEFAULTS, type MlpConfig } from '../../src/models/config.ts';
import { mlpMatmulUses, planMlp } from '../../src/models/mlp.ts';
import { runStress } from '../../src/scheduler/run.ts';
import { runRnnStress } from '../../src/scheduler/rnn-run.ts';
import { planRnn, rnnMatmulUses, RNN_DEFAULTS, type RnnConfig } from '../../src/models/rnn.ts';
import type { GpuContext } from '../../src/gpu/context.ts';

/** A store in memory that counts its saves. */
function memoryStore(initial: unknown = null): TuningStore & { saved: TuningTable[]; value: unknown } {
  const store = {
    value: initial,
    saved: [] as TuningTable[],
    load: () => store.value,
    save: (table: TuningTable) => {
      store.saved.push(structuredClone(table));
      store.value = structuredClone(table);
      return true;
    },
    where: () => 'memory',
  };
  return store;
}

/** Runs an nn matmul kernel at `dims` on uniform data (seeds sa, sb) and compares C with float64 within the f32 error bound. */
async function expectNnMatmul(ctx: GpuContext, kernel: MatmulKernel, dims: MatmulDims, sa: number, sb: number): Promise<void> {
  const a = uniformData(dims.m * dims.k, sa);
  const b = uniformData(dims.k * dims.n, sb);
  const buffers = { a: ctx.upload('a', a), b: ctx.upload('b', b), c: ctx.createStorage('c', dims.m * dims.n * 4) };
  try {
    await ctx.run([kernel.bind(dims, buffers)]);
    const gpu = await ctx.readF32(buffers.c, dims.m * dims.n);
    const ref = matmulReference('nn', dims, a, b);
    for (let i = 0; i < gpu.length; i++) expect(Math.abs(gpu[i] - ref.c[i])).toBeLessThanOrEqual(1e-6 + 30 * 2 ** -24 * ref.magnitude[i]);
  } finally {
    for (const buffer of Object.values(buffers)) buffer.destroy();
  }
}

async function withCleanTuning<T>(ctx: GpuContext, fn: () => Promise<T>): Promise<T> {
  ctx.tunedVariants.clear();
  try {
    return await fn();
  } finally {
    ctx.tunedVariants.clear();
  }
}

describe('autotuner', () => {
  it('checks and times every tiling that fits a class, and keeps the fastest that passed', async () => {
    const ctx = await testGpu();
    const dims = { m: 12, n: 20, k: 36 }; // multiples of 4: the vec4 tilings fit
    const entry = await tuneMatmulClass(ctx, 'nn', dims, { runs: 2 });
    expect(entry.shapeClass).toBe(matmulShapeClass('nn', dims));
    expect(entry.proxy).toEqual(dims);
    const fitting = MATMUL_TILINGS.filter((t) => matmulTilingFits(t, 'nn', dims) && matmulTilingAvailable(t, ctx)).map(matmulTilingName);
    expect(entry.candidates.map((c) => c.variant)).toEqual(fitting);
    expect(fitting.some((name) => name.endsWith('-v4'))).toBe(true);
    for (const c of entry.candidates) {
      expect(c.error).toBeUndefined();
      expect(c.ms).toBeGreaterThan(0);
      expect(c.maxError).toBeLessThan(1e-5);
    }
    const fullyTimed = entry.candidates.filter((c) => c.runs === 2);
    expect(fullyTimed.map((c) => c.variant)).toContain(entry.variant);
    const fastest = fullyTimed.reduce((x, y) => ((y.ms as number) < (x.ms as number) ? y : x));
    if (entry.retimed) {
      // A close call: the proxy's fastest was re-timed at the real shape with its rival(s), and the fastest there won.
      expect(entry.retimed.dims).toEqual(dims);
      expect(entry.retimed.candidates.map((c) => c.variant)).toContain(fastest.variant);
      expect(entry.variant).toBe(entry.retimed.candidates[0].variant);
      expect(entry.ms).toBe(fullyTimed.find((c) => c.variant === entry.variant)?.ms);
    } else {
      expect(entry.variant).toBe(fastest.variant);
      expect(entry.ms).toBe(fastest.ms);
    }
  });

  it('rejects a candidate that leaves C unwritten, even after a correct one filled the same buffer', async () => {
    const ctx = await testGpu();
    // Only the first check run executes; later ones submit nothing, as a kernel that skipped its work would.
    const run = ctx.run.bind(ctx);
    let checks = 0;
    const spy = vi.spyOn(ctx, 'run').mockImplementation(async (dispatches, label) => {
      if (checks++ === 0) await run(dispatches, label);
    });
    try {
      const entry = await tuneMatmulClass(ctx, 'nt', { m: 5, n: 6, k: 7 }, { runs: 1 });
      expect(entry.candidates[0].error).toBeUndefined();
      expect(entry.candidates.length).toBeGreaterThan(2);
      for (const c of entry.candidates.slice(1)) expect(c.error, c.variant).toMatch(/^wrong result/);
      expect(entry.variant).toBe(entry.candidates[0].variant);
    } finally {
      spy.mockRestore();
    }
  });

  it('keeps and applies the classes measured before one that fails, and says what to do', async () => {
    const ctx = await testGpu();
    await withCleanTuning(ctx, async () => {
      const uses = [
        { layout: 'nt' as const, shapes: [{ m: 3, n: 5, k: 7 }] },
        { layout: 'tn' as const, shapes: [{ m: 3, n: 5, k: 7 }] },
      ];
      const store = memoryStore();
      const run = ctx.run.bind(ctx);
      // Every check of the second class computes nothing: no tiling can pass it.
      const spy = vi.spyOn(ctx, 'run').mockImplementation(async (dispatches, label) => {
        if (!dispatches.some((d) => d.label.includes('tn'))) await run(dispatches, label);
      });
      try {
        await expect(ensureTuned(ctx, uses, { store, runs: 1 })).rejects.toThrow(/no matmul tiling passed its float64 check for matmul\/tn\/sss\/any at 3×5×7: .*gradstorm check --family matmul.*--variant NAME/);
      } finally {
        spy.mockRestore();
      }
      expect(store.saved).toHaveLength(1);
      expect(Object.keys(store.saved[0].entries)).toEqual(['matmul/nt/sss/any']);
      expect(ctx.tunedVariants.get('matmul/nt/sss/any')).toBe(store.saved[0].entries['matmul/nt/sss/any'].variant);
    });
  });

  it('leaves the vec4 tilings out of a class whose sizes they cannot read', async () => {
    const ctx = await testGpu();
    const entry = await tuneMatmulClass(ctx, 'nt', { m: 3, n: 5, k: 7 }, { runs: 1 });
    expect(entry.shapeClass).toBe('matmul/nt/sss/any');
    expect(entry.candidates.length).toBeGreaterThan(0);
    expect(entry.candidates.every((c) => !c.variant.endsWith('-v4'))).toBe(true);
  });

  it('measures only what the store lacks, saves it, and measures again with retune', async () => {
    const ctx = await testGpu();
    await withCleanTuning(ctx, async () => {
      const uses = [
        { layout: 'nt' as const, shapes: [{ m: 4, n: 8, k: 12 }, { m: 8, n: 4, k: 16 }] }, // one class
        { layout: 'tn' as const, shapes: [{ m: 5, n: 3, k: 2 }] },
      ];
      const store = memoryStore();
      const first = await ensureTuned(ctx, uses, { store, runs: 1 });
      expect(first.tuned.map((e) => e.shapeClass)).toEqual(['matmul/nt/sss/v4', 'matmul/tn/sss/any']);
      expect(store.saved).toHaveLength(1);
      expect(store.saved[0].key).toBe(tuningKey(ctx.summary));
      expect(ctx.tunedVariants.get('matmul/nt/sss/v4')).toBe(first.table.entries['matmul/nt/sss/v4'].variant);

      const second = await ensureTuned(ctx, uses, { store, runs: 1 });
      expect(second.tuned).toEqual([]);
      expect(store.saved).toHaveLength(1);

      const third = await ensureTuned(ctx, uses.slice(1), { store, runs: 1, retune: true });
      expect(third.tuned.map((e) => e.shapeClass)).toEqual(['matmul/tn/sss/any']);
      expect(Object.keys(third.table.entries).sort()).toEqual(['matmul/nt/sss/v4', 'matmul/tn/sss/any']);
    });
  });

  it('with recheck, times a stored winner against the untuned default at the real shape and keeps the faster', async () => {
    const ctx = await testGpu();
    await withCleanTuning(ctx, async () => {
      const dims = { m: 16, n: 8, k: 8 }; // the untuned default here: register-16x8-wg8x8-v4
      const shapeClass = matmulShapeClass('nt', dims);
      const stored = 'register-4x4-wg8x8';
      const table = emptyTable(ctx);
      table.entries[shapeClass] = {
        kernel: 'matmul', layout: 'nt', shapeClass, proxy: dims, variant: stored, ms: 0.01, timing: 'gpu-timestamps',
        candidates: [{ variant: stored, ms: 0.01, maxError: 0, runs: 1 }],
      };
      const uses = [{ layout: 'nt' as const, shapes: [dims] }];
      const plain = await ensureTuned(ctx, uses, { store: memoryStore(structuredClone(table)), runs: 1 });
      expect(plain.rechecked).toEqual([]);
      expect(ctx.tunedVariants.get(shapeClass)).toBe(stored);

      const store = memoryStore(structuredClone(table));
      const seen: string[] = [];
      const result = await ensureTuned(ctx, uses, { store, runs: 1, recheck: true, onRecheck: (entry) => seen.push(entry.shapeClass) });
      expect(result.tuned).toEqual([]);
      expect(seen).toEqual([shapeClass]);
      const entry = result.table.entries[shapeClass];
      expect(entry.rechecked?.dims).toEqual(dims);
      expect(entry.rechecked?.candidates.map((c) => c.variant).sort()).toEqual([stored, 'register-16x8-wg8x8-v4'].sort());
      expect(entry.variant).toBe(entry.rechecked?.candidates[0].variant);
      expect(ctx.tunedVariants.get(shapeClass)).toBe(entry.variant);
      expect(store.saved).toHaveLength(1);
    });
  });

  it('sets aside a stored table that is malformed or from another adapter, and replaces it', async () => {
    const ctx = await testGpu();
    await withCleanTuning(ctx, async () => {
      const uses = [{ layout: 'nn' as const, shapes: [{ m: 2, n: 3, k: 4 }] }];
      const foreign = memoryStore({ schema: 'gradstorm.tuning/1', key: 'another adapter', entries: {} });
      const result = await ensureTuned(ctx, uses, { store: foreign, runs: 1 });
      expect(result.storeProblem).toMatch(/another adapter/);
      expect(result.tuned).toHaveLength(1);
      expect((foreign.value as TuningTable).key).toBe(tuningKey(ctx.summary));

      const broken = memoryStore({ schema: 'gradstorm.tuning/1', key: tuningKey(ctx.summary), entries: { 'matmul/nn/sss/any': { shapeClass: 'matmul/nn/sss/any', variant: 'no-such-kernel', ms: 1 } } });
      const again = await ensureTuned(ctx, uses, { store: broken, runs: 1 });
      expect(again.storeProblem).toMatch(/malformed/);
      expect(again.tuned).toHaveLength(1);
    });
  });

  it('prepareMatmul binds the tuned tiling for its class and the default elsewhere, with correct results', async () => {
    const ctx = await testGpu();
    await withCleanTuning(ctx, async () => {
      const aligned = { m: 9, n: 12, k: 20 };
      const odd = { m: 9, n: 13, k: 21 };
      const tuned = 'register-4x8-wg8x8-v4';
      ctx.tunedVariants.set(matmulShapeClass('nn', aligned), tuned);
      const kernel = await prepareMatmul(ctx, { layout: 'nn', shapes: [aligned, odd] });
      expect(matmulTilingName(kernel.tilingFor(aligned))).toBe(tuned);
      expect(kernel.tilingFor(odd)).toEqual(parseMatmulVariant('register'));
      for (const dims of [aligned, odd]) {
        await expectNnMatmul(ctx, kernel, dims, 3, 4);
      }
    });
  });

  it('an untuned kernel binds the default tiling for each declared size (16×8 vec4 when large and aligned, 4×8 below 8 rows), with correct results', async () => {
    const ctx = await testGpu();
    await withCleanTuning(ctx, async () => {
      const large = { m: 20, n: 12, k: 8 };
      const short = { m: 3, n: 5, k: 7 };
      const middle = { m: 9, n: 13, k: 21 };
      const kernel = await prepareMatmul(ctx, { layout: 'nn', shapes: [large, short, middle] });
      expect(matmulTilingName(kernel.tilingFor(large))).toBe('register-16x8-wg8x8-v4');
      expect(matmulTilingName(kernel.tilingFor(short))).toBe('register-4x8-wg8x8');
      expect(kernel.tilingFor(middle)).toEqual(parseMatmulVariant('register'));
      for (const dims of [large, short, middle]) {
        await expectNnMatmul(ctx, kernel, dims, 5, 6);
      }
    });
  });

  it('a forced vec4 variant falls back to scalar loads at sizes it cannot read', async () => {
    const ctx = await testGpu();
    const kernel = await prepareMatmul(ctx, { layout: 'tn', variant: 'register-8x8-wg8x8-v4' });
    expect(kernel.tilingFor({ m: 8, n: 8, k: 3 }).vectorLoads).toBe(true);
    expect(kernel.tilingFor({ m: 6, n: 8, k: 3 })).toEqual({ ...parseMatmulVariant('register-8x8-wg8x8-v4'), vectorLoads: false });
  });

  it('an RNN step with tuned vec4 kernels computes the same per-timestep gradients as with the defaults', async () => {
    const ctx = await testGpu();
    await withCleanTuning(ctx, async () => {
      const config: RnnConfig = { ...RNN_DEFAULTS, seqLen: 6, width: 8, input: 4, output: 4, batch: 4, activation: 'tanh', lossAt: 'all', steps: 1 };
      const reference = (await runRnnStress(ctx, config)).report;
      const before = ctx.pipelineCount;
      for (const use of Object.values(rnnMatmulUses(planRnn(config), config))) {
        for (const dims of use.shapes) ctx.tunedVariants.set(matmulShapeClass(use.layout, dims), 'register-4x4-wg8x8-v4');
      }
      const tuned = (await runRnnStress(ctx, config)).report;
      expect(ctx.pipelineCount).toBeGreaterThan(before);
      expect(tuned.steps[0].finiteGradNorm).toBeCloseTo(reference.steps[0].finiteGradNorm, 5);
      for (const [t, step] of tuned.steps[0].timesteps.entries()) {
        const r = reference.steps[0].timesteps[t].hiddenGradNorm;
        expect(Math.abs(step.hiddenGradNorm - r)).toBeLessThanOrEqual(1e-5 * r + 1e-12);
      }
    });
  });

  it('an MLP step with tuned vec4 kernels computes the same gradients as with the defaults', async () => {
    const ctx = await testGpu();
    await withCleanTuning(ctx, async () => {
      const config: MlpConfig = { ...MLP_DEFAULTS, depth: 4, width: 12, input: 8, output: 4, batch: 8, activation: 'tanh', loss: 'mse', steps: 2 };
      const reference = (await runStress(ctx, config)).report;
      const before = ctx.pipelineCount;
      const uses = Object.values(mlpMatmulUses(planMlp(config), config.batch));
      for (const use of uses) for (const dims of use.shapes) ctx.tunedVariants.set(matmulShapeClass(use.layout, dims), 'register-4x4-wg8x8-v4');
      const tuned = (await runStress(ctx, config)).report;
      // New pipelines were compiled: the tuned tilings are really in use.
      expect(ctx.pipelineCount).toBeGreaterThan(before);
      for (const [s, step] of tuned.steps.entries()) {
        expect(step.finiteGradNorm).toBeCloseTo(reference.steps[s].finiteGradNorm, 5);
        for (const [l, layer] of step.layers.entries()) {
          const r = reference.steps[s].layers[l];
          expect(Math.abs(layer.weightGradNorm - r.weightGradNorm)).toBeLessThanOrEqual(1e-5 * r.weightGradNorm + 1e-12);
          expect(Math.abs(layer.deltaNorm - r.deltaNorm)).toBeLessThanOrEqual(1e-5 * r.deltaNorm + 1e-12);
        }
      }
    });
  });
});
