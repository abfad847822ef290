/**
 * What every trainer does with its recorded step: encode it in one pass, copy
 * the stats and step-state words into a staging slot, submit, and read them
 * back; and run steps pipelined, one in flight while the previous is read.
 */
import { encodeDispatches, type Dispatch, type GpuContext } from '../gpu/context.ts';
import type { StagingRing } from '../gpu/staging.ts';
import { STEP_STATE_BYTES } from '../kernels/optim.ts';

/** Submits one step; resolves with `statsBytes` of `stats` followed by the step state. */
export async function submitRecordedStep(
  ctx: GpuContext,
  ring: StagingRing,
  label: string,
  dispatches: readonly Dispatch[],
  stats: GPUBuffer,
  statsBytes: number,
  state: GPUBuffer,
): Promise<ArrayBuffer> {
  ctx.assertAlive();
  const total = statsBytes + STEP_STATE_BYTES;
  const slot = await ring.acquire(total);
  const encoder = ctx.device.createCommandEncoder({ label });
  const pass = encoder.beginComputePass({ label });
  encodeDispatches(pass, dispatches);
  pass.end();
  slot.encodeCopy(encoder, stats, 0, statsBytes);
  encoder.copyBufferToBuffer(state, 0, slot.buffer, statsBytes, STEP_STATE_BYTES);
  ctx.device.queue.submit([encoder.finish()]);
  return slot.read(total).catch(async (error: unknown) => {
    // A lost device may fail the read before its `lost` promise resolves: wait one task so the loss is named
    // (a DeviceLostError, which ends a run with a partial report) rather than a bare mapping error.
    await new Promise((resolve) => setTimeout(resolve, 0));
    ctx.assertAlive();
    throw error;
  });
}

/**
 * Runs `steps` submissions keeping one in flight while the previous one is
 * read back, and calls `onStep` in order. `shouldStop`, asked before each
 * submission, ends the run early: the steps already submitted are still read
 * and recorded. A failure leaves no unhandled rejection behind, and the step
 * still in flight settles before this returns (so the caller may destroy the
 * buffers it uses).
 */
export async function runPipelined<T>(steps: number, submit: () => Promise<T>, onStep: (stats: T) => void, shouldStop: () => boolean = () => false): Promise<void> {
  let inFlight: Promise<T> | null = null;
  try {
    for (let k = 0; k < steps; k++) {
      if (shouldStop()) break;
      const next = submit();
      next.catch(() => undefined);
      if (inFlight) onStep(await inFlight);
      inFlight = next;
    }
    if (inFlight) onStep(await inFlight);
  } finally {
    if (inFlight) await inFlight.catch(() => undefined);
  }
}
