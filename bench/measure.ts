/**
 * The one timing loop of the benchmarks. A sampler runs the work `repeat`
 * times back to back (one submit of `repeat` dispatches, `repeat` TF.js ops
 * before one read, `repeat` training steps) and returns the time per repeat.
 * measure() warms up, picks `repeat` so that a sample lasts at least
 * `minSampleMs` (wall clocks and coarse timestamps cannot resolve a
 * microsecond kernel; the submit overhead is then amortised), and returns the
 * median, min and max of `runs` samples.
 */
import { summarize, type TimingSummary } from './stats.ts';

export type TimingSource = 'gpu-timestamps' | 'wall-clock';

export interface Sample {
  /** Milliseconds per repeat. */
  ms: number;
  source: TimingSource;
}

export type Sampler = (repeat: number) => Promise<Sample>;

export interface Measurement extends TimingSummary {
  timing: TimingSource;
  /** Repeats per sample. */
  repeat: number;
}

/** A sample this long is long enough for a wall clock; the default minSampleMs. */
export const MIN_SAMPLE_MS = 20;
/** More repeats than this in one sample would only slow a tiny kernel's benchmark down. */
export const MAX_REPEAT = 256;

/** Repeats that make one sample last at least `minSampleMs`, given one repeat took `onceMs`. */
export function repeatFor(onceMs: number, minSampleMs: number): number {
  if (!(onceMs > 0)) return MAX_REPEAT;
  return Math.min(MAX_REPEAT, Math.max(1, Math.ceil(minSampleMs / onceMs)));
}

/** A wall-clock sampler around synchronous or asynchronous work run `repeat` times. */
export function wallClockSampler(work: (repeat: number) => unknown): Sampler {
  return async (repeat) => {
    const start = performance.now();
    await work(repeat);
    return { ms: (performance.now() - start) / repeat, source: 'wall-clock' };
  };
}

/** A wall-clock sampler of an asynchronous step (a training step) run `repeat` times, one after another. */
export function sequentialSampler(step: () => Promise<unknown>): Sampler {
  return wallClockSampler(async (repeat) => {
    for (let r = 0; r < repeat; r++) await step();
  });
}

export async function measure(sample: Sampler, runs: number, minSampleMs = MIN_SAMPLE_MS): Promise<Measurement> {
  if (!(Number.isInteger(runs) && runs >= 1)) throw new Error(`measure: runs = ${runs}, must be an integer ≥ 1`);
  // Warm-up: pipeline compilation, first touch of memory, TF.js's shader cache.
  await sample(1);
  const first = await sample(1);
  const repeat = repeatFor(first.ms, minSampleMs);
  // A first sample that was long enough counts: at large sizes on a software adapter a sample takes minutes.
  const samples = repeat === 1 ? [first] : [];
  while (samples.length < runs) samples.push(await sample(repeat));
  return { ...summarize(samples.map((s) => s.ms)), timing: samples[samples.length - 1].source, repeat };
}
