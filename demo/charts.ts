/**
 * The run's views, drawn with uPlot, for either model: the gradient norm per
 * position (MLP layer or RNN timestep, see run-view.ts) against the theory
 * (log axis), a position × step heatmap of log10 norms (cells painted on
 * uPlot's canvas, so the axes are uPlot's), and loss and global gradient norm
 * over the steps with clip events and non-finite steps marked.
 *
 * Every chart is redrawn from a RunView; live runs append steps to the view
 * and call `update`, which coalesces redraws into one per animation frame.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { h } from './dom.ts';
import { COLORS, cssGradient, sci, viridis } from './format.ts';
import { decadeLabel, decadeRange, decadeTicks, formatLog10, linearExponent, log10OrNull, scaleDown, scaledLabel } from './log-axis.ts';
import { firstNonfinite, positionCount, theoryLine, unitOf, type PositionNorms, type RunView, type ViewStep } from './run-view.ts';

const HEIGHT = 280;
const AXIS_FONT = '12px system-ui, -apple-system, "Segoe UI", sans-serif';
const LABEL_FONT = '600 12px system-ui, -apple-system, "Segoe UI", sans-serif';
const AXIS_STROKE = '#495057';
const GRID = { stroke: '#e9ecef', width: 1 };
const TICKS = { stroke: '#ced4da', width: 1, size: 4 };
const INTEGER_INCRS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000];

function finiteOrNull(x: number | null): number | null {
  return x !== null && Number.isFinite(x) ? x : null;
}

/** The range of a log10 scale (whole decades); the charts plot log10 of every norm on a linear axis (log-axis.ts says why). */
function log10Range(_u: uPlot, min: number | null, max: number | null): uPlot.Range.MinMax {
  return decadeRange(min, max);
}

/** Ticks at whole decades, thinned to at most `maxTicks`. */
function log10Splits(maxTicks: number) {
  return (_u: uPlot, _axis: number, min: number, max: number): number[] => decadeTicks(min, max, maxTicks);
}

function log10Labels(_u: uPlot, splits: number[]): string[] {
  return splits.map(decadeLabel);
}

let measureContext: CanvasRenderingContext2D | null = null;

/** An axis wide enough for its widest tick label (10⁻³⁰⁰, -2.5×10⁴⁰): uPlot's default is a fixed 50 px. */
function fitLabels(min: number) {
  return (_u: uPlot, values: string[] | null): number => {
    if (!values || values.length === 0) return min;
    measureContext ??= document.createElement('canvas').getContext('2d');
    if (!measureContext) return min;
    measureContext.font = AXIS_FONT;
    const widest = Math.max(...values.map((v) => (v ? measureContext!.measureText(v).width : 0)));
    return Math.max(min, Math.ceil(widest) + TICKS.size + 5 + 6);
  };
}

/** Called after any chart of the page has drawn (uPlot draws in a microtask after setData): the page republishes its ticks. */
export const drawListeners = new Set<() => void>();

export function chartDrawn(): void {
  for (const listener of drawListeners) listener();
}

/**
 * The tick labels uPlot drew on an axis: none when it found no increment for
 * the range (`_found` space 0) or the scale has no data. What the page
 * publishes as `__gradstormCharts.yTicks` for tests.
 */
export function renderedTicks(u: uPlot | null, axisIndex: number): string[] {
  const axis = u?.axes[axisIndex] as (uPlot.Axis & { _found?: [number, number]; _values?: (string | number | null)[] | null; _show?: boolean }) | undefined;
  if (!u || !axis || axis.show === false || axis._show === false) return [];
  if (!axis._found || axis._found[1] === 0 || !axis._values) return [];
  return axis._values.filter((v) => v !== null && v !== '').map(String);
}

function integerLabels(_u: uPlot, splits: number[]): string[] {
  return splits.map((v) => (Number.isInteger(v) ? String(v) : ''));
}

function axis(label: string, extra: Partial<uPlot.Axis> = {}): uPlot.Axis {
  return { label, stroke: AXIS_STROKE, font: AXIS_FONT, labelFont: LABEL_FONT, grid: GRID, ticks: TICKS, ...extra };
}

/** A legend entry of a log10 series: the norm itself (3.16×10³⁰⁰). */
const legendLog10 = (_u: uPlot, v: number | null): string => (v === null || v === undefined ? '—' : formatLog10(v));

/** Draws a labelled vertical marker at x (data units) on a chart's plotting area. */
function marker(u: uPlot, x: number, text: string, color: string, dashed = true): void {
  const ctx = u.ctx;
  const px = u.valToPos(x, 'x', true);
  const { top, height, left, width } = u.bbox;
  if (px < left - 1 || px > left + width + 1) return;
  const dpr = uPlot.pxRatio;
  ctx.save();
  ctx.strokeStyle = color;
  ctx.lineWidth = 2 * dpr;
  if (dashed) ctx.setLineDash([6 * dpr, 4 * dpr]);
  ctx.beginPath();
  ctx.moveTo(px, top);
  ctx.lineTo(px, top + height);
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.font = `600 ${12 * dpr}px system-ui, sans-serif`;
  ctx.textAlign = 'left';
  const textWidth = ctx.measureText(text).width;
  const tx = px + 6 * dpr + textWidth > left + width ? px - 6 * dpr - textWidth : px + 6 * dpr;
  ctx.fillStyle = 'rgba(255,255,255,0.85)';
  ctx.fillRect(tx - 3 * dpr, top + 4 * dpr, textWidth + 6 * dpr, 17 * dpr);
  ctx.fillStyle = color;
  ctx.textBaseline = 'top';
  ctx.fillText(text, tx, top + 7 * dpr);
  ctx.restore();
}

/** Fills the plotting area between two x values (data units). */
function shade(u: uPlot, x0: number, x1: number, color: string): void {
  const { top, height, left, width } = u.bbox;
  const a = Math.max(left, u.valToPos(x0, 'x', true));
  const b = Math.min(left + width, u.valToPos(x1, 'x', true));
  if (b <= a) return;
  u.ctx.save();
  u.ctx.fillStyle = color;
  u.ctx.fillRect(a, top, b - a, height);
  u.ctx.restore();
}

/** Top-left note on a chart's plotting area. */
function note(u: uPlot, text: string, color: string): void {
  const ctx = u.ctx;
  const dpr = uPlot.pxRatio;
  const { top, left } = u.bbox;
  ctx.save();
  ctx.font = `600 ${12 * dpr}px system-ui, sans-serif`;
  ctx.textAlign = 'left';
  const w = ctx.measureText(text).width;
  ctx.fillStyle = 'rgba(255,255,255,0.9)';
  ctx.fillRect(left + 6 * dpr, top + 4 * dpr, w + 8 * dpr, 18 * dpr);
  ctx.fillStyle = color;
  ctx.textBaseline = 'top';
  ctx.fillText(text, left + 10 * dpr, top + 7 * dpr);
  ctx.restore();
}

/** Base for the three charts: owns one uPlot in a host element and resizes it with the page. */
abstract class Chart {
  protected plot: uPlot | null = null;
  private readonly resize: ResizeObserver;

  constructor(protected readonly host: HTMLElement) {
    this.resize = new ResizeObserver(() => {
      if (this.plot && this.host.clientWidth > 0 && Math.abs(this.plot.width - this.host.clientWidth) > 2) {
        this.plot.setSize({ width: this.host.clientWidth, height: HEIGHT });
      }
    });
    this.resize.observe(host);
  }

  protected width(): number {
    return Math.max(320, this.host.clientWidth || 600);
  }

  protected replace(options: Omit<uPlot.Options, 'width' | 'height'>, data: uPlot.AlignedData): void {
    this.plot?.destroy();
    this.host.replaceChildren();
    const hooks = { ...options.hooks, draw: [...(options.hooks?.draw ?? []), chartDrawn] };
    this.plot = new uPlot({ ...options, hooks, width: this.width(), height: HEIGHT }, data, this.host);
  }

  /** The labels uPlot drew on the chart's axis `index` (1: the left y axis, 2: a second y axis). */
  ticks(index = 1): string[] {
    return renderedTicks(this.plot, index);
  }

  destroy(): void {
    this.plot?.destroy();
    this.plot = null;
    this.host.replaceChildren();
  }
}

// ---------------------------------------------------------------------------
// How the charts name a model's positions and norms

const NAMES = {
  layer: {
    position: 'layer',
    axis: 'layer l  (1 = input side, L = readout)',
    heatAxis: 'layer l  (1 = input side)',
    grad: '‖δₗ‖',
    gradLong: '‖δₗ‖ = ‖∂L/∂zₗ‖',
    weight: '‖∂L/∂Wₗ‖',
    activation: '‖hₗ‖ activations',
    activationShort: '‖hₗ‖',
  },
  timestep: {
    position: 'timestep',
    axis: 'timestep t  (1 = first input, T = last)',
    heatAxis: 'timestep t  (1 = first input)',
    grad: '‖∂L/∂hₜ‖',
    gradLong: '‖∂L/∂hₜ‖',
    weight: '',
    activation: '‖hₜ‖ hidden state',
    activationShort: '‖hₜ‖',
  },
} as const;

/** The LSTM's second series: the cell gradient, the path the forget gates keep open. */
const CELL_NAME = '‖∂L/∂cₜ‖ cell';

type Column = () => (number | null)[];

/** The last (or first) step that has per-position rows. */
function stepWithRows(view: RunView | null, which: 'first' | 'latest'): ViewStep | undefined {
  if (!view) return undefined;
  if (which === 'first') return view.steps.find((s) => s.positions.length > 0);
  for (let i = view.steps.length - 1; i >= 0; i--) if (view.steps[i].positions.length > 0) return view.steps[i];
  return undefined;
}

function describeSpan(ps: number[]): string {
  return ps.length === 1 ? String(ps[0]) : `${ps[0]}–${ps[ps.length - 1]}`;
}

// ---------------------------------------------------------------------------
// Gradient norm per position (layer or timestep)

export class ProfileChart extends Chart {
  private view: RunView | null = null;
  /** Another network drawn beside the view (the RNN preset's other gain); null when runs differ only in training. */
  private compare: RunView | null = null;
  private shape = '';
  private columns: Column[] = [];
  private xs: number[] = [];
  /** Finite points of the view's headline norm (latest step). */
  points = 0;
  /** Finite points of the compared run's headline norm. */
  comparePoints = 0;
  /** Finite points of the view's LSTM cell gradient ‖∂L/∂c_t‖ (latest step); 0 for the other models. */
  cellPoints = 0;
  /** Points of the view's theory line. */
  theoryPoints = 0;
  /** Largest |log10 measured − log10 theory| over the view's positions at step 1 (decades); null without a line. */
  theoryGap: number | null = null;

  begin(view: RunView, compare: RunView | null): void {
    this.view = view;
    this.compare = compare;
    this.shape = shapeOf(view, compare);
    const names = NAMES[unitOf(view)];
    const multiStep = view.config.steps > 1;
    const series: uPlot.Series[] = [{ label: names.position, value: (_u, v) => (v === null ? '—' : String(v)) }];
    const columns: Column[] = [];
    const add = (s: uPlot.Series, column: Column) => {
      series.push({ scale: 'y', value: legendLog10, ...s });
      columns.push(column);
    };
    const of = (v: RunView) => (compare ? ` ${v.label}` : '');
    add(
      { label: multiStep ? `${names.grad}${of(view)} latest step` : `${names.gradLong}${of(view)}`, stroke: COLORS.delta, width: 2.5, spanGaps: false },
      () => this.column(this.view, 'latest', (p) => p.grad),
    );
    if (multiStep) add({ label: `${names.grad}${of(view)} step 1`, stroke: COLORS.deltaFirst, width: 1.5, dash: [4, 3] }, () => this.column(this.view, 'first', (p) => p.grad));
    if (view.model === 'mlp') add({ label: names.weight, stroke: COLORS.weightGrad, width: 2 }, () => this.column(this.view, 'latest', (p) => p.weightGrad));
    if (view.model === 'lstm') add({ label: `${CELL_NAME}${of(view)}`, stroke: COLORS.cellGrad, width: 2, spanGaps: false }, () => this.column(this.view, 'latest', (p) => p.cellGrad));
    const line = theoryLine(view);
    if (line) add({ label: `${line.label}${of(view)}`, stroke: COLORS.theory, width: 1.5, dash: [8, 5] }, () => this.theory(this.view));
    if (compare) {
      add({ label: `${names.grad} ${compare.label}`, stroke: COLORS.compare, width: 2.5, spanGaps: false }, () => this.column(this.compare, 'latest', (p) => p.grad));
      const compareLine = theoryLine(compare);
      if (compareLine) add({ label: `${compareLine.label} ${compare.label}`, stroke: COLORS.theory, width: 1.5, dash: [3, 4] }, () => this.theory(this.compare));
    }
    add({ label: names.activation, stroke: COLORS.activation, width: 1.5, show: false }, () => this.column(this.view, 'latest', (p) => p.activation));
    this.columns = columns;
    this.replace(
      {
        series,
        scales: { x: { time: false }, y: { range: log10Range } },
        axes: [
          axis(names.axis, { incrs: INTEGER_INCRS, values: integerLabels }),
          axis('Frobenius norm (log)', { splits: log10Splits(9), values: log10Labels, size: fitLabels(56) }),
        ],
        legend: { live: true },
        cursor: { drag: { x: true, y: false, setScale: true } },
        hooks: { draw: [(u) => this.drawFlags(u)] },
      },
      this.data(),
    );
  }

  update(view: RunView, compare: RunView | null = this.compare): void {
    if (!this.plot || shapeOf(view, compare) !== this.shape) return this.begin(view, compare);
    this.view = view;
    this.compare = compare;
    this.plot.setData(this.data());
  }

  /** log10 of a norm at every position (null: zero or non-finite, a gap). */
  private column(view: RunView | null, which: 'first' | 'latest', pick: (p: PositionNorms) => number | null): (number | null)[] {
    const s = stepWithRows(view, which);
    return this.xs.map((_, i) => {
      const p = s?.positions[i];
      return p ? log10OrNull(pick(p)) : null;
    });
  }

  /** The theory's line (log10), anchored at the measured norm of step 1 at the line's anchor position. */
  private theory(view: RunView | null): (number | null)[] {
    const line = view ? theoryLine(view) : null;
    const anchor = line ? log10OrNull(stepWithRows(view, 'first')?.positions[line.anchor - 1]?.grad) : null;
    return this.xs.map((_, i) => {
      const r = line?.relative[i];
      if (r === null || r === undefined || anchor === null) return null;
      const v = anchor + r;
      return Number.isFinite(v) ? v : null;
    });
  }

  private data(): uPlot.AlignedData {
    const n = this.view ? positionCount(this.view) : 0;
    if (this.xs.length !== n) this.xs = Array.from({ length: n }, (_, i) => i + 1);
    const data = this.columns.map((column) => column());
    const count = (column: (number | null)[]) => column.filter((v) => v !== null).length;
    this.points = count(this.column(this.view, 'latest', (p) => p.grad));
    this.comparePoints = this.compare ? count(this.column(this.compare, 'latest', (p) => p.grad)) : 0;
    this.cellPoints = this.view?.model === 'lstm' ? count(this.column(this.view, 'latest', (p) => p.cellGrad)) : 0;
    const theory = this.theory(this.view);
    const measured = this.column(this.view, 'first', (p) => p.grad);
    this.theoryPoints = count(theory);
    let gap: number | null = null;
    theory.forEach((t, i) => {
      const m = measured[i];
      if (t !== null && m !== null) gap = Math.max(gap ?? 0, Math.abs(m - t));
    });
    this.theoryGap = gap;
    return [this.xs, ...data];
  }

  private drawFlags(u: uPlot): void {
    const view = this.view;
    if (!view) return;
    const names = NAMES[unitOf(view)];
    for (const v of [this.compare, view]) {
      const flag = v ? firstNonfinite(v) : null;
      if (v && flag?.position) marker(u, flag.position, `${this.compare ? `${v.label}: ` : ''}non-finite: step ${flag.step}, ${names.position} ${flag.position}`, COLORS.nonfinite);
    }
    // Exact zeros have no place on a log axis: say where they are, and why when the config tells.
    const last = stepWithRows(view, 'latest');
    const zeros = last ? last.positions.filter((p) => p.grad === 0).map((p) => p.index) : [];
    if (!last || zeros.length === 0) return;
    const why =
      view.model === 'mlp'
        ? view.config.activation === 'relu' ? ': every ReLU there is off' : ''
        : view.model === 'rnn' && view.config.bptt !== 'full' ? `: beyond truncated BPTT’s reach (k = ${view.config.bptt})` : '';
    note(u, `step ${last.step}: ${names.grad} exactly 0 at ${zeros.length === 1 ? names.position : `${zeros.length} ${names.position}s`} ${describeSpan(zeros)}${why}`, COLORS.zero);
  }
}

/** What decides the chart's series: rebuilt when it changes. */
function shapeOf(view: RunView, compare: RunView | null): string {
  const one = (v: RunView) => `${v.model}:${positionCount(v)}:${v.label}:${theoryLine(v) !== null}`;
  return `${one(view)}:${view.config.steps > 1}|${compare ? one(compare) : '-'}`;
}

// ---------------------------------------------------------------------------
// Heatmap: position × step

export type HeatMetric = 'grad' | 'weight' | 'activation';

/** The heatmap's metrics for a model's positions, as the select offers them. */
export function heatMetrics(view: RunView): { value: HeatMetric; label: string }[] {
  const names = NAMES[unitOf(view)];
  return view.model === 'mlp'
    ? [{ value: 'grad', label: names.grad }, { value: 'weight', label: names.weight }]
    : [{ value: 'grad', label: names.grad }, { value: 'activation', label: names.activationShort }];
}

/** The heatmap's colour scale spans at least this many decades. */
const HEAT_MIN_SPAN = 2;

export class HeatmapChart extends Chart {
  private view: RunView | null = null;
  metric: HeatMetric = 'grad';
  cells = 0;
  private range: [number, number] = [0, 1];

  constructor(host: HTMLElement, private readonly scaleBar: HTMLElement, private readonly readout: HTMLElement) {
    super(host);
  }

  begin(view: RunView): void {
    this.view = view;
    if (!heatMetrics(view).some((m) => m.value === this.metric)) this.metric = 'grad';
    const steps = () => Math.max(1, this.view?.config.steps ?? 1, this.view?.steps.length ?? 1);
    const positions = () => Math.max(1, this.view ? positionCount(this.view) : 1);
    this.replace(
      {
        series: [{}, { label: 'cells', stroke: 'transparent', paths: () => null, points: { show: false } }],
        scales: {
          x: { time: false, auto: false, range: () => [0.5, steps() + 0.5] },
          y: { auto: false, range: () => [0.5, positions() + 0.5] },
        },
        axes: [
          axis('training step', { incrs: INTEGER_INCRS, values: integerLabels, grid: { show: false } }),
          axis(NAMES[unitOf(view)].heatAxis, { incrs: INTEGER_INCRS, values: integerLabels, grid: { show: false }, size: 56 }),
        ],
        legend: { show: false },
        cursor: { points: { show: false }, drag: { x: false, y: false, setScale: false } },
        hooks: {
          draw: [(u) => this.paint(u)],
          setCursor: [(u) => this.hover(u)],
        },
      },
      this.data(),
    );
    this.drawScale();
  }

  update(view: RunView): void {
    if (!this.plot || !this.view || unitOf(view) !== unitOf(this.view)) return this.begin(view);
    this.view = view;
    this.plot.setData(this.data());
    this.drawScale();
  }

  setMetric(metric: HeatMetric): void {
    this.metric = metric;
    if (this.view) this.update(this.view);
  }

  private raw(p: PositionNorms | undefined): number {
    if (!p) return NaN;
    return this.metric === 'grad' ? p.grad : this.metric === 'weight' ? (p.weightGrad ?? NaN) : p.activation;
  }

  private value(p: PositionNorms | undefined): number {
    const v = this.raw(p);
    return v === 0 ? -Infinity : Number.isFinite(v) && v > 0 ? Math.log10(v) : NaN;
  }

  private data(): uPlot.AlignedData {
    const view = this.view;
    let lo = Infinity;
    let hi = -Infinity;
    let cells = 0;
    for (const s of view?.steps ?? []) {
      for (const p of s.positions) {
        const v = this.value(p);
        if (Number.isFinite(v)) {
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
          cells++;
        }
      }
    }
    if (!Number.isFinite(lo)) [lo, hi] = [0, 1];
    // At least two decades of colour: a flat profile should look flat, not banded by a stretched scale.
    if (hi - lo < HEAT_MIN_SPAN) {
      const mid = (lo + hi) / 2;
      [lo, hi] = [mid - HEAT_MIN_SPAN / 2, mid + HEAT_MIN_SPAN / 2];
    }
    this.range = [lo, hi];
    this.cells = cells;
    const n = Math.max(1, view?.config.steps ?? 1);
    const xs = Array.from({ length: n }, (_, i) => i + 1);
    return [xs, xs.map(() => null)];
  }

  private paint(u: uPlot): void {
    const view = this.view;
    if (!view) return;
    const ctx = u.ctx;
    const [lo, hi] = this.range;
    const { left, top, width, height } = u.bbox;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    for (const s of view.steps) {
      const x0 = Math.round(u.valToPos(s.step - 0.5, 'x', true));
      const x1 = Math.round(u.valToPos(s.step + 0.5, 'x', true));
      for (const p of s.positions) {
        const y0 = Math.round(u.valToPos(p.index + 0.5, 'y', true));
        const y1 = Math.round(u.valToPos(p.index - 0.5, 'y', true));
        const v = this.value(p);
        ctx.fillStyle = Number.isFinite(v) ? viridis((v - lo) / (hi - lo)) : v === -Infinity ? COLORS.zero : COLORS.nonfinite;
        ctx.fillRect(x0, y0, Math.max(1, x1 - x0), Math.max(1, y1 - y0));
      }
    }
    ctx.restore();
    const flag = firstNonfinite(view);
    if (flag) marker(u, flag.step, `non-finite from step ${flag.step}${flag.position ? `, ${NAMES[unitOf(view)].position} ${flag.position}` : ''}`, COLORS.nonfinite, false);
  }

  private metricName(): string {
    const view = this.view;
    return view ? (heatMetrics(view).find((m) => m.value === this.metric)?.label ?? '') : '';
  }

  private hover(u: uPlot): void {
    const { left, top } = u.cursor;
    const view = this.view;
    if (!view || left === undefined || top === undefined || left < 0 || top < 0) {
      this.readout.textContent = 'Hover over the heatmap for a cell’s value.';
      return;
    }
    const step = Math.round(u.posToVal(left, 'x'));
    const index = Math.round(u.posToVal(top, 'y'));
    const where = `step ${step}, ${NAMES[unitOf(view)].position} ${index}`;
    const p = view.steps.find((x) => x.step === step)?.positions[index - 1];
    this.readout.textContent = p ? `${where}: ${this.metricName()} = ${sci(this.raw(p))}` : `${where}: not run yet`;
  }

  private drawScale(): void {
    const [lo, hi] = this.range;
    const fmt = (v: number) => (Math.abs(v) >= 10 ? v.toFixed(0) : v.toFixed(1));
    this.scaleBar.replaceChildren(
      h('span', { class: 'scale-label' }, `log₁₀ ${this.metricName()}`),
      h('span', { class: 'scale-end' }, fmt(lo)),
      h('span', { class: 'scale-bar', style: `background: ${cssGradient(viridis)}` }),
      h('span', { class: 'scale-end' }, fmt(hi)),
      h('span', { class: 'swatch', style: `background: ${COLORS.zero}` }),
      h('span', {}, 'exactly 0'),
      h('span', { class: 'swatch', style: `background: ${COLORS.nonfinite}` }),
      h('span', {}, 'non-finite'),
    );
  }
}

// ---------------------------------------------------------------------------
// Loss and global gradient norm over the steps

export class TrainingChart extends Chart {
  private view: RunView | null = null;
  private baseline: RunView | null = null;
  points = 0;
  /** The probe loss is plotted as loss / 10^k (log-axis.ts, linearExponent); 0 for mse, which is plotted as log10. */
  private lossExponent = 0;

  begin(view: RunView, baseline: RunView | null): void {
    this.view = view;
    this.baseline = baseline;
    const logLoss = view.config.loss === 'mse';
    const of = (v: RunView) => (baseline ? v.label : clipLabel(v));
    const lossLegend = (_u: uPlot, v: number | null): string => (v === null || v === undefined ? '—' : logLoss ? formatLog10(v) : scaledLabel(v, this.lossExponent));
    const series: uPlot.Series[] = [
      { label: 'step', value: (_u, v) => (v === null ? '—' : String(v)) },
      { label: `‖g‖ ${of(view)}`, stroke: COLORS.gradNorm, width: 2.5, scale: 'g', value: legendLog10 },
      { label: `loss ${of(view)}`, stroke: COLORS.loss, width: 2, scale: 'loss', value: lossLegend },
      {
        label: 'clipped (‖g‖ > C)',
        stroke: COLORS.clip,
        fill: COLORS.clip,
        scale: 'g',
        paths: () => null,
        points: { show: true, size: 9, stroke: COLORS.clip, fill: COLORS.clip },
        value: (_u, v) => (v === null ? '—' : 'clipped'),
      },
    ];
    if (baseline) {
      series.push(
        { label: `‖g‖ ${baseline.label}`, stroke: COLORS.baseline, width: 2, dash: [6, 4], scale: 'g', value: legendLog10 },
        { label: `loss ${baseline.label}`, stroke: '#b197fc', width: 1.5, dash: [6, 4], scale: 'loss', value: lossLegend },
      );
    }
    this.replace(
      {
        series,
        scales: {
          x: { time: false, range: () => this.stepRange() },
          g: { range: log10Range },
          loss: logLoss ? { range: log10Range } : { auto: true },
        },
        axes: [
          axis('training step', { incrs: INTEGER_INCRS, values: integerLabels }),
          axis('global gradient norm ‖g‖ (log)', { scale: 'g', splits: log10Splits(8), values: log10Labels, size: fitLabels(56) }),
          axis(logLoss ? 'loss (mse, log)' : 'loss (probe: Σ g⊙y)', {
            scale: 'loss',
            side: 1,
            grid: { show: false },
            size: fitLabels(56),
            ...(logLoss ? { splits: log10Splits(8), values: log10Labels } : { values: (_u: uPlot, splits: number[]) => splits.map((v) => scaledLabel(v, this.lossExponent, 2)) }),
          }),
        ],
        legend: { live: true },
        hooks: { draw: [(u) => this.drawFlags(u)] },
      },
      this.data(),
    );
  }

  update(view: RunView, baseline: RunView | null = this.baseline): void {
    const shapeChanged = (baseline === null) !== (this.baseline === null) || (this.view !== null && this.view.config.loss !== view.config.loss);
    this.view = view;
    this.baseline = baseline;
    if (!this.plot || shapeChanged) return this.begin(view, baseline);
    this.plot.setData(this.data());
  }

  private steps(): number {
    return Math.max(1, this.view?.config.steps ?? 1, this.baseline?.config.steps ?? 1);
  }

  private stepRange(): uPlot.Range.MinMax {
    const n = this.steps();
    return n === 1 ? [0.5, 1.5] : [1, n];
  }

  private data(): uPlot.AlignedData {
    const n = this.steps();
    const xs = Array.from({ length: n }, (_, i) => i + 1);
    const logLoss = this.view?.config.loss === 'mse';
    const col = (v: RunView | null, pick: (s: ViewStep) => number | null) => xs.map((_, i) => (v && v.steps[i] ? pick(v.steps[i]) : null));
    // ‖g‖ may be null (non-finite gradients): a gap, as zero and NaN are.
    const gradOf = (s: ViewStep) => log10OrNull(s.gradNorm as number | null);
    const lossOf = (s: ViewStep) => (logLoss ? log10OrNull(s.loss) : finiteOrNull(s.loss));
    const data: (number | null)[][] = [
      col(this.view, gradOf),
      col(this.view, lossOf),
      // Clip events only where clipping is on (a skipped non-finite step also has a clip scale below 1).
      col(this.view, (s) => (this.view?.config.clip.kind !== 'none' && s.clipScale < 1 ? gradOf(s) : null)),
    ];
    if (this.baseline) data.push(col(this.baseline, gradOf), col(this.baseline, lossOf));
    if (!logLoss) {
      // Signed values of any size: plot loss / 10^k, the labels carry the ×10ᵏ.
      this.lossExponent = linearExponent([...data[1], ...(data[4] ?? [])]);
      for (const i of [1, 4]) if (data[i]) data[i] = data[i].map((v) => (v === null ? null : scaleDown(v, this.lossExponent)));
    } else this.lossExponent = 0;
    this.points = data[0].filter((v) => v !== null).length;
    return [xs, ...data];
  }

  private drawFlags(u: uPlot): void {
    for (const v of [this.baseline, this.view]) {
      if (!v) continue;
      const flag = firstNonfinite(v);
      if (!flag) continue;
      const isBaseline = v === this.baseline;
      // Shade the steps from the first non-finite one on: their numbers are NaN, ∞ or meaningless.
      shade(u, flag.step - 0.5, Math.max(flag.step, v.steps[v.steps.length - 1]?.step ?? flag.step) + 0.5, isBaseline ? 'rgba(134,142,150,0.12)' : 'rgba(224,49,49,0.10)');
      const where = flag.position ? ` (${NAMES[unitOf(v)].position} ${flag.position})` : '';
      marker(u, flag.step, `${isBaseline ? `${v.label}: ` : ''}non-finite from step ${flag.step}${where}`, isBaseline ? '#868e96' : COLORS.nonfinite);
    }
  }
}

function clipLabel(view: RunView): string {
  return view.config.clip.kind === 'none' ? '' : `(clip ${view.config.clip.kind}:${view.config.clip.threshold})`;
}
