import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/context.ts';
import { LSTM_DEFAULTS, lstmMemoryPlan, planLstm, type LstmConfig } from '../../src/models/lstm.ts';
import { LstmModel } from '../../src/models/lstm-model.ts';

/** A context that records the storage buffers a model allocates (no GPU). */
function recordingContext(): { ctx: GpuContext; storage: Map<string, number> } {
  const storage = new Map<string, number>();
  const fake = { destroy() {} };
  const ctx = {
    createStorage: (label: string, bytes: number) => (storage.set(label, bytes), fake),
    upload: () => fake,
  } as unknown as GpuContext;
  return { ctx, storage };
}

describe('lstmMemoryPlan', () => {
  it('counts every state buffer LstmModel.allocate creates (T 3, H 5, batch 3, parameters and optimizer state aside)', () => {
    const config: LstmConfig = { ...LSTM_DEFAULTS, seqLen: 3, width: 5, input: 2, output: 1, batch: 3, task: 'adding', loss: 'mse', optimizer: 'adam' };
    const { ctx, storage } = recordingContext();
    new LstmModel(config).allocate(ctx);
    const memory = lstmMemoryPlan(config);
    const p = planLstm(config).paramElements * 4;
    const states = [...storage.values()].reduce((a, b) => a + b, 0);
    // Parameters, gradients and Adam's two moments are the trainer's arenas, not the model's buffers.
    expect(memory.totalBytes - 4 * p).toBe(states);
    expect(storage.has('lstm.dcf')).toBe(true);
  });
});
