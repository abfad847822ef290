/**
 * The phase diagram: gain × depth, for relu and tanh, each point one
 * single-step run (gradients at initialization, probe loss), coloured by the
 * measured growth of ‖δ‖ (the verdict's fitted change in decades from the
 * last hidden layer back to the first), with the theory's critical line:
 * relu gain √2 (χ = gain²/2 = 1); tanh σ_w² from the mean-field fixed point
 * as a function of σ_b² (tanhCriticalSigmaW2). Cells fill in as runs finish.
 */
import uPlot from 'uplot';
import { chartDrawn, renderedTicks } from './charts.ts';
import { h } from './dom.ts';
import { cssGradient, diverging } from './format.ts';
import { MLP_DEFAULTS, RELU_CRITICAL_GAIN, runStress, tanhCriticalSigmaW2, type GpuContext, type MlpConfig, type VerdictStatus } from './engine.ts';
import type { PhaseGrid } from './state.ts';

export type PhaseActivation = 'relu' | 'tanh';
export const PHASE_ACTIVATIONS: readonly PhaseActivation[] = ['relu', 'tanh'];

/** Colour scale of the diagram: ± this many decades saturate. */
export const PHASE_CLAMP_DECADES = 10;

export interface PhasePoint {
  activation: PhaseActivation;
  gain: number;
  depth: number;
  /** Fitted change of log10 ‖δ‖ across the hidden layers (decades), null when it could not be fitted. */
  totalChangeDecades: number | null;
  growthPerLayer: number | null;
  predictedGrowthPerLayer: number | null;
  status: VerdictStatus | 'error';
  error?: string;
}

export function criticalGain(activation: PhaseActivation, biasStd: number): number {
  return activation === 'relu' ? RELU_CRITICAL_GAIN : Math.sqrt(tanhCriticalSigmaW2(biasStd * biasStd));
}

export function phaseConfig(grid: PhaseGrid, activation: PhaseActivation, gain: number, depth: number): MlpConfig {
  return {
    ...MLP_DEFAULTS,
    depth,
    width: grid.width,
    input: grid.width,
    output: grid.width,
    batch: grid.batch,
    activation,
    init: 'gaussian',
    gain,
    biasStd: grid.biasStd,
    loss: 'probe',
    steps: 1,
    lr: 0,
    clip: { kind: 'none' },
    seed: grid.seed,
  };
}

/** The order points run in: shallow first (cheap, and the picture fills in from the bottom), both activations. */
export function phasePlan(grid: PhaseGrid): { activation: PhaseActivation; gain: number; depth: number }[] {
  const plan: { activation: PhaseActivation; gain: number; depth: number }[] = [];
  for (const depth of grid.depths) for (const gain of grid.gains) for (const activation of PHASE_ACTIVATIONS) plan.push({ activation, gain, depth });
  return plan;
}

/** Runs the sweep, one point after another; `stop()` is checked between points. */
export async function runPhaseSweep(
  ctx: GpuContext,
  grid: PhaseGrid,
  onPoint: (point: PhasePoint, done: number, total: number) => void,
  stop: () => boolean,
): Promise<PhasePoint[]> {
  const plan = phasePlan(grid);
  const points: PhasePoint[] = [];
  for (const p of plan) {
    if (stop()) break;
    let point: PhasePoint;
    try {
      const { report } = await runStress(ctx, phaseConfig(grid, p.activation, p.gain, p.depth));
      const v = report.verdict;
      point = {
        ...p,
        totalChangeDecades: v.totalChangeDecades ?? null,
        growthPerLayer: v.growthPerLayer ?? null,
        predictedGrowthPerLayer: v.predictedGrowthPerLayer ?? null,
        status: v.status,
      };
    } catch (error) {
      if (ctx.lostError) throw ctx.lostError;
      point = { ...p, totalChangeDecades: null, growthPerLayer: null, predictedGrowthPerLayer: null, status: 'error', error: (error as Error).message };
    }
    points.push(point);
    onPoint(point, points.length, plan.length);
    // Let the page paint between points.
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  return points;
}

/** +2.3, −11, 0.0: one decimal under 10 decades, none above; no signed zero. */
function formatDecades(x: number): string {
  const text = Math.abs(x) >= 10 ? Math.abs(x).toFixed(0) : Math.abs(x).toFixed(1);
  if (Number(text) === 0) return text;
  return `${x > 0 ? '+' : '−'}${text}`;
}

/** Cell edges along a sorted list: midpoints between neighbours, half a spacing beyond the ends. */
function edges(values: readonly number[]): number[] {
  if (values.length === 1) return [values[0] - 0.1, values[0] + 0.1];
  const out = [values[0] - (values[1] - values[0]) / 2];
  for (let i = 0; i + 1 < values.length; i++) out.push((values[i] + values[i + 1]) / 2);
  out.push(values[values.length - 1] + (values[values.length - 1] - values[values.length - 2]) / 2);
  return out;
}

const AXIS = { stroke: '#495057', font: '12px system-ui, sans-serif', labelFont: '600 12px system-ui, sans-serif', ticks: { stroke: '#ced4da', width: 1, size: 4 } };

/** One panel (one activation) of the diagram. */
class PhasePanel {
  private plot: uPlot | null = null;
  private grid: PhaseGrid | null = null;
  private points = new Map<string, PhasePoint>();
  private readonly resize: ResizeObserver;

  constructor(
    private readonly host: HTMLElement,
    private readonly activation: PhaseActivation,
    private readonly readout: HTMLElement,
  ) {
    this.resize = new ResizeObserver(() => {
      if (this.plot && host.clientWidth > 0 && Math.abs(this.plot.width - host.clientWidth) > 2) this.plot.setSize({ width: host.clientWidth, height: 300 });
    });
    this.resize.observe(host);
  }

  begin(grid: PhaseGrid): void {
    this.grid = grid;
    this.points.clear();
    const gainEdges = edges(grid.gains);
    const nd = grid.depths.length;
    this.plot?.destroy();
    this.host.replaceChildren();
    const critical = criticalGain(this.activation, grid.biasStd);
    this.plot = new uPlot(
      {
        width: Math.max(300, this.host.clientWidth || 500),
        height: 300,
        title: this.activation === 'relu' ? 'ReLU' : `tanh  (σ_b = ${grid.biasStd})`,
        series: [{}, { label: 'cells', stroke: 'transparent', paths: () => null, points: { show: false } }],
        scales: {
          x: { time: false, auto: false, range: () => [gainEdges[0], gainEdges[gainEdges.length - 1]] },
          y: { auto: false, range: () => [-0.5, nd - 0.5] },
        },
        axes: [
          { ...AXIS, label: `weight gain (std = gain/√n), critical ${critical.toFixed(3)}`, grid: { show: false } },
          {
            ...AXIS,
            label: 'depth L',
            grid: { show: false },
            size: 50,
            splits: () => grid.depths.map((_, i) => i),
            values: (_u: uPlot, splits: number[]) => splits.map((i) => String(grid.depths[i] ?? '')),
          },
        ],
        legend: { show: false },
        cursor: { points: { show: false }, drag: { x: false, y: false, setScale: false } },
        hooks: { draw: [(u) => this.paint(u, gainEdges, critical), chartDrawn], setCursor: [(u) => this.hover(u)] },
      },
      [grid.gains, grid.gains.map(() => null)],
      this.host,
    );
  }

  set(point: PhasePoint): void {
    this.points.set(`${point.gain}@${point.depth}`, point);
    this.plot?.redraw(false, false);
  }

  private paint(u: uPlot, gainEdges: number[], critical: number): void {
    const grid = this.grid;
    if (!grid) return;
    const ctx = u.ctx;
    const dpr = uPlot.pxRatio;
    ctx.save();
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.font = `${11 * dpr}px system-ui, sans-serif`;
    grid.depths.forEach((depth, di) => {
      const y0 = u.valToPos(di + 0.5, 'y', true);
      const y1 = u.valToPos(di - 0.5, 'y', true);
      grid.gains.forEach((gain, gi) => {
        const x0 = u.valToPos(gainEdges[gi], 'x', true);
        const x1 = u.valToPos(gainEdges[gi + 1], 'x', true);
        const p = this.points.get(`${gain}@${depth}`);
        const [w, hgt] = [x1 - x0, y1 - y0];
        if (!p) {
          ctx.fillStyle = '#f1f3f5';
          ctx.fillRect(x0 + dpr, y0 + dpr, w - 2 * dpr, hgt - 2 * dpr);
          return;
        }
        let text = '';
        if (p.status === 'diverged' || p.status === 'error') {
          ctx.fillStyle = p.status === 'error' ? '#868e96' : '#5c0011';
          text = p.status === 'error' ? '!' : '∞';
        } else if (p.totalChangeDecades === null) {
          ctx.fillStyle = '#dee2e6';
        } else {
          const t = 0.5 + p.totalChangeDecades / (2 * PHASE_CLAMP_DECADES);
          ctx.fillStyle = diverging(t);
          text = formatDecades(p.totalChangeDecades);
        }
        ctx.fillRect(x0, y0, w + 0.5, hgt + 0.5);
        if (text && w > 30 * dpr && hgt > 14 * dpr) {
          const t = p.totalChangeDecades === null ? 0 : Math.abs(p.totalChangeDecades) / PHASE_CLAMP_DECADES;
          ctx.fillStyle = p.status === 'diverged' || p.status === 'error' || t > 0.55 ? '#fff' : '#212529';
          ctx.fillText(text, (x0 + x1) / 2, (y0 + y1) / 2);
        }
      });
    });
    // the critical line
    const px = u.valToPos(critical, 'x', true);
    const { top, height, left, width } = u.bbox;
    if (px >= left && px <= left + width) {
      ctx.strokeStyle = '#212529';
      ctx.lineWidth = 2.5 * dpr;
      ctx.setLineDash([7 * dpr, 4 * dpr]);
      ctx.beginPath();
      ctx.moveTo(px, top);
      ctx.lineTo(px, top + height);
      ctx.stroke();
      ctx.setLineDash([]);
      const label = this.activation === 'relu' ? 'critical: gain √2' : `critical: σ_w² = ${(critical * critical).toFixed(3)}`;
      ctx.font = `600 ${12 * dpr}px system-ui, sans-serif`;
      ctx.textAlign = 'left';
      ctx.textBaseline = 'top';
      const tw = ctx.measureText(label).width;
      const tx = px + 6 * dpr + tw > left + width ? px - 6 * dpr - tw : px + 6 * dpr;
      ctx.fillStyle = 'rgba(255,255,255,0.9)';
      ctx.fillRect(tx - 3 * dpr, top + 3 * dpr, tw + 6 * dpr, 17 * dpr);
      ctx.fillStyle = '#212529';
      ctx.fillText(label, tx, top + 6 * dpr);
    }
    ctx.restore();
  }

  private hover(u: uPlot): void {
    const grid = this.grid;
    const { left, top } = u.cursor;
    if (!grid || left === undefined || top === undefined || left < 0 || top < 0) return;
    const gainValue = u.posToVal(left, 'x');
    const di = Math.round(u.posToVal(top, 'y'));
    const gain = grid.gains.reduce((best, g) => (Math.abs(g - gainValue) < Math.abs(best - gainValue) ? g : best), grid.gains[0]);
    const depth = grid.depths[di];
    if (depth === undefined) return;
    const p = this.points.get(`${gain}@${depth}`);
    const head = `${this.activation}, gain ${gain}, depth ${depth}: `;
    if (!p) this.readout.textContent = `${head}not run yet`;
    else if (p.status === 'error') this.readout.textContent = `${head}${p.error ?? 'failed'}`;
    else {
      const total = p.totalChangeDecades === null ? 'no fit' : `${p.totalChangeDecades.toFixed(2)} decades`;
      const per = p.growthPerLayer === null ? '' : `, ${p.growthPerLayer.toFixed(4)}/layer measured vs ${p.predictedGrowthPerLayer?.toFixed(4) ?? '—'} predicted`;
      this.readout.textContent = `${head}${p.status} (${total}${per})`;
    }
  }

  /** The depth labels uPlot drew on the y axis. */
  ticks(): string[] {
    return renderedTicks(this.plot, 1);
  }

  destroy(): void {
    this.plot?.destroy();
    this.plot = null;
  }
}

export class PhaseDiagram {
  private readonly panels: Record<PhaseActivation, PhasePanel>;

  constructor(hosts: Record<PhaseActivation, HTMLElement>, scale: HTMLElement, readout: HTMLElement) {
    this.panels = { relu: new PhasePanel(hosts.relu, 'relu', readout), tanh: new PhasePanel(hosts.tanh, 'tanh', readout) };
    scale.replaceChildren(
      h('span', { class: 'scale-label' }, 'measured change of log₁₀ ‖δ‖, input side vs output side (decades)'),
      h('span', { class: 'scale-end' }, `≤ −${PHASE_CLAMP_DECADES} vanishing`),
      h('span', { class: 'scale-bar', style: `background: ${cssGradient(diverging)}` }),
      h('span', { class: 'scale-end' }, `exploding ≥ +${PHASE_CLAMP_DECADES}`),
      h('span', { class: 'swatch', style: 'background: #5c0011' }),
      h('span', {}, '∞ overflowed (non-finite)'),
      h('span', { class: 'swatch', style: 'background: #f1f3f5' }),
      h('span', {}, 'pending'),
    );
  }

  begin(grid: PhaseGrid): void {
    for (const a of PHASE_ACTIVATIONS) this.panels[a].begin(grid);
  }

  set(point: PhasePoint): void {
    this.panels[point.activation].set(point);
  }

  /** Each panel's y-axis labels as drawn (empty before a sweep). */
  ticks(): Record<PhaseActivation, string[]> {
    return { relu: this.panels.relu.ticks(), tanh: this.panels.tanh.ticks() };
  }
}
