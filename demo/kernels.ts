/**
 * The Kernels view: `gradstorm bench` in the page. The form holds the bench
 * settings (state.ts reads and writes them in the URL); Run benchmarks runs
 * the same suite as the CLI (bench/suite.ts) on the page's adapter, the
 * tables fill in as entries arrive, and the finished report (gradstorm.bench/1)
 * is published on window.__gradstormBench, kept in localStorage for the
 * adapter panel, and downloadable. The autotuner's table for this adapter
 * (localStorage, keyed by tuningKey) is shown below with a Retune button.
 */
import { renderAdapterBenchmarks } from './adapter-panel.ts';
import { loadSavedBench, saveBench } from './bench-store.ts';
import { RATIO_NOTE, benchTableElements, describeShapeClass, tuningTableElement } from './bench-view.ts';
import { $, $input, h } from './dom.ts';
import {
  BASELINE_VARIANTS,
  BENCH_KERNELS,
  BENCH_SCHEMA,
  DEFAULT_ELEMENT_COUNTS,
  ENGINE_VERSION,
  MATMUL_LAYOUTS,
  MODEL_SHAPES,
  PLAIN_JS_MAX_SIZE,
  TUNED_VARIANT,
  applyTuning,
  benchTables,
  benchTuningUses,
  benchVariantNames,
  computeRatios,
  defaultBenchPlan,
  ensureTuned,
  localStorageTuningStore,
  parseTuningTable,
  runBenchSuite,
  tuningKey,
  validateBenchReport,
  type BaselineVariant,
  type BenchEvent,
  type BenchKernel,
  type BenchPlan,
  type BenchReport,
  type GpuContext,
  type MatmulLayout,
  type MatmulUse,
  type TuningStore,
} from './engine.ts';
import { seconds } from './format.ts';
import type { BenchRunState, TuningState } from './publish.ts';
import { benchSettingsProblem, defaultBenchSettings, formatShapes, formatSizes, parseShapes, parseSizes, type BenchSettings } from './state.ts';
import { loadTfjsInPage } from './tfjs.ts';

/** What the view needs from the page around it (main.ts). */
export interface KernelsHost {
  /** The page's GPU context, once it has one. */
  context(): GpuContext | null;
  /** Another run (a training run, a sweep, the self-test) holds the GPU. */
  busy(): boolean;
  /** Marks the page busy while a benchmark or a retune runs, so nothing else times on the GPU meanwhile. */
  setBusy(busy: boolean): void;
  /** The settings of a run that starts: the page keeps them in the URL. */
  remember(settings: BenchSettings): void;
  /** An error in words (a lost device says so). */
  errorMessage(error: unknown): string;
}

const KERNEL_LABELS: Record<BenchKernel, string> = {
  matmul: 'matmul',
  relu: 'relu (GB/s)',
  reduce: 'gradient norm (GB/s)',
  'mlp-step': 'MLP training step',
  rnn: 'RNN BPTT step',
};

const BASELINE_LABELS: Record<BaselineVariant, string> = { 'tfjs-webgpu': 'TF.js WebGPU', 'plain-js': `plain JS (squares ≤ ${PLAIN_JS_MAX_SIZE})` };

/** The abort reason when Cancel is pressed: the suite (or the tuner) throws it at its next cell (candidate). */
class BenchCancelled extends Error {
  override name = 'BenchCancelled';
}

/** localStorage can be off (a sandboxed frame, a privacy setting): then nothing is kept, and the page says so. */
function openTuningStore(): TuningStore | null {
  try {
    const store = localStorageTuningStore();
    return {
      load: (key) => store.load(key),
      // Full or refused: save says false, and the choices still apply to this page.
      save: (table) => store.save(table),
      where: (key) => store.where(key),
    };
  } catch {
    return null;
  }
}

function checkboxes<T extends string>(root: HTMLElement, name: string, values: readonly T[], labels: (v: T) => string): void {
  root.replaceChildren(...values.map((v) => h('label', { class: 'check-inline' }, h('input', { type: 'checkbox', name, value: v }), ` ${labels(v)}`)));
}

function checked<T extends string>(name: string): T[] {
  return Array.from(document.querySelectorAll<HTMLInputElement>(`input[name="${name}"]`)).filter((i) => i.checked).map((i) => i.value as T);
}

function setChecked(name: string, values: readonly string[]): void {
  for (const input of Array.from(document.querySelectorAll<HTMLInputElement>(`input[name="${name}"]`))) input.checked = values.includes(input.value);
}

/** A report in progress: what has arrived so far, with its ratios, for the live tables. */
function partialReport(base: BenchReport): BenchReport {
  return { ...base, ratios: computeRatios(base.entries, base.baselines) };
}

export class KernelsView {
  private ctx: GpuContext | null = null;
  private software = false;
  private store: TuningStore | null = null;
  private runCounter = 0;
  private running = false;
  /** The run or retune in flight: Cancel aborts it, and the suite or tuner stops at its next cell or candidate. */
  private abort: AbortController | null = null;
  private report: BenchReport | null = null;
  /** Classes measured since the page loaded (highlighted in the table). */
  private readonly measured = new Set<string>();
  private tuning: TuningState = { key: '', where: '', source: 'none', table: null, retuning: false };
  private drawPending = false;

  constructor(private readonly host: KernelsHost) {}

  /** Builds the form (before the adapter is known: sized for a GPU until `attach` says otherwise). */
  init(): void {
    checkboxes($('bench-kernels'), 'bkernel', BENCH_KERNELS, (k) => KERNEL_LABELS[k]);
    checkboxes($('bench-layouts'), 'blayout', MATMUL_LAYOUTS, (l) => l);
    checkboxes($('bench-baselines'), 'bbaseline', BASELINE_VARIANTS, (b) => BASELINE_LABELS[b]);
    $input('bench-shapes').title = `all, none, or a comma list of model shapes (${MODEL_SHAPES.map((s) => s.name).join(', ')}) and layout:MxNxK (e.g. tn:256x256x64)`;
    $input('bench-variants').title = `comma list of: ${benchVariantNames().join(', ')} (${TUNED_VARIANT}: the autotuner’s choice for the shape’s class)`;
    this.fill(defaultBenchSettings(false));
    const form = $('bench-form');
    form.addEventListener('input', () => this.onFormChange());
    form.addEventListener('change', () => this.onFormChange());
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.run();
    });
    $('bench-cancel').addEventListener('click', () => {
      this.abort?.abort(new BenchCancelled('cancelled'));
      this.status('Cancelling after the measurement in flight…');
    });
    $('bench-download').addEventListener('click', () => this.download());
    $('tuning-retune').addEventListener('click', () => void this.retune());
  }

  /** The page has its adapter: software defaults, this adapter's tuning table (applied to ctx) and last report. */
  attach(ctx: GpuContext, settings: BenchSettings | null): void {
    this.ctx = ctx;
    this.software = ctx.summary.software;
    this.store = openTuningStore();
    this.fill(settings ?? defaultBenchSettings(this.software));
    if (this.software) {
      show('bench-note', `Emulated GPU: the defaults are sized for it (squares ${formatSizes(defaultBenchSettings(true).sizes)}, ${defaultBenchSettings(true).runs} runs, relu and the norm over 2²⁰ elements only). SwiftShader’s numbers say nothing about a GPU; plain JS often beats it.`);
    }
    this.loadTuning();
    if (this.tuning.table) applyTuning(ctx, this.tuning.table);
    this.renderTuning();
    this.renderAdapterSummary();
  }

  /** Run and Retune are enabled when the page has a GPU and nothing else runs. */
  setEnabled(enabled: boolean): void {
    const ok = enabled && !!this.ctx && !this.running;
    ($('bench-run') as HTMLButtonElement).disabled = !ok || !!this.formProblem();
    ($('tuning-retune') as HTMLButtonElement).disabled = !ok;
    ($('bench-cancel') as HTMLButtonElement).disabled = !this.running;
    ($('bench-download') as HTMLButtonElement).disabled = !this.report;
  }

  fill(s: BenchSettings): void {
    setChecked('bkernel', s.kernels);
    setChecked('blayout', s.layouts);
    setChecked('bbaseline', s.baselines);
    $input('bench-sizes').value = formatSizes(s.sizes);
    $input('bench-shapes').value = formatShapes(s.shapes);
    $input('bench-variants').value = s.variants.join(',');
    $input('bench-runs').value = String(s.runs);
    $input('bench-seconds').value = String(s.maxSeconds);
    this.onFormChange();
  }

  /** The form's settings, or what is wrong with them. */
  read(): BenchSettings | string {
    const sizes = parseSizes($input('bench-sizes').value);
    if (typeof sizes === 'string') return sizes;
    const shapes = parseShapes($input('bench-shapes').value);
    if (typeof shapes === 'string') return `shapes: ${shapes}`;
    const known = benchVariantNames();
    const variants = [...new Set($input('bench-variants').value.split(',').map((v) => v.trim()).filter((v) => v !== ''))];
    const unknown = variants.filter((v) => !known.includes(v));
    if (unknown.length) return `variants: ${unknown.join(', ')} unknown; choose from ${known.join(', ')}`;
    const settings: BenchSettings = {
      kernels: checked<BenchKernel>('bkernel'),
      sizes,
      shapes,
      layouts: checked<MatmulLayout>('blayout'),
      variants,
      baselines: checked<BaselineVariant>('bbaseline'),
      runs: Number($input('bench-runs').value),
      maxSeconds: Number($input('bench-seconds').value),
    };
    return benchSettingsProblem(settings) ?? settings;
  }

  private formProblem(): string | null {
    const s = this.read();
    return typeof s === 'string' ? s : null;
  }

  private onFormChange(): void {
    show('bench-error', this.formProblem());
    this.setEnabled(!this.host.busy());
  }

  /** The plan the suite runs for these settings (the CLI's, from its flags). */
  private plan(s: BenchSettings, retune: boolean): BenchPlan {
    return {
      ...defaultBenchPlan(ENGINE_VERSION),
      kernels: s.kernels,
      sizes: s.sizes,
      shapes: s.shapes,
      layouts: s.layouts,
      variants: s.variants,
      runs: s.runs,
      maxSeconds: s.maxSeconds,
      // 2²⁴ elements take SwiftShader seconds a pass; 2²⁰ already measures its bandwidth.
      elementCounts: this.software ? [1 << 20] : DEFAULT_ELEMENT_COUNTS,
      loadTfjs: s.baselines.includes('tfjs-webgpu') ? loadTfjsInPage : null,
      plainJs: s.baselines.includes('plain-js'),
      tuning: { store: this.store, retune, recheck: false },
    };
  }

  // -------------------------------------------------------------------------
  // A benchmark run

  async run(): Promise<void> {
    const ctx = this.ctx;
    if (!ctx || this.running || this.host.busy()) return;
    const settings = this.read();
    if (typeof settings === 'string') {
      show('bench-error', settings);
      return;
    }
    show('bench-error', null);
    this.host.remember(settings);
    const id = ++this.runCounter;
    const published: BenchRunState = { id, state: 'running', progress: '', events: 0, tuned: [] };
    window.__gradstormBench = published;
    this.running = true;
    const abort = (this.abort = new AbortController());
    this.host.setBusy(true);
    const started = performance.now();
    // What has arrived so far, for the tables while the run goes on (the suite returns the real report at the end).
    const { vendor, architecture, description, device, software, backend } = ctx.summary;
    const live: BenchReport = {
      schema: BENCH_SCHEMA,
      version: ENGINE_VERSION,
      adapter: { vendor, architecture, description, device, software, backend, timestampQuery: ctx.hasTimestamps },
      runs: settings.runs,
      maxSeconds: settings.maxSeconds,
      entries: [],
      baselines: [],
      ratios: [],
      skipped: [],
    };
    $('bench-results').replaceChildren();
    const tfjs = settings.baselines.includes('tfjs-webgpu') ? ' (TF.js loads on first use)' : '';
    this.status(`Starting${tfjs}…`);
    const onEvent = (event: BenchEvent) => {
      published.events++;
      const line = this.record(event, live, published);
      if (line) published.progress = line;
      this.status(`${published.progress} · ${published.events} event${published.events === 1 ? '' : 's'} · ${seconds(performance.now() - started)}`);
      this.scheduleLiveTables(live);
    };
    try {
      const report = await runBenchSuite(ctx, this.plan(settings, false), onEvent, { signal: abort.signal });
      // The page publishes and downloads the report as JSON: it must validate as such (NaN would not survive).
      const problem = validateBenchReport(JSON.parse(JSON.stringify(report)));
      if (problem) throw new Error(`the suite produced an invalid report (a bug): ${problem}`);
      this.report = report;
      this.renderReport(report, null);
      const failed = report.entries.filter((e) => e.withinTolerance === false).length;
      this.status(`Done in ${seconds(performance.now() - started)}: ${count(report.entries.length, 'entry', 'entries')}, ${count(report.baselines.length, 'baseline')}, ${report.skipped.length} skipped${failed ? ` — ${failed} FAILED the float64 check` : ''}.`, failed ? 'bad' : 'good');
      const saved = saveBench(tuningKey(ctx.summary), report);
      this.renderAdapterSummary(saved);
      published.report = report;
      published.state = 'done';
    } catch (error) {
      // The tables keep what was measured before the run ended.
      this.renderTables(partialReport(live));
      if (error instanceof BenchCancelled) {
        this.status(`Cancelled after ${seconds(performance.now() - started)}; the tables show what was measured.`);
        published.state = 'cancelled';
      } else {
        const message = this.host.errorMessage(error);
        show('bench-error', message);
        this.status('The benchmark run stopped.', 'bad');
        published.state = 'error';
        published.error = message;
      }
    } finally {
      this.running = false;
      // The suite saved what it measured; the table on screen follows the store.
      this.loadTuning();
      this.renderTuning();
      this.host.setBusy(false);
    }
  }

  /** Adds an event to the live report and the published state; returns the progress line it makes. */
  private record(event: BenchEvent, live: BenchReport, published: BenchRunState): string {
    switch (event.type) {
      case 'progress':
        return event.message;
      case 'entry':
        live.entries.push(event.entry);
        return `${event.entry.kernel} ${event.entry.shape} ${event.entry.variant}: ${event.entry.ms.toPrecision(3)} ms`;
      case 'baseline':
        live.baselines.push(event.baseline);
        return `${event.baseline.kernel} ${event.baseline.shape} ${event.baseline.variant}: ${event.baseline.ms.toPrecision(3)} ms`;
      case 'skipped':
        live.skipped.push(event.skipped);
        return `skipped ${event.skipped.kernel} ${event.skipped.shape} ${event.skipped.variant}`;
      case 'tuned':
        published.tuned.push(event.entry);
        this.measured.add(event.entry.shapeClass);
        return `autotuner: ${event.entry.shapeClass} → ${event.entry.variant}`;
    }
  }

  /** Redraws the tables at most once a frame while entries arrive. */
  private scheduleLiveTables(live: BenchReport): void {
    if (this.drawPending) return;
    this.drawPending = true;
    requestAnimationFrame(() => {
      this.drawPending = false;
      if (this.running) this.renderTables(partialReport(live));
    });
  }

  private renderTables(report: BenchReport): void {
    const tables = benchTables(report);
    $('bench-results').replaceChildren(...(report.ratios.length ? [h('p', { class: 'small' }, RATIO_NOTE)] : []), ...benchTableElements(tables));
  }

  /** A finished report (from this run or a file): its tables and what it was measured on. */
  private renderReport(report: BenchReport, fileName: string | null): void {
    this.renderTables(report);
    const a = report.adapter;
    const adapter = [a.vendor, a.architecture, a.description].filter((x) => x && x !== 'unknown').join(' ') || 'an unknown adapter';
    const tuned = report.tuning?.classes.length ? ` Tuned classes: ${report.tuning.classes.map((c) => `${c.shapeClass} → ${c.variant}${c.measured ? ' (measured in this run)' : ''}`).join('; ')}.` : '';
    $('bench-results').prepend(
      h('p', { class: 'small', id: 'bench-meta' },
        `${fileName ? `${fileName}: ` : ''}gradstorm ${report.version} on ${adapter}${a.software ? ' (software)' : ''}, ${a.backend}; median of ${report.runs} run${report.runs === 1 ? '' : 's'}, ${a.timestampQuery ? 'GPU timestamps' : 'wall clock'}; time budget ${report.maxSeconds} s.${tuned}`),
    );
  }

  /** A gradstorm.bench/1 file the user opened (main.ts has validated it). */
  showFile(report: BenchReport, name: string): void {
    if (this.running) return;
    this.report = report;
    this.renderReport(report, name);
    this.status(`Report ${name} (written by gradstorm bench${report.adapter.backend === 'dawn-node' ? ' in Node' : ''}).`);
    window.__gradstormBench = { id: this.runCounter, state: 'file', progress: '', events: 0, tuned: [], report, file: name };
    this.setEnabled(!this.host.busy());
    $('kernels').scrollIntoView();
  }

  private download(): void {
    if (!this.report) return;
    const blob = new Blob([`${JSON.stringify(this.report, null, 2)}\n`], { type: 'application/json' });
    const url = URL.createObjectURL(blob);
    const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
    const a = h('a', { href: url, download: `gradstorm-bench-${stamp}.json` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  private status(text: string, kind: 'good' | 'bad' | '' = ''): void {
    const el = $('bench-status');
    el.className = `status-line ${kind}`;
    el.textContent = text;
  }

  // -------------------------------------------------------------------------
  // The tuning table

  private loadTuning(): void {
    if (!this.ctx) return;
    const key = tuningKey(this.ctx.summary);
    const where = this.store?.where(key) ?? 'nowhere (localStorage is not available)';
    const stored = this.store?.load(key);
    const state: TuningState = { key, where, source: 'none', table: null, retuning: this.tuning.retuning };
    if (stored !== null && stored !== undefined) {
      const parsed = parseTuningTable(stored, key);
      if ('problem' in parsed) state.problem = parsed.problem;
      else {
        state.table = parsed;
        state.source = this.measured.size > 0 ? 'measured' : 'stored';
      }
    }
    this.tuning = state;
    window.__gradstormTuning = { ...state };
  }

  private renderTuning(): void {
    const t = this.tuning;
    const meta = $('tuning-meta');
    const table = t.table;
    const parts: (Node | string)[] = [];
    if (table) {
      const count = Object.keys(table.entries).length;
      parts.push(`${count} shape class${count === 1 ? '' : 'es'} for this adapter and engine ${table.engineVersion}, ${t.source === 'stored' ? 'read from' : 'saved to'} `, h('code', {}, t.where), `, updated ${new Date(table.updated).toLocaleString()}.`);
    } else {
      parts.push('No tuning table for this adapter yet: the first run that times the ', h('code', {}, TUNED_VARIANT), ' variant or a training step measures the classes it needs (a few seconds each on an emulated GPU) and keeps them in ', h('code', {}, t.where), '.');
    }
    if (t.problem) parts.push(` A stored table was set aside: ${t.problem}.`);
    meta.replaceChildren(...parts);
    $('tuning-results').replaceChildren(...(table && Object.keys(table.entries).length ? [tuningTableElement(table, this.measured)] : []));
  }

  /** Measures again the classes in the table and those the current settings need. */
  async retune(): Promise<void> {
    const ctx = this.ctx;
    if (!ctx || this.running || this.host.busy()) return;
    const settings = this.read();
    const uses: MatmulUse[] = typeof settings === 'string' ? [] : benchTuningUses(this.plan(settings, true));
    for (const e of Object.values(this.tuning.table?.entries ?? {})) uses.push({ layout: e.layout, shapes: [e.proxy] });
    if (uses.length === 0) {
      this.status(`Nothing to tune: the table is empty and the settings time neither the ${TUNED_VARIANT} variant nor a training step.`);
      return;
    }
    this.running = true;
    const abort = (this.abort = new AbortController());
    this.tuning.retuning = true;
    window.__gradstormTuning = { ...this.tuning };
    this.host.setBusy(true);
    const started = performance.now();
    let classText = '';
    try {
      const result = await ensureTuned(ctx, uses, {
        store: this.store,
        retune: true,
        signal: abort.signal,
        onClass: (shapeClass, i, total) => {
          classText = `Retuning ${shapeClass} (${describeShapeClass(shapeClass)}), class ${i + 1} of ${total}`;
          this.status(`${classText}…`);
        },
        onCandidate: (p) => {
          this.status(`${classText}: ${p.candidate} (${p.done + 1} of ${p.total}) · ${seconds(performance.now() - started)}`);
        },
      });
      for (const entry of result.tuned) this.measured.add(entry.shapeClass);
      this.status(`Retuned ${count(result.tuned.length, 'class', 'classes')} in ${seconds(performance.now() - started)}.`, 'good');
    } catch (error) {
      if (error instanceof BenchCancelled) this.status('Retune cancelled: the table keeps its earlier choices.');
      else {
        show('bench-error', this.host.errorMessage(error));
        this.status('Retune stopped.', 'bad');
      }
    } finally {
      this.running = false;
      this.tuning.retuning = false;
      this.loadTuning();
      this.renderTuning();
      this.host.setBusy(false);
    }
  }

  // -------------------------------------------------------------------------
  // The adapter panel's summary

  private renderAdapterSummary(saved = this.ctx ? loadSavedBench(tuningKey(this.ctx.summary)) : null): void {
    renderAdapterBenchmarks($('adapter-bench'), saved, () => $('kernels').scrollIntoView());
  }
}

function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function show(id: string, text: string | null): void {
  const el = $(id);
  el.hidden = !text;
  el.textContent = text ?? '';
}
