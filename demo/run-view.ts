/**
 * What the charts show, for any model: a run as the profile of gradient
 * norms along the path backprop takes — layers l = 1..L of an MLP, timesteps
 * t = 1..T of an RNN or LSTM (backpropagation through time) — at every training step,
 * with the theory's line where the theory has one. A view comes from a live
 * run on the page or from a run report the CLI wrote (report-file.ts).
 */
import {
  bpttSteps,
  predictionFor,
  predictionRows,
  rnnPrediction,
  type LstmConfig,
  type LstmRunReport,
  type LstmStepStats,
  type MlpConfig,
  type RnnConfig,
  type RnnPrediction,
  type RnnRunReport,
  type RnnStepStats,
  type RunReport,
  type StepStats,
} from './engine.ts';

export type PositionUnit = 'layer' | 'timestep';

/** The norms at one position of the profile: a layer or a timestep. */
export interface PositionNorms {
  /** Layer l or timestep t, from 1. */
  index: number;
  /** The headline: ‖δ_l‖ = ‖∂L/∂z_l‖ (MLP) or ‖∂L/∂h_t‖ (RNN). */
  grad: number;
  /** The forward norm ‖h_l‖ or ‖h_t‖. */
  activation: number;
  /** ‖∂L/∂W_l‖; null for an RNN or LSTM, whose W_hh is shared by every timestep. */
  weightGrad: number | null;
  /** An LSTM's cell gradient ‖∂L/∂c_t‖ (the path the forget gates keep open); null for the other models. */
  cellGrad: number | null;
  /** Non-finite values counted at this position (MLP layers; 0 where not counted). */
  nonfinite: number;
}

export interface ViewStep {
  step: number;
  loss: number;
  /** NaN where the report's gradNorm is null (a gradient with non-finite entries): never plotted. */
  gradNorm: number;
  clipScale: number;
  nonfinite: number;
  /** The layer or timestep where non-finite values began, when the engine reports it. */
  nonfinitePosition: number | null;
  /** Empty for a step whose per-position rows the report left out. */
  positions: PositionNorms[];
}

interface ViewCommon {
  /** Where it came from: 'this run', a file name, 'without clipping', 'gain 0.95'… */
  label: string;
  steps: ViewStep[];
  adapter: string;
  medianStepMs: number | null;
}

export interface MlpRunView extends ViewCommon {
  model: 'mlp';
  config: MlpConfig;
  verdict: RunReport['verdict'] | null;
  /** Predicted log10 ‖δ_l‖ − log10 ‖δ_{L−1}‖, l = 1..L−1. */
  prediction: RunReport['prediction'];
}

export interface RnnRunView extends ViewCommon {
  model: 'rnn';
  config: RnnConfig;
  verdict: RnnRunReport['verdict'] | null;
  prediction: RnnPrediction;
}

export interface LstmRunView extends ViewCommon {
  model: 'lstm';
  config: LstmConfig;
  /** With the forget-gate theory (verdict.cellTheory, verdict.predictionNote) once the first step is in. */
  verdict: LstmRunReport['verdict'] | null;
}

export type RunView = MlpRunView | RnnRunView | LstmRunView;
export type AnyRunReport = RunReport | RnnRunReport | LstmRunReport;

export function unitOf(view: RunView): PositionUnit {
  return view.model === 'mlp' ? 'layer' : 'timestep';
}

/** L or T: the number of positions of the profile. */
export function positionCount(view: RunView): number {
  return view.model === 'mlp' ? view.config.depth : view.config.seqLen;
}

/** The fields every model's view step takes from its step record (a null ‖g‖ — non-finite entries — becomes NaN, a gap). */
function stepHead(s: { step: number; loss: number; gradNorm: number | null; clipScale: number; nonfinite: number }) {
  return { step: s.step, loss: s.loss, gradNorm: s.gradNorm ?? NaN, clipScale: s.clipScale, nonfinite: s.nonfinite };
}

export function mlpViewStep(s: StepStats): ViewStep {
  return {
    ...stepHead(s),
    nonfinitePosition: s.nonfiniteLayer,
    positions: s.layers.map((l) => ({ index: l.index, grad: l.deltaNorm, activation: l.activationNorm, weightGrad: l.weightGradNorm, cellGrad: null, nonfinite: l.nonfinite ?? 0 })),
  };
}

export function rnnViewStep(s: RnnStepStats): ViewStep {
  return {
    ...stepHead(s),
    nonfinitePosition: s.nonfiniteTimestep,
    positions: s.timesteps.map((t) => ({ index: t.t, grad: t.hiddenGradNorm, activation: t.hiddenNorm, weightGrad: null, cellGrad: null, nonfinite: 0 })),
  };
}

/** A norm from its log10 where the norm itself overflowed or underflowed float64 (the log stays finite). */
const fromLog = (norm: number, log10: number): number => (Number.isFinite(norm) && (norm > 0 || !Number.isFinite(log10)) ? norm : Number.isFinite(log10) ? 10 ** log10 : norm);

export function lstmViewStep(s: LstmStepStats): ViewStep {
  return {
    ...stepHead(s),
    nonfinitePosition: s.nonfiniteTimestep,
    positions: s.timesteps.map((t) => ({
      index: t.t,
      grad: fromLog(t.hiddenGradNorm, t.log10HiddenGradNorm),
      activation: t.hiddenNorm,
      weightGrad: null,
      cellGrad: fromLog(t.cellGradNorm, t.log10CellGradNorm),
      nonfinite: 0,
    })),
  };
}

/** The theory's line for a config: the mean field plus the finite-width drift where it applies (predictionRows). */
export function predictionCurve(config: MlpConfig): MlpRunView['prediction'] {
  return predictionRows(predictionFor(config));
}

/** An empty view of a run about to start on the page. */
export function liveView(config: MlpConfig | RnnConfig | LstmConfig, label: string, adapter: string): RunView {
  const common = { label, steps: [], adapter, medianStepMs: null, verdict: null };
  if (config.model === 'lstm') return { ...common, model: 'lstm', config };
  return config.model === 'mlp' ? { ...common, model: 'mlp', config, prediction: predictionCurve(config) } : { ...common, model: 'rnn', config, prediction: rnnPrediction(config) };
}

export function viewOfReport(report: AnyRunReport, label: string): RunView {
  const common = {
    label,
    adapter: [report.adapter.vendor, report.adapter.architecture, report.adapter.description].filter(Boolean).join(' '),
    medianStepMs: report.timing?.medianStepMs ?? null,
  };
  if (report.config.model === 'mlp') {
    const r = report as RunReport;
    return { ...common, model: 'mlp', config: r.config, steps: r.steps.map(mlpViewStep), verdict: r.verdict, prediction: r.prediction };
  }
  if (report.config.model === 'lstm') {
    const r = report as LstmRunReport;
    return { ...common, model: 'lstm', config: r.config, steps: r.steps.map(lstmViewStep), verdict: r.verdict };
  }
  const r = report as RnnRunReport;
  return { ...common, model: 'rnn', config: r.config, steps: r.steps.map(rnnViewStep), verdict: r.verdict, prediction: rnnPrediction(r.config) };
}

/**
 * The theory's line: the predicted log10 norm at each position relative to
 * the measured norm at `anchor` (null where the theory says nothing), or null
 * where there is no line to draw (an RNN without an exact rate: Pascanu's
 * condition is an inequality, stated in words instead).
 */
export interface TheoryLine {
  anchor: number;
  /** relative[i]: position i + 1. */
  relative: (number | null)[];
  label: string;
}

const finiteOrNull = (x: number | null | undefined): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);

export function theoryLine(view: RunView): TheoryLine | null {
  if (view.model === 'mlp') {
    const L = view.config.depth;
    const relative = Array.from({ length: L }, (_, i) => (i + 1 <= L - 1 ? finiteOrNull(view.prediction[i]?.log10DeltaRelative) : null));
    const corrected = view.prediction.some((p) => p.log10DeltaMeanField !== undefined && p.log10DeltaMeanField !== p.log10DeltaRelative);
    return { anchor: L - 1, relative, label: corrected ? 'theory ‖δₗ‖ (mean field + finite width)' : 'theory ‖δₗ‖ (mean field)' };
  }
  // The LSTM's theory is a rate of the cell gradient, from the forget gates the run measured: stated in the verdict card.
  if (view.model === 'lstm') return null;
  const rate = view.prediction.predictedGrowthPerStep;
  if (rate === null) return null;
  const T = view.config.seqLen;
  // Exact only where the gradient reaches: truncated BPTT stops k steps back from the loss at T.
  const first = T - bpttSteps(view.config) + 1;
  const relative = Array.from({ length: T }, (_, i) => (i + 1 >= first ? rate * (T - (i + 1)) : null));
  return { anchor: T, relative, label: `theory ${view.config.gain}^(T−t)` };
}

/** Where a run first went non-finite: its step and the first layer or timestep holding a non-finite value. */
export function firstNonfinite(view: RunView): { step: number; position: number | null } | null {
  for (const s of view.steps) {
    if (!Number.isFinite(s.loss) || !Number.isFinite(s.gradNorm) || s.nonfinite > 0) {
      const position = s.nonfinitePosition ?? s.positions.find((p) => p.nonfinite > 0 || !Number.isFinite(p.grad))?.index ?? null;
      return { step: s.step, position };
    }
  }
  return null;
}
