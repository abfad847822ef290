/**
 * The report as text tables (header and rows of cells): what the CLI prints
 * and what a page can render. Each gradstorm entry shows its ratio against
 * every baseline of the same kernel and shape; baselines and skipped cells
 * follow the entries of their shape.
 */
import type { BaselineVariant, BenchBaseline, BenchEntry, BenchReport, BenchSkipped } from './report.ts';
import { BASELINE_VARIANTS } from './report.ts';

export interface BenchTable {
  title: string;
  header: string[];
  rows: string[][];
}

const BASELINE_COLUMNS: Record<BaselineVariant, string> = { 'tfjs-webgpu': 'vs TF.js', 'plain-js': 'vs plain JS' };

/** Which table a kernel belongs to. */
function section(kernel: string): keyof typeof TITLES {
  if (kernel.startsWith('matmul.')) return 'matmul';
  if (kernel.startsWith('relu.') || kernel.startsWith('reduce.')) return 'bandwidth';
  if (kernel.startsWith('mlp.') || kernel.startsWith('rnn.')) return 'steps';
  return 'other';
}

const TITLES = { matmul: 'matmul (GFLOP/s)', bandwidth: 'bandwidth (GB/s)', steps: 'training steps and recurrences', other: 'other' } as const;

function ms(value: number): string {
  return value >= 100 ? value.toFixed(0) : value >= 1 ? value.toFixed(2) : value.toPrecision(3);
}

/** `12.3×`: three significant digits, enough to read a speedup. */
export function formatRatio(ratio: number): string {
  return `${ratio.toPrecision(3)}×`;
}

function rate(t: { gflops?: number; gbps?: number }): string {
  const value = t.gflops ?? t.gbps;
  return value === undefined ? '—' : value.toPrecision(3);
}

function check(e: BenchEntry): string {
  if (e.withinTolerance === false) return `FAIL ${e.maxError === null ? 'non-finite' : e.maxError.toExponential(1)}`;
  return e.maxError === null ? '—' : e.maxError.toExponential(1);
}

export function benchTables(report: BenchReport): BenchTable[] {
  // Grouped by kernel and shape, in order of first appearance (a Map keeps insertion order).
  const groups = new Map<string, { kernel: string; entries: BenchEntry[]; baselines: BenchBaseline[]; skipped: BenchSkipped[] }>();
  const group = (x: { kernel: string; shape: string }) => {
    const key = `${x.kernel} ${x.shape}`;
    let found = groups.get(key);
    if (!found) groups.set(key, (found = { kernel: x.kernel, entries: [], baselines: [], skipped: [] }));
    return found;
  };
  for (const e of report.entries) group(e).entries.push(e);
  for (const b of report.baselines) group(b).baselines.push(b);
  for (const s of report.skipped) group(s).skipped.push(s);

  const tables = new Map<keyof typeof TITLES, BenchTable>();
  for (const { kernel, ...group } of groups.values()) {
    const kind = section(kernel);
    let table = tables.get(kind);
    if (!table) {
      table = { title: TITLES[kind], header: ['kernel', 'shape', 'variant', 'median ms', 'min–max ms', kind === 'bandwidth' ? 'GB/s' : 'GFLOP/s', ...BASELINE_VARIANTS.map((b) => BASELINE_COLUMNS[b]), 'max |Δ|', 'timing', 'note'], rows: [] };
      tables.set(kind, table);
    }
    for (const e of group.entries) {
      const ratios = BASELINE_VARIANTS.map((b) => {
        const r = report.ratios.find((x) => x.kernel === e.kernel && x.shape === e.shape && x.variant === e.variant && x.baseline === b);
        return r ? formatRatio(r.speedup) : '—';
      });
      table.rows.push([e.kernel, e.shape, e.variant, ms(e.ms), `${ms(e.minMs)}–${ms(e.maxMs)}`, rate(e), ...ratios, check(e), e.timing, e.note ?? '']);
    }
    for (const b of group.baselines) {
      table.rows.push([b.kernel, b.shape, b.variant, ms(b.ms), `${ms(b.minMs)}–${ms(b.maxMs)}`, rate(b), ...BASELINE_VARIANTS.map(() => ''), '', b.timing, b.note ?? '']);
    }
    for (const s of group.skipped) {
      table.rows.push([s.kernel, s.shape, s.variant, 'skipped', '', '', ...BASELINE_VARIANTS.map(() => ''), '', '', s.reason]);
    }
  }
  return [...tables.values()].map(withoutEmptyRatioColumns);
}

/** A table keeps only the ratio columns of baselines it has (no plain-JS relu, no plain-JS training step). */
function withoutEmptyRatioColumns(table: BenchTable): BenchTable {
  const empty = new Set(
    BASELINE_VARIANTS.map((b) => table.header.indexOf(BASELINE_COLUMNS[b])).filter((column) => table.rows.every((row) => row[column] === '—' || row[column] === '')),
  );
  const keep = (_: string, column: number) => !empty.has(column);
  return { title: table.title, header: table.header.filter(keep), rows: table.rows.map((row) => row.filter(keep)) };
}
