/**
 * The MLP's trainer: the one trainer (trainer.ts) with the MLP model
 * (src/models/mlp-model.ts, where the step's dispatches are recorded).
 */
import type { GpuContext } from '../gpu/context.ts';
import type { MatmulVariant } from '../kernels/matmul.ts';
import type { MlpConfig } from '../models/config.ts';
import type { MlpPlan } from '../models/mlp.ts';
import { MlpModel, checkMlpFits, type StepStats } from '../models/mlp-model.ts';
import { Trainer } from './trainer.ts';

export type { LayerStats, StepStats } from '../models/mlp-model.ts';

/**
 * An MLP on the GPU with its training step recorded once: `MlpTrainer.create(ctx, config)`,
 * then `run(steps, onStep)` or step by step (`submitStep()`), `readParams()`,
 * `readGrads()`, and `destroy()` when done.
 */
export class MlpTrainer extends Trainer<StepStats, MlpModel> {
  /**
   * Plans memory (refusing configs that do not fit the adapter, with both
   * numbers and the flag to change), allocates, initialises parameters, input
   * and target on the GPU, and records the step.
   */
  static async create(ctx: GpuContext, config: MlpConfig, options: { matmulVariant?: MatmulVariant } = {}): Promise<MlpTrainer> {
    MlpTrainer.checkFits(ctx, config);
    const trainer = new MlpTrainer(ctx, new MlpModel(config, options.matmulVariant));
    await trainer.build();
    return trainer;
  }

  /** Refuses, before anything is allocated or tuned, a config that does not fit the adapter: both numbers and the flag to change. */
  static checkFits(ctx: GpuContext, config: MlpConfig, plan?: MlpPlan): void {
    checkMlpFits(ctx, config, plan);
  }

  /** The layer plan: offsets of every tensor in the arenas. */
  get plan(): MlpPlan {
    return this.model.plan;
  }

  get config(): MlpConfig {
    return this.model.config;
  }

  get matmulVariant(): MatmulVariant | undefined {
    return this.model.matmulVariant;
  }
}
