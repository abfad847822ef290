/**
 * The run report, schema `gradstorm.run/1` (DESIGN.md): config, adapter,
 * per-step statistics, verdict with the theory's prediction beside the
 * measurement. The CLI writes it; the demo reads it.
 */
import type { AdapterSummary } from '../gpu/context.ts';
import type { MlpConfig } from '../models/config.ts';
import type { StepStats } from '../scheduler/mlp-trainer.ts';
import { predictGrowth, runVerdict, type GrowthPrediction, type Verdict } from '../analysis/index.ts';

export const RUN_SCHEMA = 'gradstorm.run/1';

export interface RunReport {
  schema: typeof RUN_SCHEMA;
  config: MlpConfig;
  adapter: { vendor: string; architecture: string; description: string };
  steps: (StepStats & { timesteps: { t: number; hiddenGradNorm: number }[] })[];
  verdict: Verdict & { predictionMethod: string; predictedLog10Ratio: number };
  /** Predicted log10 ‖δ_l‖ − log10 ‖δ_{L−1}‖ for l = 1..L−1 (the theory's curve). */
  prediction: { layer: number; log10DeltaRelative: number }[];
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
  });
}

export function buildRunReport(config: MlpConfig, adapter: AdapterSummary, steps: readonly StepStats[], stepMs: readonly number[] = []): RunReport {
  const prediction = predictionFor(config);
  const verdict = runVerdict(steps, { model: 'mlp', predictedGrowth: prediction.predictedGrowthPerLayer });
  const sorted = [...stepMs].sort((a, b) => a - b);
  return {
    schema: RUN_SCHEMA,
    config,
    adapter: { vendor: adapter.vendor, architecture: adapter.architecture, description: adapter.description },
    steps: steps.map((s) => ({ ...s, timesteps: [] })),
    verdict: { ...verdict, predictionMethod: prediction.method, predictedLog10Ratio: prediction.predictedLog10Ratio },
    prediction: prediction.curve.map((c, i) => ({ layer: i + 1, log10DeltaRelative: c.log10Delta })),
    ...(sorted.length ? { timing: { stepMs: [...stepMs], medianStepMs: sorted[sorted.length >> 1] } } : {}),
  };
}
