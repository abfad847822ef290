/**
 * Runs a stress test: the one engine API the CLI, the tests and the demo
 * share (browser-safe: no Node imports).
 */
import type { GpuContext } from '../gpu/context.ts';
import { GpuLimitError } from '../gpu/errors.ts';
import type { MatmulVariant } from '../kernels/matmul.ts';
import type { MlpConfig } from '../models/config.ts';
import { planMlp } from '../models/mlp.ts';
import { DUMP_MAX_PARAMS, buildMlpDump, type MlpDump } from '../models/dump.ts';
import { buildRunReport, type RunReport } from '../report/run-report.ts';
import { MlpTrainer, type StepStats } from './mlp-trainer.ts';
import { runTrainer } from './trainer.ts';

/** Layer rows kept in one report (each ~200 bytes of JSON). */
export const MAX_LAYER_RECORDS = 2_000_000;

/** Called after each recorded step with the steps done, the total and the step's statistics. */
export interface StressProgress {
  (done: number, total: number, last: StepStats): void;
}

/** Options of {@link runStress}. */
export interface StressOptions {
  matmulVariant?: MatmulVariant;
  /** Also return the dump of the first step (small models only). */
  dump?: boolean;
  onStep?: StressProgress;
  /**
   * Stops the run after the step in flight; the report of the steps done comes
   * back marked `interrupted` (reason: `signal.reason` when it is one of the
   * contract's reasons, else 'aborted'). Aborted before the first step: throws
   * RunInterruptedError.
   */
  signal?: AbortSignal;
}

/**
 * Trains an MLP for `config.steps` steps on the GPU (one submit per step) and
 * returns the run report (`gradstorm.run/1`) and, with `dump`, the first
 * step's parameters and gradients (`gradstorm.dump/1`, small models only).
 * An abort, or a device loss or kernel error once a step is recorded,
 * returns the partial report (`interrupted: true`) instead.
 *
 * @throws {@link ConfigError} for a bad config; {@link GpuLimitError} when the model does not fit the adapter.
 */
export async function runStress(ctx: GpuContext, config: MlpConfig, options: StressOptions = {}): Promise<{ report: RunReport; dump: MlpDump | null }> {
  if (options.dump && planMlp(config).paramCount > DUMP_MAX_PARAMS) {
    throw new GpuLimitError(`--dump writes every parameter as JSON text; this model has more than ${DUMP_MAX_PARAMS} parameters. Use a smaller --depth or --width with --dump`);
  }
  const trainer = await MlpTrainer.create(ctx, config, { matmulVariant: options.matmulVariant });
  const steps: StepStats[] = [];
  // A report keeps every step's loss and norms, but per-layer statistics only
  // for up to ~MAX_LAYER_RECORDS layer rows: steps 1 and last, and every k-th.
  const keepEvery = Math.max(1, Math.ceil((config.steps * config.depth) / MAX_LAYER_RECORDS));
  // The last step recorded with its layers, whether kept or not: a run cut short keeps it whole.
  const lastWhole: StepStats[] = [];
  const { stepMs, dump, interruption } = await runTrainer(trainer, {
    steps: config.steps,
    signal: options.signal,
    dump: options.dump ? (first) => buildMlpDump(config, trainer.plan, first) : undefined,
    onRecord: (s) => {
      options.onStep?.(steps.length + 1, config.steps, s);
      const keep = s.step === 1 || s.step === config.steps || (s.step - 1) % keepEvery === 0;
      steps.push(keep ? s : { ...s, layers: [] });
      lastWhole[0] = s;
    },
  });
  if (interruption && lastWhole[0]) steps[steps.length - 1] = lastWhole[0];
  return { report: buildRunReport(config, ctx.summary, steps, stepMs, interruption), dump };
}

