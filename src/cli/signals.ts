/**
 * Ctrl-C and SIGTERM during a long command (Node): the first stops the run
 * after the step in flight so the command can still write what it has; a
 * second exits at once, without a report.
 */
import type { InterruptionReason } from '../scheduler/interruption.ts';

export interface StopOnSignals {
  /** Aborted with reason 'SIGINT' or 'SIGTERM' by the first signal. */
  signal: AbortSignal;
  /** Removes the handlers (the default behaviour of both signals returns) unless a signal already came. */
  dispose(): void;
}

/** Exit codes: 128 + the signal's number after SIGINT (130) and SIGTERM (143); 1 for the other reasons a run stops early. */
export function interruptionExitCode(reason: InterruptionReason): number {
  return reason === 'SIGINT' ? 130 : reason === 'SIGTERM' ? 143 : 1;
}

/** How a command other than a plain Node run stops (the Chrome runtime: a browser to stop and, at worst, to kill). */
export interface StopOnSignalsOptions {
  /** What the first signal's line says is happening (default: stopping after the step in flight, then writing `what`). */
  stopping?: (name: 'SIGINT' | 'SIGTERM') => string;
  /** Runs after the first signal aborted `signal` (e.g. asking a page to stop). */
  onFirst?: (name: 'SIGINT' | 'SIGTERM') => void;
  /** What the second signal's line says (default: exiting at once, without a report). */
  again?: string;
  /** Runs before the second signal exits the process (e.g. killing a browser's process group). */
  beforeExit?: () => void;
}

/**
 * Catches SIGINT and SIGTERM until dispose(); `what` names what will be
 * written ("the partial report", …). The first aborts `signal`; a second
 * exits at once with 130/143.
 */
export function stopOnSignals(what: string, options: StopOnSignalsOptions = {}): StopOnSignals {
  const controller = new AbortController();
  const onSignal = (name: 'SIGINT' | 'SIGTERM') => {
    if (controller.signal.aborted) {
      process.stderr.write(`\ngradstorm: ${name} again: ${options.again ?? 'exiting at once, without a report'}\n`);
      options.beforeExit?.();
      process.exit(interruptionExitCode(name));
    }
    controller.abort(name);
    const stopping = options.stopping?.(name) ?? `stopping after the step in flight, then writing ${what}. Press Ctrl-C again to exit at once, without a report`;
    process.stderr.write(`\ngradstorm: ${name}: ${stopping}\n`);
    options.onFirst?.(name);
  };
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return {
    signal: controller.signal,
    dispose() {
      // Once stopping, the handlers stay until the process exits: a second signal in the last moments (the
      // report written, the device being released) still exits at once with 130/143, not by the signal itself.
      if (controller.signal.aborted) return;
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    },
  };
}
