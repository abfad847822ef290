/**
 * The benchmark suite: matmul (model shapes and square sizes, every variant
 * and layout, within a time budget), relu and the segment norm in GB/s, and
 * whole MLP and RNN training steps, with TF.js's WebGPU backend and plain JS
 * as baselines on the same adapter in the same run. Browser-safe: no `node:`
 * import and no TF.js import (the plan carries a loader), so the CLI and the
 * demo page run the same suite.
 */
import type { GpuContext } from '../src/gpu/context.ts';
import { DeviceLostError } from '../src/gpu/errors.ts';
import { defaultMatmulVariant, matmulTilingName, parseMatmulVariant, type MatmulDims, type MatmulLayout } from '../src/kernels/matmul.ts';
import { RNN_VARIANTS } from '../src/kernels/rnn.ts';
import { uniformData } from '../src/conformance/data.ts';
import { BenchBudget } from './budget.ts';
import { benchMatmulVariant, type MatmulOperands } from './matmul.ts';
import { measure, wallClockSampler, type Measurement } from './measure.ts';
import { bandwidthData, benchBandwidth, BYTES_PER_ELEMENT, type BandwidthKernel } from './memory-bound.ts';
import { benchMlpStep, benchTfjsMlpStep, mlpShapeName, MLP_STEP_KERNEL } from './mlp-step.ts';
import { mlpBenchConfig } from './models.ts';
import { PYTORCH_LABEL, PYTORCH_VARIANT, pytorchFigure, type PytorchStepTiming } from './pytorch-baseline.ts';
import type { MlpConfig } from '../src/models/config.ts';
import { BENCH_MLP, BENCH_RNN, benchTuningUses, MODEL_SHAPE_ROLES, PLAIN_JS_MAX_SIZE, shapeName, TUNED_VARIANT, type BenchPlan } from './plan.ts';
import { classesOf, ensureTuned, tuningKey, type TunedEntry } from '../src/tune/tuner.ts';
import { plainMatmul } from './plain-js.ts';
import {
  BENCH_SCHEMA,
  computeRatios,
  timedFields,
  type BaselineVariant,
  type BenchAdapter,
  type BenchBaseline,
  type BenchEntry,
  type BenchPytorch,
  type BenchReport,
  type BenchSkipped,
  type BenchTuning,
} from './report.ts';
import { benchRnnStep, benchTfjsRnnStep, rnnShapeName, RNN_STEP_KERNEL } from './rnn-step.ts';
import { gbps, matmulFlops } from './stats.ts';
import { tfjsMatmulSampler, tfjsReluSampler, type OwnedSampler, type Tfjs } from './tfjs-baseline.ts';

export type BenchEvent =
  | { type: 'progress'; message: string }
  | { type: 'entry'; entry: BenchEntry }
  | { type: 'baseline'; baseline: BenchBaseline }
  | { type: 'skipped'; skipped: BenchSkipped }
  /** The autotuner measured a shape class (before the timings that use it). */
  | { type: 'tuned'; entry: TunedEntry };

/** Plain JS runs cells up to the work of a PLAIN_JS_MAX_SIZE³ matmul. */
const PLAIN_JS_MAX_FLOPS = matmulFlops(PLAIN_JS_MAX_SIZE, PLAIN_JS_MAX_SIZE, PLAIN_JS_MAX_SIZE);

/** Matmuls that share their operands: one model shape in its layout, or one square size in every layout. */
interface MatmulGroup {
  dims: MatmulDims;
  layouts: readonly MatmulLayout[];
  note?: string;
}

function matmulGroups(plan: BenchPlan): MatmulGroup[] {
  const models = plan.shapes.map((s) => ({ dims: s.dims, layouts: [s.layout], note: MODEL_SHAPE_ROLES[s.name] }));
  const squares = [...new Set(plan.sizes)].sort((x, y) => x - y).map((n) => ({ dims: { m: n, n, k: n }, layouts: plan.layouts }));
  return [...models, ...squares];
}

function adapterOf(ctx: GpuContext): BenchAdapter {
  const { vendor, architecture, description, device, software, backend } = ctx.summary;
  return { vendor, architecture, description, device, software, backend, timestampQuery: ctx.hasTimestamps };
}

export interface BenchRunOptions {
  /** Stops the run at the next cell (throwing the signal's reason): a page's Cancel. */
  signal?: AbortSignal;
  /**
   * Times the MLP step in PyTorch on the CPU (Node: src/cli/pytorch.ts); absent in the page.
   * Its figure goes to the report's `pytorch` field, or why it could not run to `skipped`.
   */
  pytorchMlpStep?: (config: MlpConfig, runs: number) => Promise<PytorchStepTiming>;
}

export async function runBenchSuite(
  ctx: GpuContext,
  plan: BenchPlan,
  onEvent: (event: BenchEvent) => void = () => {},
  options: BenchRunOptions = {},
): Promise<BenchReport> {
  const { signal } = options;
  /** Why a cell failed, for its skip; a lost device and a cancel end the run instead. */
  const errorMessage = (error: unknown): string => {
    // A lost device ends the run: every later number would be missing anyway.
    if (error instanceof DeviceLostError) throw error;
    if (signal?.aborted) throw signal.reason;
    return error instanceof Error ? error.message : String(error);
  };
  const entries: BenchEntry[] = [];
  const baselines: BenchBaseline[] = [];
  const skipped: BenchSkipped[] = [];
  const addEntry = (entry: BenchEntry) => {
    entries.push(entry);
    onEvent({ type: 'entry', entry });
  };
  const addBaseline = (baseline: BenchBaseline) => {
    baselines.push(baseline);
    onEvent({ type: 'baseline', baseline });
  };
  const skip = (item: BenchSkipped) => {
    skipped.push(item);
    onEvent({ type: 'skipped', skipped: item });
  };
  const progress = (message: string) => {
    signal?.throwIfAborted();
    onEvent({ type: 'progress', message });
  };

  // TF.js is loaded on first use, once; when it cannot start, that is said once and its baselines are left out.
  let tfjs: Promise<Tfjs | null> | null = null;
  const loadTfjs = (): Promise<Tfjs | null> => {
    const loader = plan.loadTfjs;
    if (!loader) return Promise.resolve(null);
    tfjs ??= loader().catch((error: unknown) => {
      skip({ kernel: 'all', shape: 'all', variant: 'tfjs-webgpu', reason: `TF.js's WebGPU backend did not start: ${errorMessage(error)}` });
      return null;
    });
    return tfjs;
  };

  /** Times a baseline sampler and records it (or why it could not run). */
  const runBaseline = async (
    what: { kernel: string; shape: string; variant: BaselineVariant; note?: string },
    owned: () => OwnedSampler,
    rate: (m: Measurement) => Pick<BenchBaseline, 'gflops' | 'gbps'>,
  ): Promise<Measurement | null> => {
    try {
      const sampler = owned();
      try {
        const m = await measure(sampler.sample, plan.runs);
        addBaseline({ ...what, ...timedFields(m), ...rate(m) });
        return m;
      } finally {
        sampler.dispose();
      }
    } catch (error) {
      skip({ kernel: what.kernel, shape: what.shape, variant: what.variant, reason: errorMessage(error) });
      return null;
    }
  };

  let tuning: BenchTuning | undefined;
  if (plan.tuning) {
    const uses = benchTuningUses(plan);
    const { store, retune, recheck = true } = plan.tuning;
    try {
      const result = await ensureTuned(ctx, uses, {
        store,
        retune,
        signal,
        onClass: (shapeClass, i, total) => progress(`autotuner: measuring ${shapeClass} [${i + 1}/${total}]${retune ? ' (retune)' : ''}…`),
        // A stored winner is timed again against the untuned default at the real shape, so `tuned` is never slower than the default here.
        recheck,
        onRecheck: (entry, r) => progress(`autotuner: re-checked ${entry.shapeClass} at ${r.dims.m}×${r.dims.n}×${r.dims.k}: ${r.candidates.map((c) => `${c.variant} ${c.ms.toPrecision(3)} ms`).join(', ')} → ${entry.variant}`),
      });
      for (const entry of result.tuned) onEvent({ type: 'tuned', entry });
      if (result.storeProblem) progress(`autotuner: set the stored table aside (${result.storeProblem})`);
      const measured = new Set(result.tuned.map((e) => e.shapeClass));
      const classes = classesOf(uses).flatMap(({ shapeClass }) => {
        const entry = result.table.entries[shapeClass];
        return entry ? [{ shapeClass, variant: entry.variant, ms: entry.ms, measured: measured.has(shapeClass) }] : [];
      });
      // `where` names the table only where it was kept (a failed save leaves it null).
      const kept = store !== null && result.saved !== false;
      tuning = { key: tuningKey(ctx.summary), where: kept ? store.where(result.table.key) : null, classes };
    } catch (error) {
      // The tuned entries then run the engine's defaults; the report says why.
      skip({ kernel: 'autotuner', shape: 'all', variant: TUNED_VARIANT, reason: errorMessage(error) });
    }
  }

  if (plan.kernels.includes('matmul')) {
    const budget = new BenchBudget(plan.maxSeconds * 1000);
    for (const group of matmulGroups(plan)) {
      const { dims } = group;
      const shape = shapeName(dims);
      const flops = matmulFlops(dims.m, dims.n, dims.k);
      const gflops = (m: Measurement) => ({ gflops: flops / (m.medianMs * 1e6) });
      const operands: MatmulOperands = { dims, a: uniformData(dims.m * dims.k, dims.m + 3 * dims.k), b: uniformData(dims.k * dims.n, dims.n + 5 * dims.k) };
      /** Runs a cell when the budget allows it, and records its throughput for the next prediction. */
      const withinBudget = async (runner: string, kernel: string, variant: string, run: () => Promise<Measurement | null>) => {
        const decision = budget.decide(runner, flops, plan.runs);
        if (!decision.run) {
          const reason = `over the time budget: ~${(decision.estimateMs / 1000).toFixed(0)} s estimated at ${budget.gflops(runner)?.toPrecision(2)} GFLOP/s, ${(decision.leftMs / 1000).toFixed(0)} s of ${plan.maxSeconds} s left`;
          skip({ kernel, shape, variant, reason });
          return;
        }
        progress(`${kernel} ${shape} ${variant}${decision.estimateMs === null ? '' : ` (~${(decision.estimateMs / 1000).toFixed(1)} s)`}…`);
        const m = await run();
        if (m) budget.record(runner, flops, m.medianMs);
      };
      for (const layout of group.layouts) {
        const kernel = `matmul.${layout}`;
        const note = group.note;
        for (const variant of plan.variants) {
          await withinBudget(`${variant}/${layout}`, kernel, variant, async () => {
            try {
              const { measurement: m, check, tiling } = await benchMatmulVariant(ctx, variant, layout, operands, plan.runs);
              const maxError = Number.isNaN(check.maxError) ? null : check.maxError;
              // A tuned entry names the tiling it ran; so does a forced one that ran another (a vec4 tiling at sizes it cannot read runs with scalar loads).
              const requested = variant === TUNED_VARIANT ? null : matmulTilingName(parseMatmulVariant(variant));
              const ran = requested === null ? tiling : requested === tiling ? undefined : `ran ${tiling}: ${parseMatmulVariant(variant).variant === 'subgroup' ? 'vec4 loads or quad stores (N a multiple of 4)' : 'vec4 loads'} do not fit these sizes`;
              const entryNote = [note, ran].filter(Boolean).join('; ');
              addEntry({ kernel, shape, variant, ...timedFields(m), ...gflops(m), maxError, withinTolerance: check.withinTolerance, ...(entryNote ? { note: entryNote } : {}) });
              return m;
            } catch (error) {
              skip({ kernel, shape, variant, reason: errorMessage(error) });
              return null;
            }
          });
        }
        if (plan.plainJs && flops <= PLAIN_JS_MAX_FLOPS) {
          const c = new Float32Array(dims.m * dims.n);
          await withinBudget(`plain-js/${layout}`, kernel, 'plain-js', () =>
            runBaseline(
              { kernel, shape, variant: 'plain-js' },
              () => ({ sample: wallClockSampler((repeat) => { for (let r = 0; r < repeat; r++) plainMatmul(layout, dims, operands.a, operands.b, c); }), dispose: () => {} }),
              gflops,
            ),
          );
        }
        const tf = await loadTfjs();
        if (tf) await withinBudget(`tfjs-webgpu/${layout}`, kernel, 'tfjs-webgpu', () => runBaseline({ kernel, shape, variant: 'tfjs-webgpu' }, () => tfjsMatmulSampler(tf, layout, operands), gflops));
      }
    }
  }

  const bandwidthKernels = plan.kernels.filter((k): k is BandwidthKernel => k === 'relu' || k === 'reduce');
  if (bandwidthKernels.length > 0) {
    for (const count of plan.elementCounts) {
      progress(`${bandwidthKernels.join(', ')} over ${count} elements…`);
      const data = bandwidthData(count);
      try {
        for (const entry of await benchBandwidth(ctx, bandwidthKernels, data, plan.runs)) addEntry(entry);
      } catch (error) {
        skip({ kernel: bandwidthKernels.join(','), shape: `${count}`, variant: 'elementwise', reason: errorMessage(error) });
      }
      const tf = bandwidthKernels.includes('relu') ? await loadTfjs() : null;
      if (tf) {
        await runBaseline({ kernel: 'relu.forward', shape: `${count}`, variant: 'tfjs-webgpu' }, () => tfjsReluSampler(tf, data.x), (m) => ({ gbps: gbps(BYTES_PER_ELEMENT['relu.forward'] * count, m.medianMs) }));
      }
    }
  }

  let pytorch: BenchPytorch | undefined;
  if (plan.kernels.includes('mlp-step')) {
    // With tuning, the trainer's own choice per shape class (as `gradstorm stress` runs it); without, the family default.
    const variant = plan.tuning ? TUNED_VARIANT : defaultMatmulVariant(ctx.summary);
    progress(`MLP training step, depth ${BENCH_MLP.depth}, width ${BENCH_MLP.width}, batch ${BENCH_MLP.batch} (${variant})…`);
    let gradstormMs: number | undefined;
    try {
      const entry = await benchMlpStep(ctx, BENCH_MLP, variant, plan.runs);
      gradstormMs = entry.ms;
      addEntry(entry);
    } catch (error) {
      skip({ kernel: MLP_STEP_KERNEL, shape: mlpShapeName(BENCH_MLP), variant, reason: errorMessage(error) });
    }
    if (options.pytorchMlpStep) {
      progress(`the same step in ${PYTORCH_LABEL}…`);
      try {
        const timing = await options.pytorchMlpStep(mlpBenchConfig(BENCH_MLP), plan.runs);
        pytorch = pytorchFigure(timing, { kernel: MLP_STEP_KERNEL, shape: mlpShapeName(BENCH_MLP) }, gradstormMs);
      } catch (error) {
        skip({ kernel: MLP_STEP_KERNEL, shape: mlpShapeName(BENCH_MLP), variant: PYTORCH_VARIANT, reason: `${PYTORCH_LABEL} absent: ${errorMessage(error)}` });
      }
    }
    const tf = await loadTfjs();
    if (tf) {
      progress('the same step in TF.js (variableGrads + SGD)…');
      try {
        addBaseline(await benchTfjsMlpStep(tf, BENCH_MLP, plan.runs));
      } catch (error) {
        skip({ kernel: MLP_STEP_KERNEL, shape: mlpShapeName(BENCH_MLP), variant: 'tfjs-webgpu', reason: errorMessage(error) });
      }
    }
  }

  if (plan.kernels.includes('rnn')) {
    for (const variant of RNN_VARIANTS) {
      progress(`RNN BPTT step, T ${BENCH_RNN.seqLen}, H ${BENCH_RNN.width}, B ${BENCH_RNN.batch} (${variant})…`);
      try {
        for (const entry of await benchRnnStep(ctx, BENCH_RNN, variant, plan.runs)) addEntry(entry);
      } catch (error) {
        skip({ kernel: RNN_STEP_KERNEL, shape: rnnShapeName(BENCH_RNN), variant, reason: errorMessage(error) });
      }
    }
    const tf = await loadTfjs();
    if (tf) {
      progress('the same step in TF.js (unrolled loop + variableGrads)…');
      try {
        addBaseline(await benchTfjsRnnStep(tf, BENCH_RNN, plan.runs));
      } catch (error) {
        skip({ kernel: RNN_STEP_KERNEL, shape: rnnShapeName(BENCH_RNN), variant: 'tfjs-webgpu', reason: errorMessage(error) });
      }
    }
  }

  return {
    schema: BENCH_SCHEMA,
    version: plan.version,
    adapter: adapterOf(ctx),
    runs: plan.runs,
    maxSeconds: plan.maxSeconds,
    entries,
    baselines,
    ratios: computeRatios(entries, baselines),
    skipped,
    ...(tuning ? { tuning } : {}),
    ...(pytorch ? { pytorch } : {}),
  };
}
