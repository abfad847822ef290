/**
 * How the Kernels view draws what it measured: the benchmark tables (the
 * same cells `gradstorm bench` prints, from benchTables) as HTML tables, and
 * this adapter's autotuning table (per shape class the chosen tiling and the
 * candidates' times). DOM only; kernels.ts decides what to show when.
 */
import { h } from './dom.ts';
import { sci } from './format.ts';
import type { BenchTable, TunedCandidate, TunedEntry, TuningTable } from './engine.ts';

/** Columns holding a ratio (baseline median / gradstorm median). */
const RATIO_COLUMN = /^vs /;
/** Columns drawn right-aligned, as numbers. */
const NUMBER_COLUMNS = new Set(['median ms', 'min–max ms', 'GFLOP/s', 'GB/s', 'max |Δ|']);

export const RATIO_NOTE = 'vs TF.js, vs plain JS: baseline median / gradstorm median on the same adapter in the same run (above 1×, gradstorm is faster).';

/** A stable id for a table from its title: `bench-table-matmul`, `bench-table-bandwidth`, … */
export function tableId(title: string, prefix = 'bench-table'): string {
  return `${prefix}-${title.split(/[\s(]/)[0].toLowerCase()}`;
}

function ratioClass(cell: string): string {
  const value = parseFloat(cell);
  if (!Number.isFinite(value)) return 'ratio';
  return value >= 1 ? 'ratio faster' : 'ratio slower';
}

/** One BenchTable as an HTML table: ratio cells coloured by which side is faster, failed checks and skipped cells marked. */
export function benchTableElement(table: BenchTable, id: string): HTMLElement {
  const kinds = table.header.map((name) => (RATIO_COLUMN.test(name) ? 'ratio' : NUMBER_COLUMNS.has(name) ? 'num' : ''));
  const medianColumn = table.header.indexOf('median ms');
  const variantColumn = table.header.indexOf('variant');
  const row = (cells: string[]) => {
    const skipped = cells[medianColumn] === 'skipped';
    const baseline = cells[variantColumn] === 'tfjs-webgpu' || cells[variantColumn] === 'plain-js';
    return h('tr', { class: skipped ? 'skipped' : baseline ? 'baseline' : '' },
      ...cells.map((cell, i) => {
        const kind = kinds[i] === 'ratio' && cell !== '' && cell !== '—' ? ratioClass(cell) : kinds[i];
        return h('td', { class: cell.startsWith('FAIL') ? `${kind} fail` : kind }, cell);
      }));
  };
  return h('div', { class: 'bench-table' },
    h('h4', {}, table.title),
    h('div', { class: 'table-wrap' },
      h('table', { class: 'results-table bench', id },
        h('thead', {}, h('tr', {}, ...table.header.map((name, i) => h('th', { class: kinds[i] }, name)))),
        h('tbody', {}, ...table.rows.map(row)),
      )),
  );
}

export function benchTableElements(tables: readonly BenchTable[], prefix = 'bench-table'): HTMLElement[] {
  return tables.map((t) => benchTableElement(t, tableId(t.title, prefix)));
}

// ---------------------------------------------------------------------------
// The tuning table

/** `matmul/nt/sll/v4` in words: which of M, N, K are small (≤ 64), and whether vec4 loads fit. */
export function describeShapeClass(shapeClass: string): string {
  const [, layout, sizes, loads] = shapeClass.split('/');
  if (!sizes || sizes.length !== 3) return shapeClass;
  const dims = ['M', 'N', 'K'].map((d, i) => `${d} ${sizes[i] === 's' ? '≤ 64' : '> 64'}`).join(', ');
  return `${layout}: ${dims}${loads === 'v4' ? ', multiples of 4 (vec4 loads fit)' : ''}`;
}

function ms(value: number): string {
  return value >= 100 ? value.toFixed(0) : value >= 1 ? value.toFixed(2) : value.toPrecision(3);
}

/** The candidates fastest first, the rejected last. */
function sortedCandidates(entry: TunedEntry): TunedCandidate[] {
  return [...entry.candidates].sort((a, b) => (a.ms ?? Infinity) - (b.ms ?? Infinity));
}

function candidateItem(entry: TunedEntry, c: TunedCandidate): HTMLElement {
  const fullRuns = Math.max(...entry.candidates.map((x) => x.runs ?? 0));
  if (c.ms === null || c.error) {
    return h('li', { class: 'rejected', title: c.error ?? 'failed' }, `${c.variant} ✗ ${c.error?.startsWith('wrong result') ? 'wrong result' : 'failed'}`);
  }
  const abandoned = c.runs !== undefined && c.runs < fullRuns;
  return h('li', { class: c.variant === entry.variant ? 'winner' : abandoned ? 'abandoned' : '', title: abandoned ? 'timed once: already more than twice the best time, not timed again' : `median of ${c.runs ?? '?'} runs, max |Δ| ${c.maxError === null ? '—' : sci(c.maxError, 2)}` },
    `${c.variant} ${ms(c.ms)} ms${abandoned ? ' (1 run)' : ''}`);
}

/** The table: per shape class the chosen tiling, its time at the proxy shape, and every candidate's time. */
export function tuningTableElement(table: TuningTable, justMeasured: ReadonlySet<string>): HTMLElement {
  const entries = Object.values(table.entries);
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'results-table tuning', id: 'tuning-table' },
      h('thead', {}, h('tr', {}, h('th', {}, 'shape class'), h('th', {}, 'measured at'), h('th', {}, 'chosen tiling'), h('th', { class: 'num' }, 'ms'), h('th', {}, 'timing'), h('th', {}, 'candidates (fastest first)'))),
      h('tbody', {}, ...entries.map((e) =>
        h('tr', { 'data-class': e.shapeClass, class: justMeasured.has(e.shapeClass) ? 'fresh' : '' },
          h('td', { title: describeShapeClass(e.shapeClass) }, h('code', {}, e.shapeClass)),
          h('td', {}, `${e.proxy.m}×${e.proxy.n}×${e.proxy.k}`),
          h('td', { class: 'chosen' }, h('b', {}, e.variant)),
          h('td', { class: 'num' }, ms(e.ms)),
          h('td', {}, e.timing),
          h('td', {}, h('ul', { class: 'candidates' }, ...sortedCandidates(e).map((c) => candidateItem(e, c)))),
        ))),
    ));
}
