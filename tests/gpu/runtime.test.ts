import { describe, expect, it } from 'vitest';
import { testGpu } from '../support/gpu.ts';
import '../../src/node.ts'; // registers Dawn, as the package's Node entry does
import { acquireGpu } from '../../src/gpu/acquire.ts';
import { DeviceLostError, GpuKernelError, GpuLimitError } from '../../src/gpu/errors.ts';
import { StagingRing } from '../../src/gpu/staging.ts';
import { prepareMatmul } from '../../src/kernels/matmul.ts';
import { prepareElementwise } from '../../src/kernels/elementwise.ts';
import { timeDispatches } from '../../src/gpu/timer.ts';

describe('GPU runtime', () => {
  it('names the adapter and requests the limits big models need', async () => {
    const ctx = await testGpu();
    expect(ctx.summary.vendor.length).toBeGreaterThan(0);
    // We ask for the adapter's own maximum rather than the 128 MiB default.
    expect(ctx.limits.maxStorageBufferBindingSize).toBe(ctx.adapter.limits.maxStorageBufferBindingSize);
    expect(ctx.limits.maxBufferSize).toBe(ctx.adapter.limits.maxBufferSize);
  });

  it('compiles each kernel option set once (pipeline cache keyed by options)', async () => {
    const ctx = await testGpu();
    const before = ctx.pipelineCount;
    const first = await prepareMatmul(ctx, { layout: 'nn', variant: 'register', gradMask: 'tanh' });
    const again = await prepareMatmul(ctx, { layout: 'nn', variant: 'register', gradMask: 'tanh' });
    expect(ctx.pipelineCount).toBe(before + 1);
    expect(again.label).toBe(first.label);
    await prepareMatmul(ctx, { layout: 'nn', variant: 'register', gradMask: 'relu' });
    expect(ctx.pipelineCount).toBe(before + 2);
  });

  it('turns a validation error into a GpuKernelError naming the kernel', async () => {
    const ctx = await testGpu();
    const kernel = await prepareElementwise(ctx, { activation: 'relu', direction: 'forward' });
    const x = ctx.createStorage('x', 64);
    // The same buffer bound as read-only input and writable output is invalid in WebGPU.
    const run = ctx.run([kernel.bind(16, { x, y: x })]);
    await expect(run).rejects.toBeInstanceOf(GpuKernelError);
    await expect(ctx.run([kernel.bind(16, { x, y: x })])).rejects.toThrow(/relu\.forward/);
    x.destroy();
  });

  it('refuses a buffer larger than the adapter allows, with both sizes', async () => {
    const ctx = await testGpu();
    const tooBig = ctx.limits.maxStorageBufferBindingSize + 1024;
    expect(() => ctx.createStorage('weights', tooBig)).toThrow(GpuLimitError);
    expect(() => ctx.createStorage('weights', tooBig)).toThrow(/weights: needs a buffer of .* the adapter allows/);
  });

  it('refuses a dispatch grid past the per-dimension limit', async () => {
    const ctx = await testGpu();
    const kernel = await prepareMatmul(ctx, { layout: 'nt', variant: 'register' });
    const big = { m: 1, n: ctx.limits.maxComputeWorkgroupsPerDimension * 64 + 64, k: 1 };
    const tiny = ctx.createStorage('t', 16);
    expect(() => kernel.bind(big, { a: tiny, b: tiny, c: tiny })).toThrow(/exceeds the adapter's \d+ workgroups per dimension/);
    tiny.destroy();
  });

  it('reads back through a staging ring whose slots are reused in order', async () => {
    const ctx = await testGpu();
    const source = ctx.upload('stats', Float32Array.from({ length: 8 }, (_, i) => i + 0.5));
    const ring = new StagingRing(ctx.device, 2, 64);
    const reads: Promise<ArrayBuffer>[] = [];
    for (let step = 0; step < 5; step++) {
      const slot = await ring.acquire(32);
      const encoder = ctx.device.createCommandEncoder();
      ctx.device.queue.writeBuffer(source, 0, new Float32Array([step]));
      slot.encodeCopy(encoder, source, 0, 32);
      ctx.device.queue.submit([encoder.finish()]);
      reads.push(slot.read());
    }
    const values = (await Promise.all(reads)).map((b) => new Float32Array(b));
    expect(values.map((v) => v[0])).toEqual([0, 1, 2, 3, 4]);
    expect(Array.from(values[4].slice(1))).toEqual([1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5]);
    await expect(ring.acquire(65)).rejects.toThrow(/exceeds the slot size/);
    ring.destroy();
    source.destroy();
  });

  it('reuses pooled buffers by size class', async () => {
    const ctx = await testGpu();
    const a = ctx.pool.acquire('a', 1000);
    expect(a.size).toBe(1024);
    ctx.pool.release(a);
    const b = ctx.pool.acquire('b', 900);
    expect(b).toBe(a);
    expect(() => ctx.pool.release(ctx.createStorage('foreign', 16))).toThrow(/does not belong/);
    ctx.pool.release(b);
    expect(() => ctx.pool.release(b)).toThrow(/released twice/);
  });

  it('times dispatches (GPU timestamps when available) with a positive duration', async () => {
    const ctx = await testGpu();
    const kernel = await prepareElementwise(ctx, { activation: 'tanh', direction: 'forward' });
    const x = ctx.createStorage('x', 4 * 65536);
    const y = ctx.createStorage('y', 4 * 65536);
    const timing = await timeDispatches(ctx, [kernel.bind(65536, { x, y })], 3);
    expect(timing.ms).toBeGreaterThan(0);
    expect(timing.source).toBe(ctx.hasTimestamps ? 'gpu-timestamps' : 'wall-clock');
    x.destroy();
    y.destroy();
  });

  it('reports a lost device with its reason, and refuses further work', async () => {
    const ctx = await acquireGpu();
    // Simulate loss the way an application would see it: the device goes away under us.
    ctx.device.destroy();
    await ctx.device.lost;
    await new Promise((r) => setTimeout(r, 0));
    expect(ctx.lostError).toBeInstanceOf(DeviceLostError);
    expect(ctx.lostError?.message).toMatch(/device was lost \(reason: destroyed/);
    expect(() => ctx.createStorage('after', 16)).toThrow(DeviceLostError);
  });
});

describe('staging ring under concurrency', () => {
  it('serves more concurrent readers than slots, each with its own data', async () => {
    const ctx = await testGpu();
    const buffers = Array.from({ length: 7 }, (_, i) => ctx.upload(`r${i}`, new Float32Array([i, i + 0.25])));
    const values = await Promise.all(buffers.map((b) => ctx.readF32(b, 2)));
    expect(values.map((v) => Array.from(v))).toEqual(buffers.map((_, i) => [i, i + 0.25]));
    for (const b of buffers) b.destroy();
  });
});
