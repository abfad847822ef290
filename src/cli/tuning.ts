/**
 * The autotuner in the CLI: tables live in files, one per adapter and engine
 * version, under $GRADSTORM_CACHE_DIR (default $XDG_CACHE_HOME/gradstorm or
 * ~/.cache/gradstorm). A run measures only the shape classes its model needs
 * that the file lacks; `--retune` measures them again.
 */
import { RunInterruptedError, abortReason } from '../scheduler/interruption.ts';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { GpuContext } from '../gpu/context.ts';
import { ensureTuned, shortHash, type EnsureTunedResult, type TuningStore } from '../tune/tuner.ts';
import type { MatmulUse } from '../models/mlp.ts';
import { writeJsonAtomic } from './io.ts';

/** Where Node keeps tuning tables: $GRADSTORM_CACHE_DIR, else $XDG_CACHE_HOME/gradstorm, else ~/.cache/gradstorm. */
export function tuningCacheDir(env: Record<string, string | undefined> = process.env): string {
  if (env.GRADSTORM_CACHE_DIR) return env.GRADSTORM_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'gradstorm');
}

/** A JSON file per adapter key. An unreadable file is reported as a problem and then replaced. */
export function fileTuningStore(dir: string = tuningCacheDir(), warn: (message: string) => void = (m) => process.stderr.write(`${m}\n`)): TuningStore {
  const path = (key: string) => join(dir, `tuning-${shortHash(key)}.json`);
  return {
    load(key) {
      let text: string;
      try {
        text = readFileSync(path(key), 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        warn(`autotuner: cannot read ${path(key)} (${(error as Error).message}); measuring again`);
        return null;
      }
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return { schema: 'unreadable JSON' };
      }
    },
    save(table) {
      try {
        writeJsonAtomic(path(table.key), table);
        return true;
      } catch (error) {
        // A read-only home must not fail the run: the choices still apply to this process.
        warn(`autotuner: cannot save ${path(table.key)} (${(error as Error).message}); set GRADSTORM_CACHE_DIR to a writable folder to keep the choices`);
        return false;
      }
    },
    where(key) {
      return path(key);
    },
  };
}

/**
 * Applies this adapter's tuned matmul choices for `uses`, measuring the
 * missing ones first (with progress on stderr unless quiet).
 */
export async function autotune(
  ctx: GpuContext,
  uses: Iterable<MatmulUse>,
  options: { retune?: boolean; quiet?: boolean; store?: TuningStore; signal?: AbortSignal } = {},
): Promise<EnsureTunedResult> {
  const store = options.store ?? fileTuningStore();
  const progress = tuningProgress(options);
  let result: EnsureTunedResult;
  try {
    result = await ensureTuned(ctx, uses, { store, retune: options.retune, onClass: progress.onClass, signal: options.signal });
  } catch (error) {
    // Ctrl-C while tuning stops between candidates (what was measured is kept in the store): nothing ran, so nothing to report.
    if (options.signal?.aborted) throw new RunInterruptedError(abortReason(options.signal));
    throw error;
  }
  progress.done(result, (key) => store.where(key));
  return result;
}

/** The autotuner's lines on stderr (unless quiet): shared by the Node runtime and the Chrome runtime, whose page streams the same events. */
export function tuningProgress(options: { retune?: boolean; quiet?: boolean }): {
  onClass(shapeClass: string, index: number, total: number): void;
  done(result: EnsureTunedResult, where: (key: string) => string): void;
} {
  const say = (text: string) => {
    if (!options.quiet) process.stderr.write(text);
  };
  return {
    onClass(shapeClass, i, total) {
      if (i === 0) say(`autotuner: measuring ${total} matmul shape class(es) on this adapter${options.retune ? ' (--retune)' : ' (once; kept in the tuning cache)'}\n`);
      say(`  [${i + 1}/${total}] ${shapeClass}\n`);
    },
    done(result, where) {
      if (result.storeProblem) say(`autotuner: set aside the stored table (${result.storeProblem})\n`);
      for (const entry of result.tuned) say(`  ${entry.shapeClass}: ${entry.variant} (${entry.ms.toFixed(3)} ms at ${entry.proxy.m}×${entry.proxy.n}×${entry.proxy.k})\n`);
      if (result.saved) say(`autotuner: saved ${where(result.table.key)}\n`);
    },
  };
}
