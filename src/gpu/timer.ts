import { BufferUsage } from './flags.ts';
import { encodeDispatches, type Dispatch, type GpuContext } from './context.ts';

/**
 * Times a list of dispatches: GPU timestamps at the start and end of one
 * compute pass when the adapter has 'timestamp-query', else wall time from
 * submit to onSubmittedWorkDone. `repeat` copies of the dispatches go in the
 * one pass, so launch overhead is amortised; the result is per repeat.
 */
export interface Timing {
  /** Milliseconds per repeat. */
  ms: number;
  source: 'gpu-timestamps' | 'wall-clock';
}

/**
 * Times `dispatches` run `repeat` times in one compute pass: GPU timestamps
 * where the adapter has `timestamp-query`, else the wall clock from submit to
 * completion. Returns the time per repeat.
 */
export async function timeDispatches(ctx: GpuContext, dispatches: readonly Dispatch[], repeat = 1): Promise<Timing> {
  ctx.assertAlive();
  const device = ctx.device;
  const encoder = device.createCommandEncoder({ label: 'timed' });
  let querySet: GPUQuerySet | null = null;
  let resolve: GPUBuffer | null = null;
  if (ctx.hasTimestamps) {
    querySet = device.createQuerySet({ type: 'timestamp', count: 2 });
    resolve = device.createBuffer({ size: 16, usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC });
  }
  const pass = encoder.beginComputePass(
    querySet ? { timestampWrites: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {},
  );
  for (let r = 0; r < repeat; r++) encodeDispatches(pass, dispatches);
  pass.end();
  if (querySet && resolve) encoder.resolveQuerySet(querySet, 0, 2, resolve, 0);
  const start = performance.now();
  device.queue.submit([encoder.finish()]);
  await device.queue.onSubmittedWorkDone();
  const wallMs = performance.now() - start;
  ctx.assertAlive();
  if (!querySet || !resolve) return { ms: wallMs / repeat, source: 'wall-clock' };
  try {
    const stamps = new BigUint64Array(await ctx.read(resolve, 0, 16));
    const ns = Number(stamps[1] - stamps[0]);
    // Some adapters quantise or zero timestamps; fall back to the wall clock then.
    if (!(ns > 0)) return { ms: wallMs / repeat, source: 'wall-clock' };
    return { ms: ns / 1e6 / repeat, source: 'gpu-timestamps' };
  } finally {
    querySet.destroy();
    resolve.destroy();
  }
}
