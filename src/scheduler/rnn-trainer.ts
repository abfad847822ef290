/**
 * The RNN's trainer: the one trainer (trainer.ts) with the vanilla RNN model
 * (src/models/rnn-model.ts, where the BPTT step's dispatches are recorded).
 */
import type { GpuContext } from '../gpu/context.ts';
import type { MatmulVariant } from '../kernels/matmul.ts';
import type { RnnVariant } from '../kernels/rnn.ts';
import type { RnnConfig, RnnPlan } from '../models/rnn.ts';
import { RnnModel, checkRnnFits, type RnnStepStats } from '../models/rnn-model.ts';
import { Trainer } from './trainer.ts';

export type { RnnStepStats, RnnTensorStats, RnnTimestepStats } from '../models/rnn-model.ts';

export interface RnnTrainerOptions {
  /** step-per-dispatch or persistent; default per adapter and size (defaultRnnVariant). */
  variant?: RnnVariant;
  matmulVariant?: MatmulVariant;
}

/** A vanilla RNN on the GPU with its BPTT step recorded once: `RnnTrainer.create(ctx, config)`, then `run(steps, onStep)`; `destroy()` when done. */
export class RnnTrainer extends Trainer<RnnStepStats, RnnModel> {
  static async create(ctx: GpuContext, config: RnnConfig, options: RnnTrainerOptions = {}): Promise<RnnTrainer> {
    RnnTrainer.checkFits(ctx, config);
    const trainer = new RnnTrainer(ctx, new RnnModel(config, ctx.summary, options));
    await trainer.build();
    return trainer;
  }

  /** Refuses, before anything is allocated or tuned, a config that does not fit the adapter. */
  static checkFits(ctx: GpuContext, config: RnnConfig, plan?: RnnPlan): void {
    checkRnnFits(ctx, config, plan);
  }

  get plan(): RnnPlan {
    return this.model.plan;
  }

  get config(): RnnConfig {
    return this.model.config;
  }

  /** The recurrence kernels that run: step-per-dispatch or persistent. */
  get variant(): RnnVariant {
    return this.model.variant;
  }

  /** h_t for t = 1..T: [T, B, H]. */
  readHidden(): Promise<Float32Array> {
    return this.model.readHidden(this.ctx);
  }

  /** ∂L/∂h_t for t = 1..T: [T, B, H]. */
  readHiddenGrads(): Promise<Float32Array> {
    return this.model.readHiddenGrads(this.ctx);
  }
}
