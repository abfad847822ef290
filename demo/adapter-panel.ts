/**
 * The adapter panel: what the page's WebGPU adapter is, its features and the
 * device's limits, and the benchmarks last measured on it (the Kernels view).
 */
import { RATIO_NOTE, benchTableElements } from './bench-view.ts';
import type { SavedBench } from './bench-store.ts';
import { h } from './dom.ts';
import { benchTables, type BenchTable, type GpuContext } from './engine.ts';

function limitEntries(limits: GPUSupportedLimits): [string, number][] {
  const out: [string, number][] = [];
  // WebIDL attributes live on the prototype, enumerable: for…in sees them.
  for (const key in limits) {
    const value = (limits as unknown as Record<string, unknown>)[key];
    if (typeof value === 'number') out.push([key, value]);
  }
  return out.sort((a, b) => a[0].localeCompare(b[0]));
}

function formatLimit(name: string, value: number): string {
  if (/Size$/.test(name) && value >= 1024 * 1024 && name !== 'maxComputeWorkgroupStorageSize') {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let v = value;
    let u = 0;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return `${value.toLocaleString('en-US')} (${Number(v.toFixed(1))} ${units[u]})`;
  }
  return value.toLocaleString('en-US');
}

export function renderAdapterPanel(root: HTMLElement, ctx: GpuContext): void {
  const s = ctx.summary;
  const info: [string, string][] = [
    ['vendor', s.vendor],
    ['architecture', s.architecture],
    ['description', s.description || '—'],
    ['device', s.device || '—'],
    ['backend', s.backend],
    ['kind', s.software ? 'software (emulated on the CPU)' : 'hardware'],
    ['GPU timestamps', ctx.hasTimestamps ? 'yes (timestamp-query)' : 'no'],
  ];
  const features = [...ctx.adapter.features].sort();
  const deviceFeatures = ctx.features;
  root.replaceChildren(
    h('div', { class: 'adapter-grid' },
      h('div', {},
        h('h3', {}, 'Adapter'),
        h('table', { class: 'kv' }, h('tbody', {}, ...info.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v))))),
        h('h3', {}, `Features (${features.length})`),
        h('p', { class: 'small' }, 'Highlighted: enabled on the device the engine uses.'),
        h('ul', { class: 'chips', id: 'adapter-features' }, ...features.map((f) => h('li', { class: deviceFeatures.has(f) ? 'on' : '' }, f))),
        // Filled by the Kernels view (renderAdapterBenchmarks).
        h('div', { id: 'adapter-bench', class: 'adapter-bench' }),
      ),
      h('div', {},
        h('h3', {}, 'Device limits'),
        h('p', { class: 'small' }, 'The engine asks for the adapter’s maximum of the limits big models need.'),
        h('table', { class: 'kv limits', id: 'adapter-limits' },
          h('tbody', {}, ...limitEntries(ctx.limits).map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, formatLimit(k, v)))))),
      ),
    ),
  );
}

/** Columns of the panel's compact tables: what ran, its throughput, and the ratios. */
const SUMMARY_COLUMNS = new Set(['kernel', 'shape', 'variant', 'median ms', 'GFLOP/s', 'GB/s', 'vs TF.js', 'vs plain JS']);

/** A report's tables cut to gradstorm's own entries (no baseline or skipped rows) and the summary columns. */
export function summaryTables(tables: readonly BenchTable[]): BenchTable[] {
  return tables.map((t) => {
    const keep = t.header.map((name) => SUMMARY_COLUMNS.has(name));
    const variant = t.header.indexOf('variant');
    const median = t.header.indexOf('median ms');
    const rows = t.rows.filter((r) => r[median] !== 'skipped' && r[variant] !== 'tfjs-webgpu' && r[variant] !== 'plain-js');
    return { title: t.title, header: t.header.filter((_, i) => keep[i]), rows: rows.map((r) => r.filter((_, i) => keep[i])) };
  });
}

/**
 * "Benchmarks on this adapter": the last report measured in this browser on
 * this adapter (kept in localStorage), or how to get one. `onRun` opens the
 * Kernels view.
 */
export function renderAdapterBenchmarks(root: HTMLElement, saved: SavedBench | null, onRun: () => void): void {
  const button = h('button', { type: 'button', id: 'adapter-bench-run' }, saved ? 'Open the Kernels view' : 'Run the benchmarks');
  button.addEventListener('click', onRun);
  if (!saved) {
    root.replaceChildren(
      h('h3', {}, 'Benchmarks on this adapter'),
      h('p', { class: 'small' }, 'Not measured in this browser yet. The Kernels view times matmul (every layout and variant, and the autotuner’s choice), relu, the gradient norm and whole training steps on this adapter, against TF.js’s WebGPU backend and plain JS.'),
      button,
    );
    return;
  }
  const r = saved.report;
  const timing = r.adapter.timestampQuery ? 'GPU timestamps' : 'wall clock';
  root.replaceChildren(
    h('h3', {}, 'Benchmarks on this adapter'),
    h('p', { class: 'small', id: 'adapter-bench-meta' },
      `Measured ${new Date(saved.savedAt).toLocaleString()} by gradstorm ${r.version}: median of ${r.runs} run${r.runs === 1 ? '' : 's'} (${timing}), ${r.entries.length} entr${r.entries.length === 1 ? 'y' : 'ies'}, ${r.skipped.length} skipped.${r.ratios.length ? ` ${RATIO_NOTE}` : ''}`),
    ...benchTableElements(summaryTables(benchTables(r)), 'adapter-bench'),
    button,
  );
}
