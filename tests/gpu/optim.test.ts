import { describe, expect, it } from 'vitest';
import { GLOBAL_NORM_CONTRACT, UPDATE_CONTRACT, optimCases } from '../../src/conformance/optim.ts';
import { STEP_STATE_BYTES, prepareGlobalNorm, prepareOptimizer } from '../../src/kernels/optim.ts';
import { SEGMENT_STATS_BYTES } from '../../src/kernels/reduce.ts';
import { testGpu } from '../support/gpu.ts';
import { itPassesEachCase } from '../support/conformance.ts';

// Global norm and clip scale from stats records (magnitudes 2^±126, ‖g‖ past
// f32 max, empty and non-finite records; and end to end from the segment
// reduce of 1e±30 data); norm clipping bounds the applied gradient; value
// clipping clamps exactly; sgd, momentum and adam under each clip mode over
// 3 steps on 1, 7, 1000 and 65537 parameters; non-finite steps are skipped.
describe(`optimizer kernels on the GPU match float64 (norm: ${GLOBAL_NORM_CONTRACT}; update: ${UPDATE_CONTRACT})`, () => {
  itPassesEachCase(optimCases());

  it('refuses bindings that do not fit and hyperparameters out of range', async () => {
    const ctx = await testGpu();
    const stats = ctx.createStorage('stats', 4 * SEGMENT_STATS_BYTES);
    const state = ctx.createStorage('state', STEP_STATE_BYTES);
    const arena = ctx.createStorage('arena', 10 * 4);
    try {
      const norm = await prepareGlobalNorm(ctx, { clip: 'norm' });
      expect(() => norm.bind({ first: 2, count: 3, clipThreshold: 1 }, { stats, state })).toThrow(/run past the stats binding/);
      expect(() => norm.bind({ first: 0, count: 0, clipThreshold: 1 }, { stats, state })).toThrow(/count ≥ 1/);
      expect(() => norm.bind({ first: 0, count: 4, clipThreshold: 0 }, { stats, state })).toThrow(/clip threshold 0/);
      expect(() => norm.bind({ first: 0, count: 4, clipThreshold: 1 }, { stats, state: stats })).not.toThrow();
      const adam = await prepareOptimizer(ctx, { optimizer: 'adam', clip: 'none' });
      expect(() => adam.bind({ count: 10, lr: 0.1 }, { params: arena, grads: arena, state, m: arena })).toThrow(/buffer 'v' not given/);
      expect(() => adam.bind({ count: 13, lr: 0.1 }, { params: arena, grads: arena, state, m: arena, v: arena })).toThrow(/holds 12 elements/);
      expect(() => adam.bind({ count: 10, lr: 0.1, beta2: 1 }, { params: arena, grads: arena, state, m: arena, v: arena })).toThrow(/beta2 1/);
      expect(() => adam.bind({ count: 10, lr: -1 }, { params: arena, grads: arena, state, m: arena, v: arena })).toThrow(/lr -1/);
      const sgd = await prepareOptimizer(ctx, { optimizer: 'sgd', clip: 'value' });
      expect(() => sgd.bind({ count: 10, lr: 0.1 }, { params: arena, grads: arena, state })).toThrow(/clip threshold 0/);
      expect(() => sgd.bind({ count: 10, lr: 0.1, clipThreshold: 1 }, { params: arena, grads: arena, state: arena.size > 0 ? ctx.createStorage('tiny', 16) : state })).toThrow(/needs 32 bytes/);
    } finally {
      stats.destroy();
      state.destroy();
      arena.destroy();
    }
  });

  it('binds the vec4 form for counts that are multiples of 4 on aligned arenas, with a quarter of the invocations (each taking UPDATE_ITEMS_PER_INVOCATION items)', async () => {
    const ctx = await testGpu();
    const state = ctx.createStorage('state', STEP_STATE_BYTES);
    const arena = ctx.createStorage('arena', 40_000 * 4);
    try {
      const momentum = await prepareOptimizer(ctx, { optimizer: 'momentum', clip: 'value', maxWorkgroupsPerDimension: 7 });
      const buffers = { params: arena, grads: arena, state, m: arena };
      expect(momentum.usesVec4(35_852, buffers)).toBe(true);
      expect(momentum.usesVec4(35_851, buffers)).toBe(false);
      expect(momentum.usesVec4(35_852, { ...buffers, m: { buffer: arena, offset: 8, size: 35_852 * 4 } })).toBe(false);
      // 8963 quads, 4 a invocation: 2241 invocations, 9 workgroups of 256, folded into 5 × 2
      // (the scalar form: 8963 invocations, 36 workgroups, into 6 × 6).
      expect(momentum.bind({ count: 35_852, lr: 0.1, clipThreshold: 1 }, buffers).workgroups.slice(0, 2)).toEqual([5, 2]);
      expect(momentum.bind({ count: 35_851, lr: 0.1, clipThreshold: 1 }, buffers).workgroups.slice(0, 2)).toEqual([6, 6]);
    } finally {
      state.destroy();
      arena.destroy();
    }
  });
});
