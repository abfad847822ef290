/**
 * The last benchmark report of this adapter, kept in localStorage beside its
 * tuning table (keyed the same way: tuningKey, so a new engine version or
 * another GPU starts empty), for the adapter panel's "Benchmarks on this
 * adapter" after a reload.
 */
import { shortHash, validateBenchReport, type BenchReport } from './engine.ts';

export interface SavedBench {
  /** When the run finished (ISO 8601). */
  savedAt: string;
  report: BenchReport;
}

export function benchStorageItem(key: string): string {
  return `gradstorm.bench:${shortHash(key)}`;
}

/** The saved report for `key`, or null when there is none, it no longer validates (an older schema), or localStorage is refused. */
export function loadSavedBench(key: string, storage?: Storage): SavedBench | null {
  try {
    const text = (storage ?? localStorage).getItem(benchStorageItem(key));
    if (text === null) return null;
    const saved = JSON.parse(text) as Partial<SavedBench>;
    if (typeof saved.savedAt !== 'string' || validateBenchReport(saved.report) !== null) return null;
    return saved as SavedBench;
  } catch {
    return null;
  }
}

export function saveBench(key: string, report: BenchReport, storage?: Storage): SavedBench {
  const saved: SavedBench = { savedAt: new Date().toISOString(), report };
  try {
    (storage ?? localStorage).setItem(benchStorageItem(key), JSON.stringify(saved));
  } catch {
    // A full or refused localStorage: the report still shows for this page session.
  }
  return saved;
}
