/**
 * The demo page: runs the engine on the page's own WebGPU adapter and shows
 * gradients exploding or vanishing as they happen, through the layers of an
 * MLP or the timesteps of an RNN or LSTM (see index.html for the layout, state.ts for
 * presets and the URL, run-view.ts for what the charts show, charts.ts and
 * phase.ts for the views).
 */
import type { PhaseState } from './publish.ts';
import { $, $input, $select, h } from './dom.ts';
import { COLORS, sci, seconds, subscript } from './format.ts';
import {
  ConfigError,
  GpuUnavailableError,
  acquireGpu,
  describeVerdicts,
  formatClip,
  parseClip,
  runLstmStress,
  runRnnStress,
  runStress,
  trainingStatusText,
  validateLstmConfig,
  validateMlpConfig,
  validateRnnConfig,
  type GpuContext,
  type LstmConfig,
  type MlpConfig,
  type NormPlace,
  type RnnConfig,
} from './engine.ts';
import { HeatmapChart, ProfileChart, TrainingChart, drawListeners, heatMetrics, type HeatMetric } from './charts.ts';
import { renderAdapterPanel } from './adapter-panel.ts';
import { PhaseDiagram, criticalGain, phasePlan, runPhaseSweep } from './phase.ts';
import { KernelsView } from './kernels.ts';
import { parseBenchReportFile, parseRunReport } from './report-file.ts';
import { firstNonfinite, liveView, lstmViewStep, mlpViewStep, rnnViewStep, unitOf, viewOfReport, type AnyRunReport, type LstmRunView, type MlpRunView, type PositionNorms, type RnnRunView, type RunView, type ViewStep } from './run-view.ts';
import { runSelfTest, type SelfTestState } from './selftest.ts';
import {
  PRESETS,
  defaultConfig,
  defaultLstmConfig,
  defaultPhaseGrid,
  defaultRnnConfig,
  describeSoftwareCaps,
  fitToSoftware,
  formatList,
  parseList,
  presetById,
  readUrl,
  sameConfig,
  sameNetwork,
  withRnnShape,
  writeUrl,
  type ModelConfig,
  type ModelKind,
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
  configInUrl: false,
  preset: null,
  fitSoftware: true,
  autorun: false,
  phase: null,
  autoPhase: false,
  bench: null,
  autoBench: false,
  selftest: false,
};

const charts = {
  profile: new ProfileChart($('chart-profile')),
  heatmap: new HeatmapChart($('chart-heatmap'), $('heat-scale'), $('heat-readout')),
  training: new TrainingChart($('chart-training')),
};
const kernels = new KernelsView({
  context: () => ctx,
  busy: () => busy,
  setBusy: (value) => setBusy(value),
  remember: (settings) => {
    state.bench = settings;
    syncUrl();
  },
  errorMessage: (error) => errorMessage(error),
});
const phase = new PhaseDiagram({ relu: $('phase-relu'), tanh: $('phase-tanh') }, $('phase-scale'), $('phase-readout'));

/** The view on screen (live or from a file) and its baseline (the clipping preset's run without clipping, the RNN preset's gain 0.95). */
let current: { view: RunView; baseline: RunView | null } | null = null;
let drawPending = false;

/** The baseline as a second network on the profile chart: only when it differs at initialization (not for a clipping comparison). */
function compared(view: RunView, baseline: RunView | null): RunView | null {
  return baseline && !sameNetwork(view.config, baseline.config) ? baseline : null;
}

function publishCharts(): void {
  window.__gradstormCharts = {
    profilePoints: charts.profile.points,
    comparePoints: charts.profile.comparePoints,
    cellPoints: charts.profile.cellPoints,
    theoryPoints: charts.profile.theoryPoints,
    theoryGapDecades: charts.profile.theoryGap,
    heatmapCells: charts.heatmap.cells,
    trainingPoints: charts.training.points,
    yTicks: {
      profile: charts.profile.ticks(),
      heatmap: charts.heatmap.ticks(),
      training: charts.training.ticks(1),
      trainingLoss: charts.training.ticks(2),
      phaseRelu: phase.ticks().relu,
      phaseTanh: phase.ticks().tanh,
    },
  };
}
drawListeners.add(publishCharts);

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
  charts.profile.update(current.view, compared(current.view, current.baseline));
  charts.heatmap.update(current.view);
  charts.training.update(current.view, current.baseline);
  publishCharts();
}

function showView(view: RunView, baseline: RunView | null): void {
  current = { view, baseline };
  $('intro').hidden = true;
  describeFigures(view, compared(view, baseline));
  show('training-note', view.config.steps === 1 ? 'This run has one step (the gradients at initialization): set steps above 1 to watch training unfold here and in the heatmap.' : null);
  charts.profile.begin(view, compared(view, baseline));
  charts.heatmap.begin(view);
  $select('heat-metric').replaceChildren(...heatMetrics(view).map((m) => h('option', { value: m.value, selected: m.value === charts.heatmap.metric }, m.label)));
  charts.training.begin(view, baseline);
  publishCharts();
}

/** Titles and captions of the figures follow the model: layers of an MLP, timesteps of an RNN or LSTM. */
function describeFigures(view: RunView, compare: RunView | null): void {
  const rnn = view.model !== 'mlp';
  $('profile-title').textContent = rnn ? 'Gradient norm per timestep' : 'Gradient norm per layer';
  $('profile-caption').textContent = view.model === 'lstm'
    ? '‖∂L/∂hₜ‖ and the cell gradient ‖∂L/∂cₜ‖ of the latest step against the timestep t, on a log axis: the loss at t = T, backpropagation through time back to t = 1. The forget gates set the cell gradient’s rate: the verdict states the rate they predict beside the measured one.'
    : rnn
    ? '‖∂L/∂hₜ‖ of the latest step against the timestep t, on a log axis: backpropagation through time carries the gradient from the loss at t = T back to t = 1. Where the theory is exact (linear activation, orthogonal or identity W_hh, loss at the last step) its line is anchored at t = T.'
    : '‖δₗ‖ = ‖∂L/∂zₗ‖ (z: pre-activation) and ‖∂L/∂Wₗ‖ of the latest step, on a log axis, with the theory’s prediction anchored at layer L−1.';
  $('explain-mlp').hidden = rnn;
  $('explain-rnn').hidden = view.model !== 'rnn' && compare?.model !== 'rnn';
  $('explain-lstm').hidden = view.model !== 'lstm';
  const theory = $('profile-theory');
  theory.hidden = !rnn;
  if (view.model !== 'mlp') {
    const text = (v: RnnRunView | LstmRunView) =>
      v.model === 'lstm'
        ? v.verdict ? `Theory (forget gates): ${v.verdict.predictionNote}.` : 'Theory (forget gates): the rate of ‖∂L/∂cₜ‖ the measured forget gates predict, once the first step is in.'
        : v.prediction.predictedGrowthPerStep === null ? `No exact line: ${v.prediction.note}.` : `Theory: ${v.prediction.note}.`;
    const line = (v: RnnRunView | LstmRunView) => h('li', {}, compare ? h('b', {}, `${v.label}: `) : '', text(v));
    theory.replaceChildren(h('ul', {}, line(view), compare && compare.model !== 'mlp' ? line(compare) : null));
  }
  $('heat-title').textContent = `Heatmap: log₁₀ gradient norm, ${rnn ? 'timestep' : 'layer'} × step`;
  $('heat-caption').textContent = rnn ? 'Each column is one training step, each row one timestep (t = 1 at the bottom).' : 'Each column is one training step, each row one layer (input at the bottom).';
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
  kernels.setEnabled(enabled);
}

// ---------------------------------------------------------------------------
// The form

/** Fields every model has. */
const NUMBER_FIELDS = ['width', 'batch', 'gain', 'lr', 'steps', 'seed'] as const;

/** The last config of each model the form held: switching the model selector back and forth keeps both. */
const formConfigs: { mlp: MlpConfig; rnn: RnnConfig; lstm: LstmConfig } = { mlp: defaultConfig(), rnn: defaultRnnConfig(), lstm: defaultLstmConfig() };
/** The model the form shows. */
let formModel: ModelKind = 'mlp';

function remember(c: ModelConfig): void {
  if (c.model === 'mlp') formConfigs.mlp = c;
  else if (c.model === 'rnn') formConfigs.rnn = c;
  else formConfigs.lstm = c;
}

function fillForm(c: ModelConfig): void {
  remember(c);
  formModel = c.model;
  $select('model').value = c.model;
  for (const f of NUMBER_FIELDS) $input(f).value = String(c[f]);
  // An LSTM has no activation or σ_b: the hidden fields keep the RNN's.
  const withActivation = c.model === 'lstm' ? formConfigs.rnn : c;
  $select('activation').value = withActivation.activation;
  $input('biasStd').value = String(withActivation.biasStd);
  $select('optimizer').value = c.optimizer;
  $select('clipKind').value = c.clip.kind;
  $input('clipThreshold').value = c.clip.kind === 'none' ? '1' : String(c.clip.threshold);
  const mlp = formConfigs.mlp;
  $input('depth').value = String(mlp.depth);
  $input('residual').value = String(mlp.residual ?? 0);
  $select('norm').value = mlp.norm ?? 'none';
  $select('normPlace').value = mlp.normPlace ?? 'pre';
  $select('init').value = mlp.init;
  $select('loss').value = mlp.loss;
  const rnn = formConfigs.rnn;
  // T and the task belong to both recurrent models: the shown model's.
  const recurrent = c.model === 'lstm' ? formConfigs.lstm : rnn;
  $input('seqLen').value = String(recurrent.seqLen);
  $select('rnnInit').value = rnn.init;
  $select('task').value = recurrent.task;
  $input('forgetBias').value = String(formConfigs.lstm.forgetBias);
  $select('lossAt').value = rnn.lossAt;
  $input('bptt').value = rnn.bptt === 'full' ? '' : String(rnn.bptt);
  syncFormControls();
}

/** Shows the selected model's fields and enables what applies. */
function syncFormControls(): void {
  const model = $select('model').value;
  // data-model lists the models a field belongs to ("rnn lstm").
  for (const el of Array.from(document.querySelectorAll<HTMLElement>('[data-model]'))) el.hidden = !(el.dataset.model ?? '').split(' ').includes(model);
  $input('clipThreshold').disabled = $select('clipKind').value === 'none';
  $input('gain').disabled = model === 'mlp' && $select('init').value === 'he';
  $select('normPlace').disabled = $select('norm').value !== 'layer';
}

/** The form's config, or the engine's message of what is wrong with it. */
function readForm(): { config: ModelConfig } | { error: string } {
  const n = (id: string) => Number($input(id).value);
  const clipKind = $select('clipKind').value;
  try {
    const clip = clipKind === 'none' ? parseClip('none') : parseClip(`${clipKind}:${$input('clipThreshold').value}`);
    const every = {
      width: n('width'),
      batch: n('batch'),
      gain: n('gain'),
      optimizer: $select('optimizer').value as MlpConfig['optimizer'],
      lr: n('lr'),
      steps: n('steps'),
      clip,
      seed: n('seed'),
    };
    if ($select('model').value === 'lstm') {
      const config = withRnnShape<LstmConfig>({
        ...formConfigs.lstm,
        ...every,
        model: 'lstm',
        seqLen: n('seqLen'),
        forgetBias: n('forgetBias'),
        task: $select('task').value as LstmConfig['task'],
      });
      return { config: validateLstmConfig(config) };
    }
    const common = { ...every, activation: $select('activation').value as MlpConfig['activation'], biasStd: n('biasStd') };
    if ($select('model').value === 'mlp') {
      const config: MlpConfig = {
        ...formConfigs.mlp,
        ...common,
        model: 'mlp',
        depth: n('depth'),
        input: common.width,
        output: common.width,
        init: $select('init').value as MlpConfig['init'],
        loss: $select('loss').value as MlpConfig['loss'],
      };
      // A = 0 is the plain MLP: the field stays absent, as in its links and reports.
      const residual = n('residual');
      if (residual === 0) delete config.residual;
      else config.residual = residual;
      // norm none is the fields' absence, as in links and reports; the place only with a LayerNorm.
      if ($select('norm').value === 'layer') {
        config.norm = 'layer';
        config.normPlace = $select('normPlace').value as NormPlace;
      } else {
        delete config.norm;
        delete config.normPlace;
      }
      return { config: validateMlpConfig(config) };
    }
    const bpttText = $input('bptt').value.trim();
    const config = withRnnShape({
      ...formConfigs.rnn,
      ...common,
      model: 'rnn',
      seqLen: n('seqLen'),
      init: $select('rnnInit').value as RnnConfig['init'],
      task: $select('task').value as RnnConfig['task'],
      lossAt: $select('lossAt').value as RnnConfig['lossAt'],
      bptt: bpttText === '' || bpttText === 'full' ? 'full' : Number(bpttText),
    });
    return { config: validateRnnConfig(config) };
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
  const model = $select('model').value as ModelKind;
  // Switching the model brings back that model's last config.
  if (model !== formModel) fillForm(formConfigs[model]);
  syncFormControls();
  const r = readForm();
  if ('error' in r) {
    show('form-error', r.error);
  } else {
    show('form-error', null);
    remember(r.config);
    state.config = r.config;
    state.configInUrl = true;
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
  );
}

// ---------------------------------------------------------------------------
// Runs

function describeConfig(c: ModelConfig): string {
  const training = `${c.optimizer} lr ${c.lr}, clip ${formatClip(c.clip)}, ${c.steps} step${c.steps === 1 ? '' : 's'}, seed ${c.seed}`;
  if (c.model === 'lstm') return `LSTM T ${c.seqLen} × width ${c.width}, batch ${c.batch}, W_hh gaussian gain ${Number(c.gain.toPrecision(4))}, forget bias ${c.forgetBias} · ${c.task} task, loss at the last step, full BPTT, ${training}`;
  const bias = c.biasStd ? `, σ_b ${c.biasStd}` : '';
  if (c.model === 'rnn') {
    const bptt = c.bptt === 'full' ? 'full BPTT' : `BPTT truncated to ${c.bptt} steps`;
    return `RNN T ${c.seqLen} × width ${c.width}, batch ${c.batch}, ${c.activation}, W_hh ${c.init} gain ${c.gain}${bias} · ${c.task} task, loss at ${c.lossAt === 'last' ? 'the last step' : 'every step'}, ${bptt}, ${training}`;
  }
  const init = c.init === 'he' ? 'He init' : `${c.init} gain ${c.gain}`;
  const residual = c.residual ? `, residual A ${Number(c.residual.toPrecision(4))}${c.norm === 'layer' ? `, ${c.normPlace ?? 'pre'}-LayerNorm` : ''}` : '';
  return `MLP depth ${c.depth} × width ${c.width}, batch ${c.batch}, ${c.activation}, ${init}${bias}${residual} · ${c.loss} loss, ${training}`;
}

function fitted(config: ModelConfig): { config: ModelConfig; reductions: string[] } {
  if (ctx?.summary.software && state.fitSoftware) return fitToSoftware(config);
  return { config, reductions: [] };
}

/** Runs one config live: charts update every step; resolves with its report and the finished view. */
async function liveRun(config: ModelConfig, label: string, baseline: RunView | null, phaseText: string): Promise<{ view: RunView; report: AnyRunReport }> {
  if (!ctx) throw new GpuUnavailableError('no WebGPU adapter');
  const view = liveView(config, label, adapterName(ctx));
  showView(view, baseline);
  const start = performance.now();
  setStatus(`${phaseText}compiling kernels and initialising ${config.model === 'mlp' ? `${config.depth} layers` : `an ${config.model.toUpperCase()} over ${config.seqLen} timesteps`}…`);
  const onStep = (done: number, total: number, step: ViewStep) => {
    if (stopRun) throw new StopRequested(`stopped after step ${view.steps.length} of ${total}`);
    view.steps.push(step);
    setStatus(`${phaseText}step ${done} of ${total} · ‖g‖ ${sci(step.gradNorm)} · ${seconds(performance.now() - start)} elapsed`);
    scheduleDraw();
  };
  const report: AnyRunReport =
    config.model === 'mlp'
      ? (await runStress(ctx, config, { onStep: (done, total, s) => onStep(done, total, mlpViewStep(s)) })).report
      : config.model === 'rnn'
        ? (await runRnnStress(ctx, config, { onStep: (done, total, s) => onStep(done, total, rnnViewStep(s)) })).report
        : (await runLstmStress(ctx, config, { onStep: (done, total, s) => onStep(done, total, lstmViewStep(s)) })).report;
  const finished: RunView = { ...viewOfReport(report, label), adapter: view.adapter };
  if (current?.view === view) {
    current.view = finished;
    // The LSTM's theory line comes from the forget gates the run measured: say it now that it is known.
    describeFigures(finished, compared(finished, current.baseline));
  }
  drawNow();
  return { view: finished, report };
}

function adapterName(c: GpuContext): string {
  const s = c.summary;
  return [s.vendor, s.architecture, s.description].filter((x) => x && x !== 'unknown').join(' ') || 'unknown adapter';
}

async function runAction(requested: ModelConfig, preset: Preset | null): Promise<void> {
  if (!ctx || busy) return;
  stopRun = false;
  runInProgress = true;
  setBusy(true);
  const id = ++runCounter;
  state.configInUrl = true;
  const title = preset ? preset.title : 'custom run';
  window.__gradstormRun = { id, status: 'running', label: title };
  window.__gradstormRuns = [];
  show('run-error', null);
  renderStory(preset);
  $('verdict').hidden = true;
  const runs: { label: string; report: AnyRunReport }[] = [];
  const started = performance.now();
  try {
    const main = fitted(requested);
    show('run-notice', main.reductions.length
      ? `Emulated GPU: sizes reduced to fit (${main.reductions.join(', ')}). This run: ${describeConfig(main.config)}. Untick “Size for the emulated GPU” to run the full size, slowly.`
      : null);
    let baselineView: RunView | null = null;
    if (preset?.baseline) {
      const b = fitted(preset.baseline.config).config;
      const r = await liveRun(b, preset.baseline.label, null, `1/2 ${preset.baseline.label}: `);
      baselineView = r.view;
      runs.push({ label: preset.baseline.label, report: r.report });
    }
    const label = preset?.baseline ? (preset.label ?? 'this run') : 'this run';
    const r = await liveRun(main.config, label, baselineView, preset?.baseline ? `2/2 ${label}: ` : '');
    runs.push({ label, report: r.report });
    renderVerdict(r.view, baselineView, false);
    window.__gradstormLastReport = r.report;
    window.__gradstormRuns = runs;
    setStatus(`Done in ${seconds(performance.now() - started)} on ${adapterName(ctx)}${ctx.summary.software ? ' (emulated)' : ''}.`);
    window.__gradstormRun = { id, status: 'done', label: title };
  } catch (error) {
    if (error instanceof StopRequested) {
      setStatus(`Stopped: ${error.message}. The charts show the steps that ran.`);
      window.__gradstormRun = { id, status: 'stopped', label: title };
    } else {
      const message = errorMessage(error);
      show('run-error', message);
      setStatus('The run stopped.');
      window.__gradstormRun = { id, status: 'error', label: title, error: message };
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
  if (flag) return { text: `non-finite from step ${flag.step}${flag.position ? `, ${unitOf(view)} ${flag.position}` : ''} (of ${n})`, bad: true };
  return { text: `${n} step${n === 1 ? '' : 's'}, all finite`, bad: false };
}

function clipFacts(view: RunView): string {
  if (view.config.clip.kind === 'none') return 'off';
  const clipped = view.steps.filter((s) => s.clipScale < 1).length;
  return `${formatClip(view.config.clip)}: clipped at ${clipped} of ${view.steps.length} steps`;
}

const decades = (x: number | null | undefined) => (x === null || x === undefined ? '—' : `${x >= 0 ? '+' : ''}${x.toFixed(2)} decades`);
const rate = (x: number | null | undefined, per: string, digits: number) => (x === null || x === undefined ? '' : ` (${x >= 0 ? '+' : ''}${x.toFixed(digits)} a ${per})`);

/** The measured growth and the theory's, for an MLP. */
function mlpGrowthRows(view: MlpRunView): [string, string][] {
  const v = view.verdict;
  if (!v) return [];
  const L = view.config.depth;
  const predictedTotal = v.predictedGrowthPerLayer !== null && v.predictedGrowthPerLayer !== undefined ? v.predictedGrowthPerLayer * Math.max(0, L - 2) : null;
  return [
    ['gradient at initialization', `‖δ₁‖ vs ‖δ${subscript(L - 1)}‖: ${decades(v.totalChangeDecades)}${rate(v.growthPerLayer, 'layer', 4)}`],
    [`theory (${v.predictionMethod})`, `${decades(predictedTotal)}${rate(v.predictedGrowthPerLayer, 'layer', 4)}`],
    ...(v.predictedGrowthPerLayerFiniteWidth !== null && v.predictedGrowthPerLayerFiniteWidth !== undefined
      ? [[`theory at width ${view.config.width} (finite width, the line drawn)`, `${decades(v.predictedGrowthPerLayerFiniteWidth * Math.max(0, L - 2))}${rate(v.predictedGrowthPerLayerFiniteWidth, 'layer', 4)}`] as [string, string]]
      : []),
    // LayerNorm: the profile is not a straight line, and its size near the output is the point (Xiong et al. 2020).
    ...(v.profile
      ? [
          [`near the output: ‖δ${subscript(L - 1)}‖ vs ‖δ${subscript(L)}‖`, `measured ${decades(v.profile.measuredLog10OutputRatio)}, theory ${decades(v.profile.predictedLog10OutputRatio)}`] as [string, string],
          ['theory vs measured, per layer', `largest gap ${v.profile.maxGapDecades.toFixed(2)} decades (‖δ₁‖ vs ‖δ${subscript(L - 1)}‖: measured ${decades(v.profile.measuredLog10Ratio)}, theory ${decades(v.profile.predictedLog10Ratio)})`] as [string, string],
        ]
      : []),
  ];
}

/** The measured growth and the theory's (exact rate, or Pascanu's condition in words), for an RNN. */
function rnnGrowthRows(view: RnnRunView, name: string): [string, string][] {
  const v = view.verdict;
  if (!v) return [];
  const [first, T] = v.fittedTimesteps;
  const measured = `‖∂L/∂h${subscript(first)}‖ vs ‖∂L/∂h${subscript(T)}‖: ${decades(v.totalChangeDecades)}${rate(v.growthPerStep, 'step', 6)}`;
  const predicted = v.predictedGrowthPerStep;
  if (predicted === null || predicted === undefined) return [[`${name}gradient at initialization`, measured], [`${name}theory (Pascanu)`, v.predictionNote]];
  const gap = v.growthPerStep === null || v.growthPerStep === undefined ? '' : `; measured − theory ${sci(v.growthPerStep - predicted, 2)} a step`;
  return [
    [`${name}gradient at initialization`, measured],
    [`${name}theory (exact)`, `log₁₀(${view.config.gain}) = ${predicted >= 0 ? '+' : ''}${predicted.toFixed(6)} a step: ${decades(predicted * (T - first))}${gap}`],
  ];
}

/** The LSTM: ‖∂L/∂h_t‖ and ‖∂L/∂c_t‖ across the sequence, and the forget-gate theory of the cell gradient's rate. */
function lstmGrowthRows(view: LstmRunView, name: string): [string, string][] {
  const v = view.verdict;
  if (!v) return [];
  const [first, T] = v.fittedTimesteps;
  const theory = v.cellTheory;
  const record = view.steps[0]?.positions ?? [];
  const log = (x: number | null | undefined) => (x !== null && x !== undefined && x > 0 ? Math.log10(x) : null);
  // t = 1 against t = T over the whole sequence (the fit above stops where float32 ran out).
  const span = (pick: (p: PositionNorms) => number | null) => {
    const a = record.length ? log(pick(record[0])) : null;
    const b = record.length ? log(pick(record[record.length - 1])) : null;
    return a === null || b === null ? '— (exactly zero or non-finite at one end)' : decades(a - b);
  };
  const zeros = record.filter((p) => p.grad === 0).length;
  return [
    [`${name}gradient at initialization`, `‖∂L/∂h₁‖ vs ‖∂L/∂h${subscript(T)}‖: ${span((p) => p.grad)}${zeros ? ` (exactly zero at ${zeros} timesteps)` : ''}; ‖∂L/∂c₁‖ vs ‖∂L/∂c${subscript(T)}‖: ${span((p) => p.cellGrad)}`],
    [`${name}cell gradient ‖∂L/∂cₜ‖`, `fitted over t = ${first}..${T}: ${decades(v.totalChangeDecades)}${rate(theory.measuredGrowthPerStep, 'step', 4)}`],
    [`${name}theory (forget gates)`, v.predictionNote],
  ];
}

function renderVerdict(view: RunView, baseline: RunView | null, fromFile: boolean): void {
  const v = view.verdict;
  const el = $('verdict');
  el.hidden = false;
  if (!v) {
    el.replaceChildren(h('p', {}, 'No verdict.'));
    return;
  }
  const compare = compared(view, baseline);
  const growth = (x: RunView, name: string) => (x.model === 'mlp' ? mlpGrowthRows(x) : x.model === 'rnn' ? rnnGrowthRows(x, name) : lstmGrowthRows(x, name));
  const training = runFacts(view);
  const first = view.steps[0];
  const last = view.steps[view.steps.length - 1];
  const rows: [string, string, boolean?][] = [
    ...growth(view, compare ? `${view.label}: ` : ''),
    ...(compare ? growth(compare, `${compare.label}: `) : []),
    ['training', training.text, training.bad],
    ['clipping', clipFacts(view)],
    ['loss', first && last ? `${sci(first.loss)} → ${sci(last.loss)}` : '—'],
    ['‖g‖', first && last ? `${sci(first.gradNorm)} → ${sci(last.gradNorm)}` : '—'],
    ['step time', view.medianStepMs !== null ? `${seconds(view.medianStepMs)} median · ${view.adapter}` : view.adapter],
  ];
  if (baseline) {
    const b = runFacts(baseline);
    rows.splice(rows.findIndex(([k]) => k === 'training') + 1, 0, [`${baseline.label}: training`, `${b.text}; verdict ${baseline.verdict?.status ?? '—'}`, b.bad]);
  }
  const head = (x: RunView, id: string) =>
    h('div', { class: 'verdict-head' },
      h('span', { class: `badge ${x.verdict?.status ?? ''}`, id }, x.verdict?.status ?? '—'),
      compare ? h('b', {}, x.label) : null,
      h('span', { class: 'verdict-reason' }, x.verdict?.reason ?? ''),
    );
  // Two truths, two verdicts: the gradient at initialization, and what training did with it.
  const two = (x: RunView, id: string) => {
    const { init, training } = x.verdict ?? {};
    if (!init || !training) return null;
    // Reads as describeVerdicts' line: "gradient at init: exploding — training: rescued by clipping".
    return h('div', { class: 'verdict-two', id, 'aria-label': describeVerdicts({ status: x.verdict?.status ?? 'stable', init, training }), title: `${init.summary}\n${training.summary}` },
      h('span', {}, 'gradient at init: '),
      h('span', { class: `badge small ${init.status}`, 'data-verdict': 'init' }, init.status),
      h('span', {}, ' — training: '),
      h('span', { class: `badge small ${training.status}`, 'data-verdict': 'training' }, trainingStatusText(training.status)),
    );
  };
  const verdictRows = (x: RunView, name: string): [string, string, boolean?][] =>
    x.verdict?.init && x.verdict.training
      ? [[`${name}init verdict`, x.verdict.init.summary], [`${name}training verdict`, x.verdict.training.summary, x.verdict.training.status === 'diverged']]
      : [];
  rows.unshift(...verdictRows(view, compare ? `${view.label}: ` : ''), ...(compare ? verdictRows(compare, `${compare.label}: `) : []));
  el.replaceChildren(
    ...[head(view, 'verdict-status'), two(view, 'verdict-two'), ...(compare ? [head(compare, 'verdict-compare-status'), two(compare, 'verdict-compare-two')] : [])].filter((x) => x !== null),
    h('p', { class: 'small config-line' }, `${fromFile ? `${view.label}: ` : ''}${describeConfig(view.config)}`),
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
  /** Says why the file cannot be shown, error by error. */
  const refuse = (kind: string, errors: readonly string[]) => {
    msg.className = 'small error';
    msg.replaceChildren(h('b', {}, `${file.name} is not a ${kind} this page can show:`), h('ul', {}, ...errors.map((e) => h('li', {}, e))));
  };
  /** A valid report waits for the run in progress (its charts are in use). */
  const refusedWhileBusy = () => {
    if (!busy) return false;
    msg.className = 'small error';
    msg.textContent = 'A run is in progress: open the report when it has finished.';
    return true;
  };
  const bench = parseBenchReportFile(text);
  if (bench) {
    window.__gradstormReportFile = { ok: bench.ok, name: file.name, errors: bench.ok ? [] : bench.errors };
    if (!bench.ok) {
      refuse('benchmark report', bench.errors);
      show('bench-error', `${file.name} is not a benchmark report this page can show: ${bench.errors.join('; ')}`);
      return;
    }
    if (refusedWhileBusy()) return;
    msg.className = 'small ok';
    msg.textContent = `Showing ${file.name} (a benchmark report, ${bench.report.entries.length} entries) in the Kernels view.`;
    show('bench-error', null);
    kernels.showFile(bench.report, file.name);
    return;
  }
  const parsed = parseRunReport(text, file.name);
  window.__gradstormReportFile = { ok: parsed.ok, name: file.name, errors: parsed.ok ? [] : parsed.errors };
  if (!parsed.ok) {
    refuse('run report', parsed.errors);
    return;
  }
  if (refusedWhileBusy()) return;
  msg.className = 'small ok';
  const { view, report } = parsed;
  const withRows = view.steps.filter((s) => s.positions.length > 0).length;
  const rows = view.model === 'mlp' ? 'Per-layer' : 'Per-timestep';
  const thinned = withRows < view.steps.length ? ` ${rows} statistics were kept for ${withRows} of the steps (the CLI bounds a report’s size); the heatmap leaves the others blank.` : '';
  const size = view.model === 'mlp' ? `an MLP of depth ${view.config.depth}` : `an ${view.model.toUpperCase()} over T = ${view.config.seqLen} timesteps`;
  msg.textContent = `Showing ${file.name}: ${view.steps.length} step(s), ${size}, from ${view.adapter || 'an unknown adapter'}.${thinned}`;
  renderStory(null);
  show('run-notice', null);
  show('run-error', null);
  showView(view, null);
  drawNow();
  renderVerdict(view, null, true);
  setStatus(`Report ${file.name} (written by the CLI).`);
  window.__gradstormLastReport = report;
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
  kernels.init();
  fillForm(state.config);
  fillPhaseForm(defaultPhaseGrid(false));
  // Any action of the user's ends a bad link's notice (events from the page's own code do not fire these).
  for (const type of ['input', 'change', 'submit'] as const) document.addEventListener(type, dismissLinkProblems, true);
  $('presets').addEventListener('click', dismissLinkProblems, true);
  $('config-form').addEventListener('input', onFormChange);
  $('config-form').addEventListener('change', onFormChange);
  $('config-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const r = readForm();
    if ('config' in r) void runAction(r.config, presetById(state.preset) ?? null);
  });
  $('share-button').addEventListener('click', () => {
    state.configInUrl = true;
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
  for (const id of ['report-file', 'bench-file']) {
    $input(id).addEventListener('change', () => {
      const file = $input(id).files?.[0];
      if (file) void openReportFile(file);
      $input(id).value = '';
    });
  }
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
      h('span', {}, `WebGPU runs on the CPU here (SwiftShader), a hundred times slower than a GPU, so the page sizes models down (${describeSoftwareCaps()}) and says so with each run. On a machine with a GPU, the presets run at full size.`),
    ]);
    $('fit-row').hidden = false;
  } else {
    setBanner('ok', [h('b', {}, `WebGPU adapter: ${name}`), h('span', {}, ` (${ctx.summary.backend}).`)]);
  }
  void ctx.device.lost.then((info) => {
    if (info.reason === 'destroyed') return;
    setBanner('error', [h('b', {}, 'The GPU device was lost. '), h('span', {}, `${info.message || info.reason}. Reload the page to start again.`)]);
  });
  renderAdapterPanel($('adapter-panel'), ctx);
  kernels.attach(ctx, null);
  setBusy(false);
  await applyUrl(software);
}

/**
 * Lists what a link held that the page could not use, as text (never HTML:
 * the values come from the URL). It stays until the user acts: changes a
 * control, presses a Run button, picks a preset, opens a file.
 */
function showLinkProblems(problems: string[]): void {
  window.__gradstormLink = { problems: [...problems], blocked: problems.length > 0 };
  const el = $('link-notice');
  el.hidden = problems.length === 0;
  if (problems.length === 0) return el.replaceChildren();
  el.replaceChildren(
    h('b', {}, `This link was not understood, so nothing ran (${problems.length} problem${problems.length === 1 ? '' : 's'}):`),
    h('ul', {}, ...problems.map((p) => h('li', {}, p))),
    h('span', {}, 'The controls show the link’s valid settings and the defaults for the rest: change them, press Run or pick a preset.'),
  );
}

function dismissLinkProblems(): void {
  const el = $('link-notice');
  if (el.hidden) return;
  el.hidden = true;
  el.replaceChildren();
}

/** Restores the URL's state and starts what it asks for (self-test, run, sweep). */
async function applyUrl(software: boolean): Promise<void> {
  const { state: s, problems } = readUrl(location.search, software);
  Object.assign(state, s);
  fillForm(state.config);
  $input('fitSoftware').checked = state.fitSoftware;
  updatePresetButtons();
  fillPhaseForm(state.phase ?? defaultPhaseGrid(software));
  if (state.bench) kernels.fill(state.bench);
  showLinkProblems(problems);
  // A link not fully understood runs nothing: the form shows what it understood, the notice says the rest.
  if (!ctx || problems.length > 0) return;
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
  if (state.autoBench) {
    $('kernels').scrollIntoView();
    await kernels.run();
  }
}

// Colours used in the CSS too (kept in one place).
document.documentElement.style.setProperty('--c-delta', COLORS.delta);
document.documentElement.style.setProperty('--c-nonfinite', COLORS.nonfinite);

void start();
