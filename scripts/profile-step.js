#!/usr/bin/env node
// `npm run profile-step -- [--variant NAME|tuned] [--depth L] [--width N] [--batch B] [--steps K]`:
// where one MLP training step's time goes, per kernel, on this machine's
// adapter. The step is the bench's (relu, probe loss, SGD; default depth 50,
// width 256, batch 64). It prints the median wall time of K steps (submit to
// stats read back, as `bench` times mlp.step), then Trainer.profileStep():
// every dispatch of one step in its own timed pass, summed by kernel label.
// `tuned` (the default) uses the autotuner's choices from the tuning cache
// (measuring what it lacks, re-checking stored ones against the untuned
// default, as `bench` does); `untuned` the per-size defaults; any other name
// forces that matmul variant. Runs the compiled engine in dist/ (the npm
// script builds it first). Plain JavaScript: no TypeScript runner is a dependency.
import { parseArgs } from 'node:util';
import { acquireGpu, MlpTrainer, ensureTuned, mlpMatmulUses, planMlp } from '../dist/src/index.node.js';
import { fileTuningStore } from '../dist/src/cli/tuning.js';
import { mlpBenchConfig } from '../dist/bench/models.js';

const { values } = parseArgs({
  options: {
    variant: { type: 'string', default: 'tuned' },
    depth: { type: 'string', default: '50' },
    width: { type: 'string', default: '256' },
    batch: { type: 'string', default: '64' },
    steps: { type: 'string', default: '5' },
  },
});
const shape = { depth: Number(values.depth), width: Number(values.width), batch: Number(values.batch) };
const steps = Math.max(1, Number(values.steps));
const config = mlpBenchConfig(shape);
const ctx = await acquireGpu();
try {
  if (values.variant === 'tuned') {
    const uses = Object.values(mlpMatmulUses(planMlp(config), config.batch));
    await ensureTuned(ctx, uses, { store: fileTuningStore(), recheck: true });
  }
  const forced = values.variant === 'tuned' || values.variant === 'untuned' ? undefined : values.variant;
  const trainer = await MlpTrainer.create(ctx, config, { matmulVariant: forced });
  try {
    await trainer.submitStep(); // warm-up: first touch of every buffer
    const times = [];
    for (let i = 0; i < steps; i++) {
      const start = performance.now();
      await trainer.submitStep();
      times.push(performance.now() - start);
    }
    times.sort((x, y) => x - y);
    const median = times[times.length >> 1];
    process.stdout.write(`MLP step, depth ${shape.depth}, width ${shape.width}, batch ${shape.batch} (${values.variant}): median ${median.toFixed(1)} ms of ${steps} (${times.map((t) => t.toFixed(0)).join(' ')}), ${trainer.dispatchCount} dispatches\n`);
    const rows = await trainer.profileStep();
    const total = rows.reduce((sum, row) => sum + row.ms, 0);
    process.stdout.write(`profile (each dispatch in its own timed pass): ${total.toFixed(1)} ms\n`);
    for (const row of rows) {
      process.stdout.write(`${row.ms.toFixed(1).padStart(9)} ms ${((100 * row.ms) / total).toFixed(1).padStart(5)} %  ×${String(row.dispatches).padEnd(4)} ${row.label}\n`);
    }
  } finally {
    trainer.destroy();
  }
} finally {
  ctx.destroy();
}
