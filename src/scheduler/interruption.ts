/**
 * Interrupted runs keep their data (shared contract 1): a run stops after the
 * step in flight when its AbortSignal aborts, and a device loss or kernel
 * error after the first recorded step ends it the same way. Either gives a
 * partial report marked `interrupted: true` with an `interruption` record;
 * only a run that recorded no step throws (browser-safe: no Node imports).
 */
import { DeviceLostError, GpuKernelError } from '../gpu/errors.ts';

/** Every reason a partial report can give for stopping early. */
export const INTERRUPTION_REASONS = ['SIGINT', 'SIGTERM', 'aborted', 'device-lost', 'kernel-error', 'browser-crash', 'page-crash'] as const;
/** One of {@link INTERRUPTION_REASONS}. */
export type InterruptionReason = (typeof INTERRUPTION_REASONS)[number];

/** Why a run stopped early; `stepReached` counts the steps the report holds. */
export interface Interruption {
  reason: InterruptionReason;
  stepReached: number;
  message: string;
}

/** What a partial report adds at top level (both fields absent on complete runs). */
export interface InterruptionFields {
  interrupted?: true;
  interruption?: Interruption;
}

export function interruptionFields(interruption: Interruption | null): InterruptionFields {
  return interruption ? { interrupted: true, interruption } : {};
}

/** The reason an aborted signal gives: its `reason` when that is one of the contract's strings, else 'aborted'. */
export function abortReason(signal: AbortSignal | undefined): InterruptionReason {
  const reason: unknown = signal?.reason;
  return typeof reason === 'string' && (INTERRUPTION_REASONS as readonly string[]).includes(reason) ? (reason as InterruptionReason) : 'aborted';
}

/** A run stopped (by its signal, or by a failure) before it recorded any step: there is nothing to report. */
export class RunInterruptedError extends Error {
  override name = 'RunInterruptedError';
  constructor(readonly reason: InterruptionReason) {
    super(`stopped (${reason}) before the first step was recorded: there is nothing to report`);
  }
}

/**
 * Runs `work` (a trainer's steps) and says how it ended: null when all
 * `total` steps were recorded, else the interruption. A DeviceLostError or
 * GpuKernelError after the first recorded step becomes an interruption; any
 * other failure, and any failure or abort before the first step, throws.
 */
export async function runInterruptible(work: () => Promise<void>, recorded: () => number, total: number, signal?: AbortSignal): Promise<Interruption | null> {
  if (signal?.aborted) throw new RunInterruptedError(abortReason(signal));
  try {
    await work();
  } catch (error) {
    const reason = error instanceof DeviceLostError ? 'device-lost' : error instanceof GpuKernelError ? 'kernel-error' : null;
    if (reason === null || recorded() === 0) throw error;
    const n = recorded();
    return { reason, stepReached: n, message: `stopped after step ${n} of ${total}: ${(error as Error).message}` };
  }
  const n = recorded();
  if (n >= total) return null;
  const reason = abortReason(signal);
  if (n === 0) throw new RunInterruptedError(reason);
  return { reason, stepReached: n, message: `interrupted (${reason}) after step ${n} of ${total}` };
}
