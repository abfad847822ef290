/**
 * The run's views, drawn with uPlot: per-layer gradient norms against the
 * theory (log axis), a layer × step heatmap of log10 ‖δ‖ or ‖∂L/∂W‖ (cells
 * painted on uPlot's canvas, so the axes are uPlot's), and loss and global
 * gradient norm over the steps with clip events and non-finite steps marked.
 *
 * Every chart is redrawn from a RunView; live runs append steps to the view
 * and call `update`, which coalesces redraws into one per animation frame.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { h } from './dom.ts';
import { COLORS, cssGradient, pow10, sci, viridis } from './format.ts';
import type { RunView } from './report-file.ts';
import type { StepStats } from './engine.ts';

const HEIGHT = 280;
const AXIS_FONT = '12px system-ui, -apple-system, "Segoe UI", sans-serif';
const LABEL_FONT = '600 12px system-ui, -apple-system, "Segoe UI", sans-serif';
const AXIS_STROKE = '#495057';
const GRID = { stroke: '#e9ecef', width: 1 };
const TICKS = { stroke: '#ced4da', width: 1, size: 4 };
const INTEGER_INCRS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000];

/** A positive finite number for a log axis, else null (a gap). */
function positive(x: number): number | null {
  return Number.isFinite(x) && x > 0 ? x : null;
}

function finiteOrNull(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

/** Log-axis range snapped out to whole decades. */
function decadeRange(_u: uPlot, min: number | null, max: number | null): uPlot.Range.MinMax {
  if (min === null || max === null || !(min > 0) || !(max > 0) || !Number.isFinite(min) || !Number.isFinite(max)) return [0.1, 10];
  let lo = Math.floor(Math.log10(min));
  let hi = Math.ceil(Math.log10(max));
  if (hi === lo) {
    lo -= 1;
    hi += 1;
  }
  return [10 ** lo, 10 ** hi];
}

/** Ticks at powers of ten only, thinned to at most `maxTicks`. */
function decadeSplits(maxTicks: number) {
  return (_u: uPlot, _axis: number, min: number, max: number): number[] => {
    const lo = Math.ceil(Math.log10(min) - 1e-9);
    const hi = Math.floor(Math.log10(max) + 1e-9);
    const n = hi - lo + 1;
    if (n <= 0) return [min, max];
    const step = Math.max(1, Math.ceil(n / maxTicks));
    const out: number[] = [];
    for (let k = Math.ceil(lo / step) * step; k <= hi; k += step) out.push(10 ** k);
    return out;
  };
}

function decadeLabels(_u: uPlot, splits: number[]): string[] {
  return splits.map((v) => (v > 0 ? pow10(Math.round(Math.log10(v))) : ''));
}

/** Shows every split we chose (uPlot's log axes otherwise thin labels by their own rule). */
function keepAll(_u: uPlot, splits: number[]): number[] {
  return splits;
}

function integerLabels(_u: uPlot, splits: number[]): string[] {
  return splits.map((v) => (Number.isInteger(v) ? String(v) : ''));
}

function axis(label: string, extra: Partial<uPlot.Axis> = {}): uPlot.Axis {
  return { label, stroke: AXIS_STROKE, font: AXIS_FONT, labelFont: LABEL_FONT, grid: GRID, ticks: TICKS, ...extra };
}

const legendValue = (_u: uPlot, v: number | null): string => (v === null || v === undefined ? '—' : sci(v));

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

/** Where a run first went non-finite: its step and the first layer holding a non-finite value. */
export function firstNonfinite(view: RunView): { step: number; layer: number | null } | null {
  for (const s of view.steps) {
    if (!Number.isFinite(s.loss) || !Number.isFinite(s.gradNorm) || s.nonfinite > 0) {
      const layer = s.nonfiniteLayer ?? s.layers.find((l) => (l.nonfinite ?? 0) > 0 || !Number.isFinite(l.deltaNorm))?.index ?? null;
      return { step: s.step, layer };
    }
  }
  return null;
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
    this.plot = new uPlot({ ...options, width: this.width(), height: HEIGHT }, data, this.host);
  }

  destroy(): void {
    this.plot?.destroy();
    this.plot = null;
    this.host.replaceChildren();
  }
}

// ---------------------------------------------------------------------------
// Per-layer gradient norms

export class LayerChart extends Chart {
  private view: RunView | null = null;
  private multiStep = false;
  points = 0;

  /** Starts a chart for a run of this shape (series depend on whether it has one step or several). */
  begin(view: RunView): void {
    this.view = view;
    this.multiStep = view.config.steps > 1;
    const series: uPlot.Series[] = [
      { label: 'layer', value: (_u, v) => (v === null ? '—' : String(v)) },
      { label: this.multiStep ? '‖δₗ‖ latest step' : '‖δₗ‖ = ‖∂L/∂zₗ‖', stroke: COLORS.delta, width: 2.5, scale: 'y', value: legendValue, spanGaps: false },
    ];
    if (this.multiStep) series.push({ label: '‖δₗ‖ step 1', stroke: COLORS.deltaFirst, width: 1.5, dash: [4, 3], scale: 'y', value: legendValue });
    series.push(
      { label: '‖∂L/∂Wₗ‖', stroke: COLORS.weightGrad, width: 2, scale: 'y', value: legendValue },
      { label: 'theory ‖δₗ‖ (mean field)', stroke: COLORS.theory, width: 1.5, dash: [8, 5], scale: 'y', value: legendValue },
      { label: '‖hₗ‖ activations', stroke: COLORS.activation, width: 1.5, scale: 'y', value: legendValue, show: false },
    );
    this.replace(
      {
        series,
        scales: { x: { time: false }, y: { distr: 3, range: decadeRange } },
        axes: [
          axis('layer l  (1 = input side, L = readout)', { incrs: INTEGER_INCRS, values: integerLabels }),
          axis('Frobenius norm (log)', { splits: decadeSplits(9), values: decadeLabels, filter: keepAll, size: 56 }),
        ],
        legend: { live: true },
        cursor: { drag: { x: true, y: false, setScale: true } },
        hooks: { draw: [(u) => this.drawFlags(u)] },
      },
      this.data(),
    );
  }

  update(view: RunView): void {
    this.view = view;
    if (!this.plot) return this.begin(view);
    if ((view.config.steps > 1) !== this.multiStep || this.plot.data[0].length !== view.config.depth) return this.begin(view);
    this.plot.setData(this.data());
  }

  private data(): uPlot.AlignedData {
    const view = this.view;
    const L = view ? view.config.depth : 0;
    const xs = Array.from({ length: L }, (_, i) => i + 1);
    const withLayers = view ? view.steps.filter((s) => s.layers.length > 0) : [];
    const first = withLayers[0];
    const last = withLayers[withLayers.length - 1];
    const col = (s: StepStats | undefined, pick: (l: StepStats['layers'][number]) => number) => xs.map((_, i) => (s && s.layers[i] ? positive(pick(s.layers[i])) : null));
    const delta = col(last, (l) => l.deltaNorm);
    const deltaFirst = col(first, (l) => l.deltaNorm);
    const weight = col(last, (l) => l.weightGradNorm);
    const act = col(last, (l) => l.activationNorm);
    // The theory's curve is relative to layer L−1; anchor it at the measured ‖δ_{L−1}‖ of step 1.
    const anchorNorm = first && L >= 2 ? first.layers[L - 2]?.deltaNorm : NaN;
    const anchor = anchorNorm !== undefined && anchorNorm > 0 && Number.isFinite(anchorNorm) ? Math.log10(anchorNorm) : NaN;
    const theory = xs.map((l) => {
      const p = view?.prediction[l - 1];
      if (!p || l > L - 1 || !Number.isFinite(anchor)) return null;
      const v = 10 ** (anchor + p.log10DeltaRelative);
      return Number.isFinite(v) && v > 0 ? v : null;
    });
    this.points = delta.filter((v) => v !== null).length;
    const data: (number | null)[][] = [delta];
    if (this.multiStep) data.push(deltaFirst);
    data.push(weight, theory, act);
    return [xs, ...data];
  }

  private drawFlags(u: uPlot): void {
    if (!this.view) return;
    const flag = firstNonfinite(this.view);
    if (flag?.layer) marker(u, flag.layer, `non-finite: step ${flag.step}, layer ${flag.layer}`, COLORS.nonfinite);
    // Exact zeros have no place on a log axis: say where they are.
    const last = [...this.view.steps].reverse().find((s) => s.layers.length > 0);
    const zeros = last ? last.layers.filter((l) => l.deltaNorm === 0).map((l) => l.index) : [];
    if (last && zeros.length > 0) {
      const where = zeros.length === 1 ? `layer ${zeros[0]}` : `${zeros.length} layers (${zeros[0]}–${zeros[zeros.length - 1]})`;
      note(u, `step ${last.step}: ‖δ‖ exactly 0 at ${where}${this.view.config.activation === 'relu' ? ': every ReLU there is off' : ''}`, COLORS.zero);
    }
  }
}

// ---------------------------------------------------------------------------
// Heatmap: layer × step

export type HeatMetric = 'delta' | 'weight';

/** The heatmap's colour scale spans at least this many decades. */
const HEAT_MIN_SPAN = 2;

export class HeatmapChart extends Chart {
  private view: RunView | null = null;
  metric: HeatMetric = 'delta';
  cells = 0;
  private range: [number, number] = [0, 1];

  constructor(host: HTMLElement, private readonly scaleBar: HTMLElement, private readonly readout: HTMLElement) {
    super(host);
  }

  begin(view: RunView): void {
    this.view = view;
    const steps = () => Math.max(1, this.view?.config.steps ?? 1, this.view?.steps.length ?? 1);
    const depth = () => Math.max(1, this.view?.config.depth ?? 1);
    this.replace(
      {
        series: [{}, { label: 'cells', stroke: 'transparent', paths: () => null, points: { show: false } }],
        scales: {
          x: { time: false, auto: false, range: () => [0.5, steps() + 0.5] },
          y: { auto: false, range: () => [0.5, depth() + 0.5] },
        },
        axes: [
          axis('training step', { incrs: INTEGER_INCRS, values: integerLabels, grid: { show: false } }),
          axis('layer l  (1 = input side)', { incrs: INTEGER_INCRS, values: integerLabels, grid: { show: false }, size: 56 }),
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
    this.view = view;
    if (!this.plot) return this.begin(view);
    this.plot.setData(this.data());
    this.drawScale();
  }

  setMetric(metric: HeatMetric): void {
    this.metric = metric;
    if (this.view) this.update(this.view);
  }

  private value(layer: StepStats['layers'][number] | undefined): number {
    if (!layer) return NaN;
    const v = this.metric === 'delta' ? layer.deltaNorm : layer.weightGradNorm;
    return v === 0 ? -Infinity : Number.isFinite(v) && v > 0 ? Math.log10(v) : NaN;
  }

  private data(): uPlot.AlignedData {
    const view = this.view;
    let lo = Infinity;
    let hi = -Infinity;
    let cells = 0;
    for (const s of view?.steps ?? []) {
      for (const l of s.layers) {
        const v = this.value(l);
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
      for (const l of s.layers) {
        const y0 = Math.round(u.valToPos(l.index + 0.5, 'y', true));
        const y1 = Math.round(u.valToPos(l.index - 0.5, 'y', true));
        const v = this.value(l);
        ctx.fillStyle = Number.isFinite(v) ? viridis((v - lo) / (hi - lo)) : v === -Infinity ? COLORS.zero : COLORS.nonfinite;
        ctx.fillRect(x0, y0, Math.max(1, x1 - x0), Math.max(1, y1 - y0));
      }
    }
    ctx.restore();
    const flag = firstNonfinite(view);
    if (flag) marker(u, flag.step, `non-finite from step ${flag.step}${flag.layer ? `, layer ${flag.layer}` : ''}`, COLORS.nonfinite, false);
  }

  private hover(u: uPlot): void {
    const { left, top } = u.cursor;
    const view = this.view;
    if (!view || left === undefined || top === undefined || left < 0 || top < 0) {
      this.readout.textContent = 'Hover over the heatmap for a cell’s value.';
      return;
    }
    const step = Math.round(u.posToVal(left, 'x'));
    const layer = Math.round(u.posToVal(top, 'y'));
    const s = view.steps.find((x) => x.step === step);
    const l = s?.layers[layer - 1];
    if (!l) {
      this.readout.textContent = `step ${step}, layer ${layer}: not run yet`;
      return;
    }
    const name = this.metric === 'delta' ? '‖δ‖' : '‖∂L/∂W‖';
    const raw = this.metric === 'delta' ? l.deltaNorm : l.weightGradNorm;
    this.readout.textContent = `step ${step}, layer ${layer}: ${name} = ${sci(raw)}`;
  }

  private drawScale(): void {
    const [lo, hi] = this.range;
    const name = this.metric === 'delta' ? 'log₁₀ ‖δₗ‖' : 'log₁₀ ‖∂L/∂Wₗ‖';
    const fmt = (v: number) => (Math.abs(v) >= 10 ? v.toFixed(0) : v.toFixed(1));
    this.scaleBar.replaceChildren(
      h('span', { class: 'scale-label' }, name),
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

  begin(view: RunView, baseline: RunView | null): void {
    this.view = view;
    this.baseline = baseline;
    const logLoss = view.config.loss === 'mse';
    const series: uPlot.Series[] = [
      { label: 'step', value: (_u, v) => (v === null ? '—' : String(v)) },
      { label: `‖g‖ ${label(view)}`, stroke: COLORS.gradNorm, width: 2.5, scale: 'g', value: legendValue },
      { label: `loss ${label(view)}`, stroke: COLORS.loss, width: 2, scale: 'loss', value: legendValue },
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
        { label: `‖g‖ ${baseline.label}`, stroke: COLORS.baseline, width: 2, dash: [6, 4], scale: 'g', value: legendValue },
        { label: `loss ${baseline.label}`, stroke: '#b197fc', width: 1.5, dash: [6, 4], scale: 'loss', value: legendValue },
      );
    }
    this.replace(
      {
        series,
        scales: {
          x: { time: false, range: () => this.stepRange() },
          g: { distr: 3, range: decadeRange },
          loss: logLoss ? { distr: 3, range: decadeRange } : { auto: true },
        },
        axes: [
          axis('training step', { incrs: INTEGER_INCRS, values: integerLabels }),
          axis('global gradient norm ‖g‖ (log)', { scale: 'g', splits: decadeSplits(8), values: decadeLabels, filter: keepAll, size: 56 }),
          axis(logLoss ? 'loss (mse, log)' : 'loss (probe: Σ g⊙y)', {
            scale: 'loss',
            side: 1,
            grid: { show: false },
            size: 64,
            ...(logLoss ? { splits: decadeSplits(8), values: decadeLabels, filter: keepAll } : { values: (_u: uPlot, splits: number[]) => splits.map((v) => sci(v, 2)) }),
          }),
        ],
        legend: { live: true },
        hooks: { draw: [(u) => this.drawFlags(u)] },
      },
      this.data(),
    );
  }

  update(view: RunView, baseline: RunView | null = this.baseline): void {
    const shapeChanged = (baseline === null) !== (this.baseline === null);
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
    const col = (v: RunView | null, pick: (s: StepStats) => number | null) => xs.map((_, i) => (v && v.steps[i] ? pick(v.steps[i]) : null));
    const lossOf = (s: StepStats) => (logLoss ? positive(s.loss) : finiteOrNull(s.loss));
    const data: (number | null)[][] = [
      col(this.view, (s) => positive(s.gradNorm)),
      col(this.view, lossOf),
      col(this.view, (s) => (s.clipScale < 1 && Number.isFinite(s.gradNorm) && s.gradNorm > 0 ? s.gradNorm : null)),
    ];
    if (this.baseline) data.push(col(this.baseline, (s) => positive(s.gradNorm)), col(this.baseline, lossOf));
    this.points = data[0].filter((v) => v !== null).length;
    return [xs, ...data];
  }

  private drawFlags(u: uPlot): void {
    for (const v of [this.baseline, this.view]) {
      if (!v) continue;
      const flag = firstNonfinite(v);
      // Shade the steps from the first non-finite one on: their numbers are NaN, ∞ or meaningless.
      if (flag) shade(u, flag.step - 0.5, Math.max(flag.step, v.steps[v.steps.length - 1]?.step ?? flag.step) + 0.5, v === this.baseline ? 'rgba(134,142,150,0.12)' : 'rgba(224,49,49,0.10)');
      if (flag) marker(u, flag.step, `${v === this.baseline ? `${v.label}: ` : ''}non-finite from step ${flag.step}${flag.layer ? ` (layer ${flag.layer})` : ''}`, v === this.baseline ? '#868e96' : COLORS.nonfinite);
    }
  }
}

function label(view: RunView): string {
  return view.config.clip.kind === 'none' ? '' : `(clip ${view.config.clip.kind}:${view.config.clip.threshold})`;
}
