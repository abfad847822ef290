/**
 * The verdict of a run: growth-rate fits of per-layer (MLP) or per-timestep
 * (RNN) gradient norms, and the status the run report's `verdict` carries.
 *
 * Norms arrive as numbers or as their log10 (which stay finite past 1e308);
 * a norm of exactly 0 is log10 = −Infinity and is left out of the fit.
 */

export type VerdictStatus = 'stable' | 'exploding' | 'vanishing' | 'diverged';

/**
 * The thresholds, on the fitted TOTAL change of log10 ‖δ‖ across the fitted
 * span (slope × (L − 2) layers, or × (T − 1) steps), in decades:
 * exploding above +1 (the input-side gradient is 10× the output side's),
 * vanishing below −1.
 *
 * Why a total and not a per-layer threshold: what hurts training is the ratio
 * between the first and last layers' gradients, and that ratio is the
 * per-layer rate compounded over depth. At depth 200 a per-layer slope of
 * 0.005 decades is already a factor 10 end to end, while at depth 5 a slope of
 * 0.1 is only a factor 2.5; any fixed per-layer threshold would call one of
 * them wrong. The total is also what finite-width noise is measured against:
 * its per-sample spread is ≈ 0.486·√(L/n) decades for relu (DESIGN.md), well
 * under 1 at the widths that matter (L/n ≲ 1).
 */
export const EXPLODING_DECADES = 1;
/** A fitted change of the gradient norm across the layers (or steps) below this many decades is `vanishing`. */
export const VANISHING_DECADES = -1;

/** A least-squares fit of log10 norms against the distance from the last element: the slope (growth per layer or step), its standard error and the points used. */
export interface GrowthFit {
  /**
   * Least-squares slope of y against the distance from the last element
   * (d = last − i for element i): positive when values grow toward element 0
   * (toward the input / the first timestep) — explosion in backprop.
   */
  slope: number;
  /** Standard error of the slope from the residuals (null with fewer than 3 points; 0 for an exact fit). */
  stdError: number | null;
  /** The fitted value at distance 0 (the last element). */
  intercept: number;
  /** Points used (finite values). */
  points: number;
  /** Elements left out because they were not finite (0-norms as −Infinity, NaN, +Infinity). */
  excluded: number;
}

/**
 * The one slope fit used on measurements and predictions alike.
 * `log10Values[i]` is log10 of the norm at position i + 1 (layer i + 1 or
 * timestep i + 1); the abscissa is (last position − position), i.e. L − l for
 * layers up to L − 1 shifted by a constant, which leaves the slope unchanged.
 * Non-finite values are excluded. Null when fewer than two finite points remain.
 */
export function fitGrowth(log10Values: readonly number[]): GrowthFit | null {
  const last = log10Values.length - 1;
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i <= last; i++) {
    const y = log10Values[i];
    if (Number.isFinite(y)) {
      xs.push(last - i);
      ys.push(y);
    }
  }
  const n = xs.length;
  if (n < 2) return null;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += xs[i];
    my += ys[i];
  }
  mx /= n;
  my /= n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i] - mx) ** 2;
    sxy += (xs[i] - mx) * (ys[i] - my);
  }
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  let stdError: number | null = null;
  if (n >= 3) {
    let rss = 0;
    for (let i = 0; i < n; i++) rss += (ys[i] - intercept - slope * xs[i]) ** 2;
    stdError = Math.sqrt(rss / (n - 2) / sxx);
  }
  return { slope, stdError, intercept, points: n, excluded: log10Values.length - n };
}

/** Whether norms are given as numbers or as their log10. */
export type NormScale = 'linear' | 'log10';

/** log10 of norms given as numbers ('linear', 0 → −Infinity) or passed through ('log10'). */
export function toLog10(values: readonly number[], scale: NormScale = 'linear'): number[] {
  return scale === 'log10' ? values.slice() : values.map((v) => (v >= 0 ? Math.log10(v) : NaN));
}

/**
 * Matches DESIGN.md's run report `verdict` ({ status, growthPerLayer |
 * growthPerStep, firstNonfiniteStep }) and extends it.
 */
export interface Verdict {
  status: VerdictStatus;
  /** MLP: fitted slope of log10 ‖δ_l‖ against L − l over l = L−1..1 (decades per layer); null when no fit is possible. */
  growthPerLayer?: number | null;
  /** RNN: fitted slope of log10 ‖∂L/∂h_t‖ against T − t over t = T..1 (decades per step); null when no fit is possible. */
  growthPerStep?: number | null;
  /** The same fit applied to the mean-field prediction (see predictGrowth). */
  predictedGrowthPerLayer?: number | null;
  predictedGrowthPerStep?: number | null;
  /** First step whose loss or gradients were non-finite; null if none (or unknown). */
  firstNonfiniteStep: number | null;
  /** Fitted total change in decades across the fitted span (slope × (L − 2) or × (T − 1)); null without a fit. */
  totalChangeDecades?: number | null;
  /** Standard error of the fitted slope (residual-based; null with < 3 points). */
  growthStdError?: number | null;
  /** Points in the fit. */
  fittedPoints?: number;
  /** Positions (layers 1..L−1 or steps 1..T) whose gradient norm was exactly 0. */
  zeroGradientCount?: number;
  /** One sentence on why the status is what it is (always set by mlpVerdict / rnnVerdict / runVerdict). */
  reason?: string;
  /** The gradient at initialization, from the first step (set by runVerdict). */
  init?: InitVerdict;
  /** What training did with it, over every recorded step (set by runVerdict). */
  training?: TrainingVerdict;
}

/**
 * Two truths, two verdicts. `status` mixes them (a run that went non-finite
 * is 'diverged' whatever its gradient at initialization was); `init` judges
 * only the gradient at initialization (the first step's profile, what the
 * theory predicts), `training` only what happened over the steps — so a run
 * whose gradient explodes at initialization but that clipping kept finite
 * reads "gradient at init: exploding — training: rescued by clipping".
 */
export type InitStatus = 'exploding' | 'vanishing' | 'stable';

/** The verdict on the gradient at initialization (the first step's profile). */
export interface InitVerdict {
  status: InitStatus;
  /** One sentence: the fitted change across the net and, where it applies, why (finite width, exact zeros, overflow). */
  summary: string;
}

/** What training did: stayed finite, diverged, or stayed finite thanks to clipping. */
export type TrainingStatus = 'finite' | 'diverged' | 'rescued-by-clipping';

/** The verdict on training, over every recorded step. */
export interface TrainingVerdict {
  /** 'rescued-by-clipping': every step finite, at least one clipped, and init.status is 'exploding'. */
  status: TrainingStatus;
  /** Steps recorded. */
  steps: number;
  /** First step with a non-finite loss or gradient; null if none. */
  divergedAtStep: number | null;
  /** Where that step's non-finite values began: the layer (MLP) or the timestep (RNN); null if none or unknown. */
  divergedAtLayer: number | null;
  /** Loss of the first and last steps; null when there are none or it is not finite. */
  lossFirst: number | null;
  lossLast: number | null;
  /** Finite steps whose clip scale was below 1 (a non-finite step's skipped update, scale 0, is not counted). */
  stepsClipped: number;
  summary: string;
}

/** What {@link mlpVerdict} judges: the per-layer δ norms of one step and whether the run diverged. */
export interface MlpVerdictInput {
  /** ‖δ_l‖ for l = 1..L (element 0 = layer 1; the readout L last). */
  deltaNorms: readonly number[];
  /** 'linear' (default) for norms, 'log10' for their log10 (−Infinity for 0). */
  scale?: NormScale;
  /** The run produced a non-finite loss or gradient. */
  diverged?: boolean;
  firstNonfiniteStep?: number | null;
  predictedGrowthPerLayer?: number | null;
}

/** What {@link rnnVerdict} judges: ‖∂L/∂h_t‖ for t = 1..T and whether the run diverged. */
export interface RnnVerdictInput {
  /** ‖∂L/∂h_t‖ for t = 1..T (element 0 = t = 1). */
  hiddenGradNorms: readonly number[];
  scale?: NormScale;
  diverged?: boolean;
  firstNonfiniteStep?: number | null;
  predictedGrowthPerStep?: number | null;
}

interface Assessed {
  status: VerdictStatus;
  growth: number | null;
  total: number | null;
  stdError: number | null;
  points: number;
  zeros: number;
  reason: string;
}

/**
 * `fitted`: log10 norms of the fitted positions (input side first);
 * `above`: log10 norm just past the fitted span on the output side (layer L,
 * or none for an RNN), only used to tell an exact-zero gradient from an
 * all-zero one. `span`: the number of steps the total change covers.
 */
function assess(fitted: number[], above: number | null, span: number, diverged: boolean, unit: string): Assessed {
  const fit = fitGrowth(fitted);
  const growth = fit ? fit.slope : null;
  const total = fit ? fit.slope * span : null;
  const stdError = fit ? fit.stdError : null;
  const points = fit ? fit.points : 0;
  const zeroAt: number[] = [];
  let lastPositive = above !== null && above > -Infinity ? fitted.length : -1;
  fitted.forEach((y, i) => {
    if (y === -Infinity) zeroAt.push(i + 1);
    else if (y > -Infinity && i > lastPositive) lastPositive = i;
  });
  const nonfiniteMeasured = fitted.some((y) => Number.isNaN(y) || y === Infinity) || (above !== null && (Number.isNaN(above) || above === Infinity));
  const base = { growth, total, stdError, points, zeros: zeroAt.length };
  if (diverged || nonfiniteMeasured) {
    return { ...base, status: 'diverged', reason: diverged ? 'the run produced a non-finite loss or gradient' : `a measured gradient norm is non-finite` };
  }
  // Backprop is linear in the cotangent: once a gradient is exactly 0 every
  // position below it is 0 too, so an exact zero under a nonzero gradient
  // is a gradient that vanished completely (dead relu units, underflow).
  const vanishedAt = zeroAt.filter((p) => p - 1 < lastPositive);
  if (vanishedAt.length > 0) {
    return { ...base, status: 'vanishing', reason: `the gradient is exactly zero at ${vanishedAt.length} ${unit}${vanishedAt.length === 1 ? '' : 's'} (${describePositions(vanishedAt)}) below a nonzero one` };
  }
  if (total === null) {
    const reason = zeroAt.length > 0 ? 'every gradient norm is zero' : `fewer than two ${unit}s to fit a growth rate`;
    return { ...base, status: 'stable', reason };
  }
  const t = total.toFixed(2);
  if (total > EXPLODING_DECADES) return { ...base, status: 'exploding', reason: `fitted change ${t} decades across the ${unit}s exceeds +${EXPLODING_DECADES}` };
  if (total < VANISHING_DECADES) return { ...base, status: 'vanishing', reason: `fitted change ${t} decades across the ${unit}s is below ${VANISHING_DECADES}` };
  return { ...base, status: 'stable', reason: `fitted change ${t} decades across the ${unit}s is within ±1` };
}

function describePositions(ps: number[]): string {
  return ps.length === 1 ? `${ps[0]}` : `${ps[0]}–${ps[ps.length - 1]}`;
}

/**
 * The verdict of an MLP from one step's deltaNorms (layers 1..L): the growth
 * is fitted over the hidden layers 1..L−1 (the readout's δ_L is the loss
 * cotangent itself), status by the fitted total change slope × (L − 2).
 * L = 1 or 2: no fit (growthPerLayer null), stable unless diverged.
 */
export function mlpVerdict(input: MlpVerdictInput): Verdict {
  const log10 = toLog10(input.deltaNorms, input.scale);
  const L = log10.length;
  const fitted = log10.slice(0, Math.max(0, L - 1));
  const above = L >= 1 ? log10[L - 1] : null;
  const a = assess(fitted, above, Math.max(0, L - 2), input.diverged ?? false, 'layer');
  return {
    status: a.status,
    growthPerLayer: a.growth,
    predictedGrowthPerLayer: input.predictedGrowthPerLayer ?? null,
    firstNonfiniteStep: input.firstNonfiniteStep ?? null,
    totalChangeDecades: a.total,
    growthStdError: a.stdError,
    fittedPoints: a.points,
    zeroGradientCount: a.zeros,
    reason: a.reason,
  };
}

/** The verdict of an RNN from one step's hiddenGradNorms (t = 1..T): slope against T − t, total × (T − 1). */
export function rnnVerdict(input: RnnVerdictInput): Verdict {
  const log10 = toLog10(input.hiddenGradNorms, input.scale);
  const T = log10.length;
  const a = assess(log10, null, Math.max(0, T - 1), input.diverged ?? false, 'timestep');
  return {
    status: a.status,
    growthPerStep: a.growth,
    predictedGrowthPerStep: input.predictedGrowthPerStep ?? null,
    firstNonfiniteStep: input.firstNonfiniteStep ?? null,
    totalChangeDecades: a.total,
    growthStdError: a.stdError,
    fittedPoints: a.points,
    zeroGradientCount: a.zeros,
    reason: a.reason,
  };
}

// ---------------------------------------------------------------------------
// From the steps of a run report

/** The parts of a run report step (`gradstorm.run/1`) the verdict reads. */
export interface StepRecordLike {
  step: number;
  loss: number;
  /** null (or non-finite) when the step's gradient held non-finite values. */
  gradNorm: number | null;
  /** Count of non-finite gradient values in the step. */
  nonfinite: number;
  /** Clip scale applied to the step's gradient (1 = not clipped); absent = not clipped. */
  clipScale?: number;
  /** MLP: the first layer holding a non-finite value. */
  nonfiniteLayer?: number | null;
  /** RNN: the first timestep holding a non-finite value. */
  nonfiniteTimestep?: number | null;
  layers?: readonly { index: number; deltaNorm: number }[];
  timesteps?: readonly { t: number; hiddenGradNorm: number }[];
}

function stepIsNonfinite(s: StepRecordLike): boolean {
  return !Number.isFinite(s.loss) || s.gradNorm === null || !Number.isFinite(s.gradNorm) || s.nonfinite > 0;
}

/** First step with a non-finite loss, gradient norm or gradient value; null if none. */
export function firstNonfiniteStep(steps: readonly StepRecordLike[]): number | null {
  for (const s of steps) {
    if (stepIsNonfinite(s)) return s.step;
  }
  return null;
}

/** The training verdict from the recorded steps and the init verdict (clipping rescues only an exploding gradient). */
export function trainingVerdict(steps: readonly StepRecordLike[], init: InitStatus, unit: 'layer' | 'timestep'): TrainingVerdict {
  const bad = steps.find(stepIsNonfinite);
  const divergedAtStep = bad ? bad.step : null;
  const divergedAtLayer = bad ? ((unit === 'layer' ? bad.nonfiniteLayer : bad.nonfiniteTimestep) ?? null) : null;
  const finite = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? x : null);
  const lossFirst = finite(steps[0]?.loss);
  const lossLast = finite(steps[steps.length - 1]?.loss);
  // A non-finite step's update is skipped with clip scale 0: that is no clipping.
  const stepsClipped = steps.filter((s) => !stepIsNonfinite(s) && s.clipScale !== undefined && s.clipScale < 1).length;
  const n = steps.length;
  const loss = n > 1 && lossFirst !== null && lossLast !== null ? `; loss ${lossFirst.toPrecision(3)} → ${lossLast.toPrecision(3)}` : '';
  const clipped = stepsClipped > 0 ? `clipped at ${stepsClipped} of ${n} step${n === 1 ? '' : 's'}` : '';
  let status: TrainingStatus;
  let summary: string;
  if (divergedAtStep !== null) {
    status = 'diverged';
    summary = `non-finite from step ${divergedAtStep}${divergedAtLayer !== null ? `, ${unit} ${divergedAtLayer}` : ''} (of ${n} step${n === 1 ? '' : 's'})`;
  } else if (stepsClipped > 0 && init === 'exploding') {
    status = 'rescued-by-clipping';
    summary = `all ${n} steps finite although the gradient at initialization explodes: ${clipped}${loss}`;
  } else {
    status = 'finite';
    summary = `${n === 1 ? 'the step is' : `all ${n} steps are`} finite${clipped ? `, ${clipped}` : ''}${loss}`;
  }
  return { status, steps: n, divergedAtStep, divergedAtLayer, lossFirst, lossLast, stepsClipped, summary };
}

/** What a training status reads as in words: 'rescued-by-clipping' → 'rescued by clipping'. */
export function trainingStatusText(status: TrainingStatus): string {
  return status.replace(/-/g, ' ');
}

/**
 * The two verdicts in one line, as the CLI and the page print them:
 * "gradient at init: exploding — training: rescued by clipping". A verdict
 * without them (a report from before they existed) reads as its status.
 */
export function describeVerdicts(verdict: Pick<Verdict, 'status' | 'init' | 'training'>): string {
  if (!verdict.init || !verdict.training) return `verdict: ${verdict.status}`;
  return `gradient at init: ${verdict.init.status} — training: ${trainingStatusText(verdict.training.status)}`;
}

/** Options of {@link runVerdict}: the model kind, which step to fit, and the predicted growth to compare with. */
export interface RunVerdictOptions {
  /** 'mlp' reads layers[].deltaNorm, 'rnn' timesteps[].hiddenGradNorm. */
  model: 'mlp' | 'rnn';
  /** Which step's norms to fit: the first (at initialization, what the theory predicts; default) or the last. */
  fitStep?: 'first' | 'last';
  /** Norms in the records are log10 values. */
  scale?: NormScale;
  predictedGrowth?: number | null;
  /**
   * The theory's typical growth at finite width (MLP: relu and linear with
   * gaussian-family weights; see predictGrowth) and the span it is totalled
   * over: when the mean field says stable but finite width drifts the typical
   * gradient below −1 decade, the init summary says so.
   */
  finiteWidth?: { growthPerLayer: number; width: number; span: number } | null;
}

/** The gradient at initialization, judged from the first step alone (divergence later does not change it). */
export function initVerdict(steps: readonly StepRecordLike[], options: RunVerdictOptions): InitVerdict {
  const first = steps[0];
  if (!first) return { status: 'stable', summary: 'no step was recorded' };
  const v = options.model === 'mlp' ? mlpVerdict({ deltaNorms: sortedLayers(first).map((l) => l.deltaNorm), scale: options.scale }) : rnnVerdict({ hiddenGradNorms: sortedTimesteps(first).map((t) => t.hiddenGradNorm), scale: options.scale });
  const unit = options.model === 'mlp' ? 'layer' : 'timestep';
  // A norm that is already non-finite at step 1 overflowed: the gradient exploded past float32 at initialization.
  const status: InitStatus = v.status === 'diverged' ? 'exploding' : v.status;
  let summary = v.status === 'diverged' ? `a ${unit}'s gradient norm at step 1 is non-finite: it overflowed at initialization` : `${status}: ${v.reason}`;
  const fw = options.finiteWidth;
  const meanField = options.predictedGrowth;
  if (fw && meanField !== null && meanField !== undefined) {
    const meanFieldTotal = meanField * fw.span;
    const finiteTotal = fw.growthPerLayer * fw.span;
    if (Math.abs(meanFieldTotal) <= EXPLODING_DECADES && finiteTotal < VANISHING_DECADES) {
      summary +=
        `; the mean field predicts a flat profile (${signed(meanFieldTotal)} decades), but at width ${fw.width} the typical gradient drifts ` +
        `${signed(finiteTotal)} decades over ${fw.span} ${unit}s: it vanishes because of finite width (Hanin 2018)`;
    }
  }
  return { status, summary };
}

function signed(x: number): string {
  return `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(2)}`;
}

function sortedLayers(record: StepRecordLike | undefined) {
  return [...(record?.layers ?? [])].sort((a, b) => a.index - b.index);
}

function sortedTimesteps(record: StepRecordLike | undefined) {
  return [...(record?.timesteps ?? [])].sort((a, b) => a.t - b.t);
}

/**
 * The run report's verdict from its steps: diverged if any step went
 * non-finite, growth fitted on one step's norms (the first by default); and
 * the two verdicts apart: `init` (the first step's gradient) and `training`.
 */
export function runVerdict(steps: readonly StepRecordLike[], options: RunVerdictOptions): Verdict {
  const first = firstNonfiniteStep(steps);
  const record = steps.length === 0 ? undefined : options.fitStep === 'last' ? steps[steps.length - 1] : steps[0];
  const diverged = first !== null;
  const init = initVerdict(steps, options);
  const training = trainingVerdict(steps, init.status, options.model === 'mlp' ? 'layer' : 'timestep');
  if (options.model === 'mlp') {
    const verdict = mlpVerdict({
      deltaNorms: sortedLayers(record).map((l) => l.deltaNorm),
      scale: options.scale,
      diverged,
      firstNonfiniteStep: first,
      predictedGrowthPerLayer: options.predictedGrowth,
    });
    return { ...verdict, init, training };
  }
  const verdict = rnnVerdict({
    hiddenGradNorms: sortedTimesteps(record).map((t) => t.hiddenGradNorm),
    scale: options.scale,
    diverged,
    firstNonfiniteStep: first,
    predictedGrowthPerStep: options.predictedGrowth,
  });
  return { ...verdict, init, training };
}
