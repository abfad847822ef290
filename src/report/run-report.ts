/**
 * The run report, schema `gradstorm.run/1` (DESIGN.md): config, adapter,
 * per-step statistics, verdict with the theory's prediction beside the
 * measurement. The CLI writes it; the demo reads it. Its schema (zod,
 * with every other report's) is src/report/schema.ts.
 */
import type { AdapterSummary } from '../gpu/context.ts';
import type { MlpConfig } from '../models/config.ts';
import type { StepStats } from '../scheduler/mlp-trainer.ts';
import { interruptionFields, type Interruption, type InterruptionFields } from '../scheduler/interruption.ts';
import { predictGrowth, reluGrowthTolerance, runVerdict, type GrowthPrediction, type Verdict } from '../analysis/index.ts';

/** The schema name of run reports (MLP, RNN and LSTM). */
export const RUN_SCHEMA = 'gradstorm.run/1';

/** What a step record says about its gradient norm (MLP and RNN step stats alike). */
export interface GradNormRecord {
  gradNorm: number | null;
  nonfinite: number;
  nonfiniteLayer?: number | null;
  nonfiniteTimestep?: number | null;
}

/**
 * ‖g‖ as people read it: the number when the gradient is finite, else
 * `non-finite (N entries, first at layer l)` (timestep t for an RNN): a
 * non-finite gradient is never shown as a number (its finite part's norm is
 * `finiteGradNorm`).
 */
export function describeGradNorm(s: GradNormRecord, format: (x: number) => string = (x) => x.toPrecision(4)): string {
  if (s.nonfinite === 0 && s.gradNorm !== null && Number.isFinite(s.gradNorm)) return format(s.gradNorm);
  const where =
    s.nonfiniteLayer != null ? `, first at layer ${s.nonfiniteLayer}` : s.nonfiniteTimestep != null ? `, first at timestep ${s.nonfiniteTimestep}` : s.nonfinite > 0 ? ', in the loss' : '';
  return `non-finite (${s.nonfinite} entries${where})`;
}

/**
 * The run report of an MLP (`gradstorm.run/1`): config, adapter, every step's
 * statistics, the verdict beside the theory's prediction. A partial report (an
 * interrupted run) also has `interrupted: true` and `interruption`.
 */
export interface RunReport extends InterruptionFields {
  schema: typeof RUN_SCHEMA;
  config: MlpConfig;
  adapter: { vendor: string; architecture: string; description: string };
  steps: (StepStats & { timesteps: { t: number; hiddenGradNorm: number }[] })[];
  verdict: Verdict & {
    predictionMethod: string;
    /** Mean-field (infinite-width) predicted log10 ‖δ_1‖/‖δ_{L−1}‖. */
    predictedLog10Ratio: number;
    /**
     * The typical growth at this width: predictedGrowthPerLayer plus the
     * finite-width drift (relu, linear with gaussian-family weights); null
     * where no correction is derived (then the mean field is the prediction).
     */
    predictedGrowthPerLayerFiniteWidth: number | null;
    /** Typical log10 ‖δ_1‖/‖δ_{L−1}‖ at this width (= predictedLog10Ratio where no correction applies). */
    predictedLog10RatioFiniteWidth: number;
    /**
     * Whether the measured growth lies in predicted + bias ± halfWidth: for
     * ReLU nets the finite-width statistics (4 σ of the fitted slope, the
     * −5/(4n·ln 10) bias); for linear orthogonal nets float32 rounding (1e-4).
     * null where no tolerance is derived (tanh, orthogonal relu/tanh).
     */
    agreement: { tolerance: { bias: number; halfWidth: number }; agrees: boolean } | null;
    /**
     * Predicted beside measured per-layer profile (present for the LayerNorm
     * methods, whose curve is not a straight line in log10: a growth rate
     * alone would hide it): the first step's log10 ‖δ_1‖/‖δ_{L−1}‖ and
     * log10 ‖δ_{L−1}‖/‖δ_L‖ (how large the gradient is near the output:
     * post-norm O(1), pre-norm O(1/√L), Xiong et al. 2020), measured and
     * predicted, and the largest gap over l = 1..L−1 of log10 ‖δ_l‖/‖δ_{L−1}‖.
     */
    profile?: {
      measuredLog10Ratio: number;
      predictedLog10Ratio: number;
      measuredLog10OutputRatio: number;
      predictedLog10OutputRatio: number;
      maxGapDecades: number;
    };
  };
  /**
   * The theory's curve for l = 1..L−1: `log10DeltaRelative` is the typical
   * log10 ‖δ_l‖ − log10 ‖δ_{L−1}‖ at this width (mean field plus the
   * finite-width drift where it applies: the line the page draws and the
   * CLI prints), `log10DeltaMeanField` the infinite-width value.
   */
  prediction: { layer: number; log10DeltaRelative: number; log10DeltaMeanField: number }[];
  timing?: { stepMs: number[]; medianStepMs: number };
}

/** The theory for a config: gaussian N(0, 1) inputs, so s_x² = 1. */
export function predictionFor(config: MlpConfig): GrowthPrediction {
  return predictGrowth({
    activation: config.activation,
    init: config.init,
    gain: config.gain,
    biasStd: config.biasStd,
    width: config.width,
    inputSize: config.input,
    inputMeanSquare: 1,
    depth: config.depth,
    outputSize: config.output,
    residual: config.residual ?? 0,
    layerNorm: config.norm === 'layer' ? (config.normPlace ?? 'pre') : false,
  });
}

/** Assembles an MLP run report from recorded steps: the verdict, the theory's prediction and its agreement, step timing; with `interruption`, a partial report. */
export function buildRunReport(
  config: MlpConfig,
  adapter: AdapterSummary,
  steps: readonly StepStats[],
  stepMs: readonly number[] = [],
  interruption: Interruption | null = null,
): RunReport {
  const prediction = predictionFor(config);
  const finiteWidth = prediction.predictedGrowthPerLayerFiniteWidth === null ? null : { growthPerLayer: prediction.predictedGrowthPerLayerFiniteWidth, width: config.width, span: Math.max(0, config.depth - 2) };
  const verdict = runVerdict(steps, { model: 'mlp', predictedGrowth: prediction.predictedGrowthPerLayer, finiteWidth });
  const agreement = theoryAgreement(config, prediction, verdict.growthPerLayer ?? null);
  const sorted = [...stepMs].sort((a, b) => a - b);
  return {
    schema: RUN_SCHEMA,
    config,
    adapter: { vendor: adapter.vendor, architecture: adapter.architecture, description: adapter.description },
    steps: steps.map((s) => ({ ...s, timesteps: [] })),
    verdict: {
      ...verdict,
      predictionMethod: prediction.method,
      predictedLog10Ratio: prediction.predictedLog10Ratio,
      predictedGrowthPerLayerFiniteWidth: prediction.predictedGrowthPerLayerFiniteWidth,
      predictedLog10RatioFiniteWidth: prediction.predictedLog10RatioFiniteWidth,
      agreement,
      ...profileFields(prediction, steps[0]),
    },
    prediction: predictionRows(prediction),
    ...(sorted.length ? { timing: { stepMs: [...stepMs], medianStepMs: sorted[sorted.length >> 1] } } : {}),
    ...interruptionFields(interruption),
  };
}

/** The verdict's `profile` for the LayerNorm methods (see RunReport), from the first step; nothing where a norm is not a finite positive number. */
function profileFields(prediction: GrowthPrediction, first: StepStats | undefined): { profile?: NonNullable<RunReport['verdict']['profile']> } {
  if (!first || !prediction.method.startsWith('layernorm-')) return {};
  const L = first.layers.length;
  const log10 = first.layers.map((layer) => Math.log10(layer.deltaNorm));
  if (L < 3 || prediction.curve.length !== L - 1 || !log10.every(Number.isFinite)) return {};
  const anchor = log10[L - 2];
  // A loop, not Math.max(...): depth may be 100 000.
  const maxGapDecades = prediction.curve.reduce((worst, c, i) => Math.max(worst, Math.abs(log10[i] - anchor - c.log10Delta)), 0);
  return {
    profile: {
      measuredLog10Ratio: log10[0] - anchor,
      predictedLog10Ratio: prediction.predictedLog10Ratio,
      measuredLog10OutputRatio: anchor - log10[L - 1],
      predictedLog10OutputRatio: prediction.predictedLog10RatioToOutput - prediction.predictedLog10Ratio,
      maxGapDecades,
    },
  };
}

/** The report's `prediction` rows (also what the page draws for a run of its own). */
export function predictionRows(prediction: GrowthPrediction): RunReport['prediction'] {
  return prediction.curve.map((c, i) => ({ layer: i + 1, log10DeltaRelative: prediction.log10DeltaFiniteWidth[i], log10DeltaMeanField: c.log10Delta }));
}

function theoryAgreement(config: MlpConfig, prediction: GrowthPrediction, measured: number | null): RunReport['verdict']['agreement'] {
  const predicted = prediction.predictedGrowthPerLayer;
  if (measured === null || predicted === null) return null;
  let tolerance: { bias: number; halfWidth: number } | null = null;
  if (prediction.method === 'he2015') {
    const t = reluGrowthTolerance(config.width, config.depth);
    tolerance = { bias: t.bias, halfWidth: t.halfWidth };
  } else if (prediction.method === 'orthogonal-linear-exact' && config.input === config.width && config.output === config.width) {
    tolerance = { bias: 0, halfWidth: 1e-4 };
  }
  if (!tolerance) return null;
  return { tolerance, agrees: Math.abs(measured - (predicted + tolerance.bias)) <= tolerance.halfWidth };
}
