/**
 * The demo page: runs the engine on the page's own WebGPU adapter and shows
 * gradients exploding or vanishing as they happen (see index.html for the
 * layout, state.ts for presets and the URL, charts.ts and phase.ts for the views).
 */
import type { PhaseState } from './publish.ts';
import { $, $input, $select, h } from './dom.ts';
import { COLORS, sci, seconds, subscript } from './format.ts';
import {
  ConfigError,
  GpuUnavailableError,
  acquireGpu,
  formatClip,
  parseClip,
  runStress,
  validateMlpConfig,
  type GpuContext,
  type MlpConfig,
  type RunReport,
} from './engine.ts';
import { HeatmapChart, LayerChart, TrainingChart, firstNonfinite, type HeatMetric } from './charts.ts';
import { renderAdapterPanel } from './adapter-panel.ts';
import { PhaseDiagram, criticalGain, phasePlan, runPhaseSweep } from './phase.ts';
import { parseRunReport, predictionCurve, viewOfReport, type RunView } from './report-file.ts';
import { runSelfTest, type SelfTestState } from './selftest.ts';
import {
  PRESETS,
  SOFTWARE_CAPS,
  defaultPhaseGrid,
  fitToSoftware,
  formatList,
  parseList,
  presetById,
  readUrl,
  sameConfig,
  writeUrl,
  type PageState,
  type PhaseGrid,
  type Preset,
} from './state.ts';

// ---------------------------------------------------------------------------
// State

let ctx: GpuContext | null = null;
let busy = false;
let runCounter = 0;
let stopSweep = false;
/** Set by the Stop button: the live run throws StopRequested from its next onStep (the engine then releases the trainer). */
let stopRun = false;
let runInProgress = false;

class StopRequested extends Error {
  override name = 'StopRequested';
}
const state: PageState = {
  config: readUrl('', false).state.config,
  preset: null,
  fitSoftware: true,
  autorun: false,
  phase: null,
  autoPhase: false,
  selftest: false,
};

const charts = {
  layers: new LayerChart($('chart-layers')),
  heatmap: new HeatmapChart($('chart-heatmap'), $('heat-scale'), $('heat-readout')),
  training: new TrainingChart($('chart-training')),
};
const phase = new PhaseDiagram({ relu: $('phase-relu'), tanh: $('phase-tanh') }, $('phase-scale'), $('phase-readout'));

/** The view on screen (live or from a file) and its baseline (the clipping preset's run without clipping). */
let current: { view: RunView; baseline: RunView | null } | null = null;
let drawPending = false;

function publishCharts(): void {
  window.__gradstormCharts = { layerPoints: charts.layers.points, heatmapCells: charts.heatmap.cells, trainingPoints: charts.training.points };
}

/** Redraws on the next animation frame (at most once a frame, however many steps arrive). */
function scheduleDraw(): void {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => {
    drawPending = false;
    drawNow();
  });
}

function drawNow(): void {
  if (!current) return;
  charts.layers.update(current.view);
  charts.heatmap.update(current.view);
  charts.training.update(current.view, current.baseline);
  publishCharts();
}

function showView(view: RunView, baseline: RunView | null): void {
  current = { view, baseline };
  $('intro').hidden = true;
  show('training-note', view.config.steps === 1 && !baseline ? 'This run has one step (the gradients at initialization): set steps above 1 to watch training unfold here and in the heatmap.' : null);
  charts.layers.begin(view);
  charts.heatmap.begin(view);
  charts.training.begin(view, baseline);
  publishCharts();
}

// ---------------------------------------------------------------------------
// Messages

function show(id: string, text: string | null): void {
  const el = $(id);
  el.hidden = !text;
  el.textContent = text ?? '';
}

function setStatus(text: string): void {
  $('run-status').textContent = text;
}

function setBanner(kind: 'ok' | 'warn' | 'error', content: (Node | string)[]): void {
  const banner = $('banner');
  banner.className = `banner ${kind}`;
  banner.replaceChildren(...content);
}

function setBusy(value: boolean): void {
  busy = value;
  const enabled = !!ctx && !busy;
  for (const b of Array.from(document.querySelectorAll<HTMLButtonElement>('#presets button'))) b.disabled = !enabled;
  ($('run-button') as HTMLButtonElement).disabled = !enabled || !!formError();
  ($('phase-run') as HTMLButtonElement).disabled = !enabled;
  ($('stop-button') as HTMLButtonElement).disabled = !runInProgress;
}

// ---------------------------------------------------------------------------
// The form

const NUMBER_FIELDS = ['depth', 'width', 'batch', 'gain', 'biasStd', 'lr', 'steps', 'seed'] as const;

function fillForm(c: MlpConfig): void {
  for (const f of NUMBER_FIELDS) $input(f).value = String(c[f]);
  $select('activation').value = c.activation;
  $select('init').value = c.init;
  $select('loss').value = c.loss;
  $select('optimizer').value = c.optimizer;
  $select('clipKind').value = c.clip.kind;
  $input('clipThreshold').value = c.clip.kind === 'none' ? '1' : String(c.clip.threshold);
  $input('clipThreshold').disabled = c.clip.kind === 'none';
  $input('gain').disabled = c.init === 'he';
}

/** The form's config, or the message of what is wrong with it. */
function readForm(): { config: MlpConfig } | { error: string } {
  const n = (id: string) => Number($input(id).value);
  const clipKind = $select('clipKind').value;
  try {
    const clip = clipKind === 'none' ? parseClip('none') : parseClip(`${clipKind}:${$input('clipThreshold').value}`);
    const width = n('width');
    const config: MlpConfig = {
      ...state.config,
      model: 'mlp',
      depth: n('depth'),
      width,
      input: width,
      output: width,
      batch: n('batch'),
      activation: $select('activation').value as MlpConfig['activation'],
      init: $select('init').value as MlpConfig['init'],
      gain: n('gain'),
      biasStd: n('biasStd'),
      loss: $select('loss').value as MlpConfig['loss'],
      optimizer: $select('optimizer').value as MlpConfig['optimizer'],
      lr: n('lr'),
      steps: n('steps'),
      clip,
      seed: n('seed'),
    };
    return { config: validateMlpConfig(config) };
  } catch (error) {
    if (error instanceof ConfigError) return { error: error.message.replace(/^--([a-z-]+)/, '$1') };
    throw error;
  }
}

function formError(): string | null {
  const r = readForm();
  return 'error' in r ? r.error : null;
}

function syncUrl(): void {
  const url = `${location.pathname}${writeUrl(state)}${location.hash}`;
  history.replaceState(null, '', url);
}

function onFormChange(): void {
  const r = readForm();
  $input('clipThreshold').disabled = $select('clipKind').value === 'none';
  $input('gain').disabled = $select('init').value === 'he';
  if ('error' in r) {
    show('form-error', r.error);
  } else {
    show('form-error', null);
    state.config = r.config;
    const preset = presetById(state.preset);
    if (preset && !sameConfig(preset.config, r.config)) state.preset = null;
    updatePresetButtons();
    syncUrl();
  }
  setBusy(busy);
}

function updatePresetButtons(): void {
  for (const b of Array.from(document.querySelectorAll<HTMLButtonElement>('#presets button'))) b.classList.toggle('active', b.dataset.preset === state.preset);
}

function renderPresets(): void {
  $('presets').replaceChildren(
    ...PRESETS.map((p) => {
      const b = h('button', { type: 'button', 'data-preset': p.id, disabled: true }, p.title);
      b.addEventListener('click', () => void runPreset(p));
      return b;
    }),
    h('button', { type: 'button', class: 'disabled-preset', disabled: true, title: 'The RNN view comes with the RNN engine' }, 'RNN over 1000 steps: gain 1.05 against 0.95 (coming with the RNN engine)'),
  );
}

// ---------------------------------------------------------------------------
// Runs

function describeConfig(c: MlpConfig): string {
  const init = c.init === 'he' ? 'He init' : `${c.init} gain ${c.gain}`;
  return `MLP depth ${c.depth} × width ${c.width}, batch ${c.batch}, ${c.activation}, ${init}${c.biasStd ? `, σ_b ${c.biasStd}` : ''} · ${c.loss} loss, ${c.optimizer} lr ${c.lr}, clip ${formatClip(c.clip)}, ${c.steps} step${c.steps === 1 ? '' : 's'}, seed ${c.seed}`;
}

function fitted(config: MlpConfig): { config: MlpConfig; reductions: string[] } {
  if (ctx?.summary.software && state.fitSoftware) return fitToSoftware(config);
  return { config, reductions: [] };
}

/** Runs one config live: charts update every step; resolves with its report. */
async function liveRun(config: MlpConfig, label: string, baseline: RunView | null, phaseText: string): Promise<{ view: RunView; report: RunReport }> {
  if (!ctx) throw new GpuUnavailableError('no WebGPU adapter');
  const view: RunView = { label, config, steps: [], prediction: predictionCurve(config), verdict: null, adapter: adapterName(ctx), medianStepMs: null };
  showView(view, baseline);
  const start = performance.now();
  setStatus(`${phaseText}compiling kernels and initialising ${config.depth} layers…`);
  const { report } = await runStress(ctx, config, {
    onStep: (done, total, s) => {
      if (stopRun) throw new StopRequested(`stopped after step ${view.steps.length} of ${total}`);
      view.steps.push(s);
      const elapsed = performance.now() - start;
      setStatus(`${phaseText}step ${done} of ${total} · ‖g‖ ${sci(s.gradNorm)} · ${seconds(elapsed)} elapsed`);
      scheduleDraw();
    },
  });
  view.verdict = report.verdict;
  view.medianStepMs = report.timing?.medianStepMs ?? null;
  drawNow();
  return { view, report };
}

function adapterName(c: GpuContext): string {
  const s = c.summary;
  return [s.vendor, s.architecture, s.description].filter((x) => x && x !== 'unknown').join(' ') || 'unknown adapter';
}

async function runAction(requested: MlpConfig, preset: Preset | null): Promise<void> {
  if (!ctx || busy) return;
  stopRun = false;
  runInProgress = true;
  setBusy(true);
  const id = ++runCounter;
  const label = preset ? preset.title : 'custom run';
  window.__gradstormRun = { id, status: 'running', label };
  window.__gradstormRuns = [];
  show('run-error', null);
  renderStory(preset);
  $('verdict').hidden = true;
  const runs: { label: string; report: RunReport }[] = [];
  const started = performance.now();
  try {
    const main = fitted(requested);
    show('run-notice', main.reductions.length
      ? `Emulated GPU: sizes reduced to fit (${main.reductions.join(', ')}). This run: ${describeConfig(main.config)}. Untick “Size for the emulated GPU” to run the full size, slowly.`
      : null);
    let baselineView: RunView | null = null;
    if (preset?.baseline) {
      const b = fitted({ ...requested, ...preset.baseline.config }).config;
      const r = await liveRun(b, preset.baseline.label, null, `1/2 ${preset.baseline.label}: `);
      baselineView = r.view;
      runs.push({ label: preset.baseline.label, report: r.report });
    }
    const phaseText = preset?.baseline ? `2/2 with clip ${formatClip(main.config.clip)}: ` : '';
    const r = await liveRun(main.config, main.config.clip.kind === 'none' ? 'this run' : `with clip ${formatClip(main.config.clip)}`, baselineView, phaseText);
    runs.push({ label: r.view.label, report: r.report });
    renderVerdict(r.view, baselineView);
    window.__gradstormLastReport = r.report;
    window.__gradstormRuns = runs;
    setStatus(`Done in ${seconds(performance.now() - started)} on ${adapterName(ctx)}${ctx.summary.software ? ' (emulated)' : ''}.`);
    window.__gradstormRun = { id, status: 'done', label };
  } catch (error) {
    if (error instanceof StopRequested) {
      setStatus(`Stopped: ${error.message}. The charts show the steps that ran.`);
      window.__gradstormRun = { id, status: 'stopped', label };
    } else {
      const message = errorMessage(error);
      show('run-error', message);
      setStatus('The run stopped.');
      window.__gradstormRun = { id, status: 'error', label, error: message };
    }
  } finally {
    runInProgress = false;
    setBusy(false);
  }
}

function errorMessage(error: unknown): string {
  const e = error as Error;
  if (ctx?.lostError) return `The GPU device was lost (${ctx.lostError.message}). Reload the page to get a new one.`;
  return e?.message ?? String(error);
}

async function runPreset(p: Preset): Promise<void> {
  state.config = { ...p.config };
  state.preset = p.id;
  fillForm(state.config);
  show('form-error', null);
  updatePresetButtons();
  syncUrl();
  await runAction(state.config, p);
}

function renderStory(preset: Preset | null): void {
  const el = $('story');
  el.hidden = !preset;
  if (preset) el.replaceChildren(h('h3', {}, preset.title), h('p', {}, preset.story));
}

// ---------------------------------------------------------------------------
// The verdict card

function runFacts(view: RunView): { text: string; bad: boolean } {
  const flag = firstNonfinite(view);
  const n = view.steps.length;
  if (flag) return { text: `non-finite from step ${flag.step}${flag.layer ? `, layer ${flag.layer}` : ''} (of ${n})`, bad: true };
  return { text: `${n} step${n === 1 ? '' : 's'}, all finite`, bad: false };
}

function clipFacts(view: RunView): string {
  if (view.config.clip.kind === 'none') return 'off';
  const clipped = view.steps.filter((s) => s.clipScale < 1).length;
  return `${formatClip(view.config.clip)}: clipped at ${clipped} of ${view.steps.length} steps`;
}

function renderVerdict(view: RunView, baseline: RunView | null): void {
  const v = view.verdict;
  const el = $('verdict');
  el.hidden = false;
  if (!v) {
    el.replaceChildren(h('p', {}, 'No verdict.'));
    return;
  }
  const L = view.config.depth;
  const decades = (x: number | null | undefined) => (x === null || x === undefined ? '—' : `${x >= 0 ? '+' : ''}${x.toFixed(2)} decades`);
  const perLayer = (x: number | null | undefined) => (x === null || x === undefined ? '' : ` (${x >= 0 ? '+' : ''}${x.toFixed(4)} a layer)`);
  const predictedTotal = v.predictedGrowthPerLayer !== null && v.predictedGrowthPerLayer !== undefined ? v.predictedGrowthPerLayer * Math.max(0, L - 2) : null;
  const training = runFacts(view);
  const first = view.steps[0];
  const last = view.steps[view.steps.length - 1];
  const rows: [string, string, boolean?][] = [
    ['gradient at initialization', `‖δ₁‖ vs ‖δ${subscript(L - 1)}‖: ${decades(v.totalChangeDecades)}${perLayer(v.growthPerLayer)}`],
    [`theory (${v.predictionMethod})`, `${decades(predictedTotal)}${perLayer(v.predictedGrowthPerLayer)}`],
    ['training', training.text, training.bad],
    ['clipping', clipFacts(view)],
    ['loss', first && last ? `${sci(first.loss)} → ${sci(last.loss)}` : '—'],
    ['‖g‖', first && last ? `${sci(first.gradNorm)} → ${sci(last.gradNorm)}` : '—'],
    ['step time', view.medianStepMs !== null ? `${seconds(view.medianStepMs)} median · ${view.adapter}` : view.adapter],
  ];
  if (baseline) {
    const b = runFacts(baseline);
    rows.splice(3, 0, [baseline.label, `${b.text}; verdict ${baseline.verdict?.status ?? '—'}`, b.bad]);
  }
  el.replaceChildren(
    h('div', { class: 'verdict-head' },
      h('span', { class: `badge ${v.status}`, id: 'verdict-status' }, v.status),
      h('span', { class: 'verdict-reason' }, v.reason ?? ''),
    ),
    h('p', { class: 'small config-line' }, `${view.label === 'this run' || view.label.startsWith('with clip') ? '' : `${view.label}: `}${describeConfig(view.config)}`),
    h('dl', { class: 'facts' }, ...rows.flatMap(([k, text, bad]) => [h('dt', {}, k), h('dd', { class: bad ? 'bad' : '' }, text)])),
  );
}

// ---------------------------------------------------------------------------
// Report files

async function openReportFile(file: File): Promise<void> {
  const msg = $('file-message');
  msg.hidden = false;
  let text: string;
  try {
    text = await file.text();
  } catch (error) {
    msg.className = 'small error';
    msg.textContent = `Could not read ${file.name}: ${(error as Error).message}`;
    return;
  }
  const parsed = parseRunReport(text, file.name);
  window.__gradstormReportFile = { ok: parsed.ok, name: file.name, errors: parsed.ok ? [] : parsed.errors };
  if (!parsed.ok) {
    msg.className = 'small error';
    msg.replaceChildren(h('b', {}, `${file.name} is not a run report this page can show:`), h('ul', {}, ...parsed.errors.map((e) => h('li', {}, e))));
    return;
  }
  if (busy) {
    msg.className = 'small error';
    msg.textContent = 'A run is in progress: open the report when it has finished.';
    return;
  }
  msg.className = 'small ok';
  const withLayers = parsed.report.steps.filter((s) => s.layers.length > 0).length;
  const thinned = withLayers < parsed.report.steps.length ? ` Per-layer statistics were kept for ${withLayers} of the steps (the CLI bounds a report’s size); the heatmap leaves the others blank.` : '';
  msg.textContent = `Showing ${file.name}: ${parsed.report.steps.length} step(s), depth ${parsed.report.config.depth}, from ${parsed.view.adapter || 'an unknown adapter'}.${thinned}`;
  const view = viewOfReport(parsed.report, file.name);
  renderStory(null);
  show('run-notice', null);
  show('run-error', null);
  showView(view, null);
  drawNow();
  renderVerdict(view, null);
  setStatus(`Report ${file.name} (written by the CLI).`);
  window.__gradstormLastReport = parsed.report;
}

// ---------------------------------------------------------------------------
// Phase diagram

function fillPhaseForm(grid: PhaseGrid): void {
  $input('pgains').value = formatList(grid.gains);
  $input('pdepths').value = formatList(grid.depths);
  $input('pwidth').value = String(grid.width);
  $input('pbatch').value = String(grid.batch);
  $input('pbias').value = String(grid.biasStd);
}

function readPhaseForm(): PhaseGrid | string {
  const gains = parseList($input('pgains').value);
  if (!gains) return 'gains: use a:b:step (e.g. 0.6:2:0.2) or a comma list';
  const depths = parseList($input('pdepths').value, true);
  if (!depths || depths.some((d) => d < 3)) return 'depths: a comma list of integers ≥ 3';
  const width = Number($input('pwidth').value);
  const batch = Number($input('pbatch').value);
  const biasStd = Number($input('pbias').value);
  if (!Number.isInteger(width) || width < 1) return 'width: an integer ≥ 1';
  if (!Number.isInteger(batch) || batch < 1) return 'batch: an integer ≥ 1';
  if (!Number.isFinite(biasStd) || biasStd < 0 || biasStd > 10) return 'bias std: a number in [0, 10]';
  return { gains, depths, width, batch, biasStd, seed: 1 };
}

async function runSweep(): Promise<void> {
  if (!ctx || busy) return;
  const grid = readPhaseForm();
  if (typeof grid === 'string') {
    show('phase-error', grid);
    return;
  }
  show('phase-error', null);
  state.phase = grid;
  syncUrl();
  setBusy(true);
  stopSweep = false;
  ($('phase-stop') as HTMLButtonElement).disabled = false;
  const total = phasePlan(grid).length;
  const published: PhaseState = { running: true, done: 0, total, points: [] };
  window.__gradstormPhase = published;
  phase.begin(grid);
  const start = performance.now();
  const status = $('phase-status');
  status.textContent = `0 of ${total} networks…`;
  try {
    await runPhaseSweep(
      ctx,
      grid,
      (point, done) => {
        published.points.push(point);
        published.done = done;
        phase.set(point);
        const left = ((performance.now() - start) / done) * (total - done);
        status.textContent = `${done} of ${total} networks · ~${seconds(left)} left`;
      },
      () => stopSweep,
    );
    status.textContent = `${published.done} of ${total} networks in ${seconds(performance.now() - start)}${stopSweep ? ' (stopped)' : ''}. Critical gains: ReLU ${criticalGain('relu', grid.biasStd).toFixed(3)}, tanh ${criticalGain('tanh', grid.biasStd).toFixed(3)}.`;
  } catch (error) {
    const message = errorMessage(error);
    published.error = message;
    show('phase-error', message);
  } finally {
    published.running = false;
    ($('phase-stop') as HTMLButtonElement).disabled = true;
    setBusy(false);
  }
}

// ---------------------------------------------------------------------------
// Self-test

function renderSelfTest(s: SelfTestState): void {
  window.__gradstormSelfTest = { ...s, results: [...s.results] };
  const status = $('selftest-status');
  status.className = `status-line ${s.done ? (s.failed ? 'bad' : 'good') : ''}`;
  status.textContent = s.done
    ? `${s.failed ? 'FAILED' : 'PASSED'}: ${s.passed} passed, ${s.failed} failed of ${s.total} (${s.scope}) in ${seconds(s.ms)}${s.error ? ` — stopped: ${s.error}` : ''}`
    : `Running ${s.results.length} of ${s.total} (${s.scope})…`;
  if (!s.done && s.results.length % 10 !== 0) return;
  const failedFirst = [...s.results].sort((a, b) => Number(a.ok) - Number(b.ok));
  $('selftest-results').replaceChildren(
    h('table', { class: 'results-table' },
      h('thead', {}, h('tr', {}, h('th', {}, 'kernel'), h('th', {}, 'shape'), h('th', {}, 'max |Δ|'), h('th', {}, 'result'), h('th', {}, 'contract'), h('th', {}, 'ms'))),
      h('tbody', {}, ...failedFirst.map((r) => h('tr', { class: r.ok ? '' : 'fail' },
        h('td', {}, r.kernel), h('td', {}, r.shape), h('td', {}, sci(r.maxError)), h('td', {}, r.ok ? 'pass' : `FAIL ${r.detail}`), h('td', { class: 'small' }, r.contract), h('td', {}, String(Math.round(r.ms))),
      ))),
    ),
  );
}

async function runSelfTestNow(): Promise<void> {
  if (!ctx) return;
  const section = $('selftest');
  section.hidden = false;
  section.scrollIntoView();
  setBusy(true);
  try {
    await runSelfTest(ctx, renderSelfTest);
  } finally {
    setBusy(false);
  }
}

// ---------------------------------------------------------------------------
// Start

function noGpuBanner(reason: string): void {
  const message = `No WebGPU here: ${reason}`;
  window.__gradstormGpu = { available: false, software: false, message };
  setBanner('error', [
    h('b', {}, 'This browser gives the page no WebGPU adapter, so it cannot run the engine. '),
    h('span', {}, reason),
    h('br'),
    h('span', {}, 'What to do: use Chrome or Edge 113+ (or Safari 26, Firefox 141+) on a machine with a GPU. On Linux start Chrome with '),
    h('code', {}, '--enable-unsafe-webgpu --enable-features=Vulkan'),
    h('span', {}, ', and without a GPU add '),
    h('code', {}, '--use-webgpu-adapter=swiftshader'),
    h('span', {}, '. Or run the same test in Node — '),
    h('code', {}, 'npx gradstorm stress --depth 200 --gain 1.8 --json run.json'),
    h('span', {}, ' — and open run.json here: reports work without WebGPU.'),
  ]);
  setStatus('Without WebGPU this page can still show a report written by the CLI (Open JSON report…).');
}

async function start(): Promise<void> {
  renderPresets();
  fillForm(state.config);
  fillPhaseForm(defaultPhaseGrid(false));
  $('config-form').addEventListener('input', onFormChange);
  $('config-form').addEventListener('change', onFormChange);
  $('config-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const r = readForm();
    if ('config' in r) void runAction(r.config, presetById(state.preset) ?? null);
  });
  $('share-button').addEventListener('click', () => {
    syncUrl();
    const done = () => ($('share-button').textContent = 'Link copied');
    const fallback = () => setStatus(`Link to this view: ${location.href}`);
    if (navigator.clipboard) navigator.clipboard.writeText(location.href).then(done, fallback);
    else fallback();
    setTimeout(() => ($('share-button').textContent = 'Copy link'), 2000);
  });
  $input('fitSoftware').addEventListener('change', () => {
    state.fitSoftware = $input('fitSoftware').checked;
    syncUrl();
  });
  $select('heat-metric').addEventListener('change', () => charts.heatmap.setMetric($select('heat-metric').value as HeatMetric));
  $input('report-file').addEventListener('change', () => {
    const file = $input('report-file').files?.[0];
    if (file) void openReportFile(file);
    $input('report-file').value = '';
  });
  document.addEventListener('dragover', (e) => e.preventDefault());
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    const file = e.dataTransfer?.files[0];
    if (file) void openReportFile(file);
  });
  $('phase-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void runSweep();
  });
  $('phase-stop').addEventListener('click', () => (stopSweep = true));
  $('stop-button').addEventListener('click', () => {
    stopRun = true;
    setStatus('Stopping after the step in flight…');
  });

  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) {
    noGpuBanner('navigator.gpu is undefined (WebGPU is off, or the page is not served over https or from localhost).');
    applyUrl(false);
    return;
  }
  try {
    ctx = await acquireGpu();
  } catch (error) {
    noGpuBanner((error as Error).message);
    applyUrl(false);
    return;
  }
  const software = ctx.summary.software;
  const name = adapterName(ctx);
  window.__gradstormGpu = { available: true, software, message: name };
  if (software) {
    setBanner('warn', [
      h('b', {}, `Emulated GPU: ${name}. `),
      h('span', {}, `WebGPU runs on the CPU here (SwiftShader), a hundred times slower than a GPU, so the page sizes models down (depth ≤ ${SOFTWARE_CAPS.depth}, width ≤ ${SOFTWARE_CAPS.width}, batch ≤ ${SOFTWARE_CAPS.batch}, steps ≤ ${SOFTWARE_CAPS.steps}) and says so with each run. On a machine with a GPU, the presets run at full size.`),
    ]);
    $('fit-row').hidden = false;
    $('fit-text').textContent = `Size for the emulated GPU (depth ≤ ${SOFTWARE_CAPS.depth}, width ≤ ${SOFTWARE_CAPS.width}, batch ≤ ${SOFTWARE_CAPS.batch}, steps ≤ ${SOFTWARE_CAPS.steps})`;
  } else {
    setBanner('ok', [h('b', {}, `WebGPU adapter: ${name}`), h('span', {}, ` (${ctx.summary.backend}).`)]);
  }
  void ctx.device.lost.then((info) => {
    if (info.reason === 'destroyed') return;
    setBanner('error', [h('b', {}, 'The GPU device was lost. '), h('span', {}, `${info.message || info.reason}. Reload the page to start again.`)]);
  });
  renderAdapterPanel($('adapter-panel'), ctx);
  setBusy(false);
  await applyUrl(software);
}

/** Restores the URL's state and starts what it asks for (self-test, run, sweep). */
async function applyUrl(software: boolean): Promise<void> {
  const { state: s, problems } = readUrl(location.search, software);
  Object.assign(state, s);
  fillForm(state.config);
  $input('fitSoftware').checked = state.fitSoftware;
  updatePresetButtons();
  fillPhaseForm(state.phase ?? defaultPhaseGrid(software));
  if (problems.length) show('run-notice', `Some of the link’s settings were not understood: ${problems.join('; ')}.`);
  if (!ctx) return;
  if (state.selftest) {
    await runSelfTestNow();
    return;
  }
  if (state.autorun) {
    const preset = presetById(state.preset);
    if (preset) await runPreset(preset);
    else await runAction(state.config, null);
  }
  if (state.autoPhase) {
    $('phase').scrollIntoView();
    await runSweep();
  }
}

// Colours used in the CSS too (kept in one place).
document.documentElement.style.setProperty('--c-delta', COLORS.delta);
document.documentElement.style.setProperty('--c-nonfinite', COLORS.nonfinite);

void start();
