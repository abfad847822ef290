/**
 * The report schemas, written once (zod 4) and used everywhere: the CLI's
 * writers are tested against them, the page reads report files through
 * them, the library exports them, and `schemas/*.schema.json` (JSON Schema,
 * for other tools) are generated from them by `npm run gen-schemas`.
 *
 * Why zod: the TypeScript types follow from the one definition (z.infer),
 * it exports JSON Schema itself (z.toJSONSchema), and it validates without
 * code generation or eval, so it runs under a page's Content-Security-Policy.
 *
 * What is validated is the JSON (JSON.parse of the file): numbers that may be
 * non-finite in memory (a loss of NaN, a norm past float64) are written by
 * JSON.stringify as null, so those fields are `number | null`. Objects accept
 * fields they do not name (reports gain fields, never lose them: DESIGN.md).
 */
import { z } from 'zod';
import { ACTIVATIONS } from '../kernels/elementwise.ts';
import { LOSS_KINDS } from '../kernels/loss.ts';
import { OPTIMIZER_KINDS } from '../kernels/optim.ts';
import { RNN_VARIANTS } from '../kernels/rnn.ts';
import { INTERRUPTION_REASONS } from '../scheduler/interruption.ts';
import { INITS, NORMS, NORM_PLACES } from '../models/config.ts';
import { LOSS_AT, RNN_INITS, RNN_TASKS } from '../models/rnn.ts';
import { LSTM_TENSORS } from '../models/lstm.ts';

// No generated code, not even zod's probe for it: a page with a strict
// Content-Security-Policy reports the caught `new Function("")` as a
// violation. Set before any schema below is built (zod reads it then).
z.config({ jitless: true });

// ---------------------------------------------------------------------------
// Building blocks

const enumOf = <T extends string>(values: readonly T[]) => z.enum(values as [T, ...T[]]);
/** A number JSON may carry as null (NaN, ±Infinity in memory). */
const num = z.number().nullable();
const count = z.int().min(0);
const positiveInt = z.int().min(1);
const nonEmpty = z.string().min(1);

export const clipSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('none') }),
  z.object({ kind: z.enum(['norm', 'value']), threshold: z.number().positive() }),
]);

/** The training fields every model's config has (--steps, --lr, --optimizer, --clip, --seed). */
const trainingFields = {
  steps: positiveInt,
  lr: z.number().min(0),
  optimizer: enumOf(OPTIMIZER_KINDS),
  clip: clipSchema,
  seed: count,
};

export const mlpConfigSchema = z.object({
  model: z.literal('mlp'),
  depth: positiveInt,
  width: positiveInt,
  input: positiveInt,
  output: positiveInt,
  batch: positiveInt,
  activation: enumOf(ACTIVATIONS),
  init: enumOf(INITS),
  gain: z.number().positive(),
  biasStd: z.number().min(0),
  loss: enumOf(LOSS_KINDS),
  ...trainingFields,
  residual: z.number().min(0).optional(),
  /** `--norm` (absent: none): 'layer' puts a LayerNorm in each residual block. */
  norm: z.enum(NORMS).optional(),
  /** `--norm-place` (with norm 'layer'): 'pre' (the branch input) or 'post' (the block's sum). */
  normPlace: z.enum(NORM_PLACES).optional(),
});

export const rnnConfigSchema = z.object({
  model: z.literal('rnn'),
  seqLen: positiveInt,
  width: positiveInt,
  input: positiveInt,
  output: positiveInt,
  batch: positiveInt,
  activation: enumOf(ACTIVATIONS),
  init: enumOf(RNN_INITS),
  gain: z.number().positive(),
  biasStd: z.number().min(0),
  task: enumOf(RNN_TASKS),
  loss: enumOf(LOSS_KINDS),
  lossAt: enumOf(LOSS_AT),
  bptt: z.union([positiveInt, z.literal('full')]),
  ...trainingFields,
});

export const lstmConfigSchema = z.object({
  model: z.literal('lstm'),
  seqLen: positiveInt,
  width: positiveInt,
  input: positiveInt,
  output: positiveInt,
  batch: positiveInt,
  /** W_hh ~ N(0, gain²/H). */
  gain: z.number().min(0),
  /** The forget gate's bias (every unit). */
  forgetBias: z.number(),
  task: enumOf(RNN_TASKS),
  loss: enumOf(LOSS_KINDS),
  ...trainingFields,
});

/** `runtime` and `browser`: written by `--runtime chrome` (and gradstorm/puppeteer); absent from Node's reports. */
const runAdapterSchema = z.object({
  vendor: z.string(),
  architecture: z.string(),
  description: z.string(),
  runtime: z.enum(['node', 'chrome']).optional(),
  browser: z.string().optional(),
});

/** The adapter as sweep and check reports describe it. */
const fullAdapterSchema = runAdapterSchema.extend({ device: z.string(), software: z.boolean(), backend: z.string() });

const timingSchema = z.object({ stepMs: z.array(z.number()), medianStepMs: z.number() });

/** Shared contract 1: present only on a run that stopped before its last step. */
const interruptionFields = {
  interrupted: z.literal(true).optional(),
  interruption: z.object({ reason: z.enum(INTERRUPTION_REASONS), stepReached: count, message: z.string() }).optional(),
};

// ---------------------------------------------------------------------------
// Steps (shared contract 2: gradNorm null when nonfinite > 0, finiteGradNorm beside it)

const stepCommon = {
  step: positiveInt,
  loss: num,
  gradNorm: num,
  finiteGradNorm: num.optional(),
  clipScale: num,
  nonfinite: count,
};

export const layerStatsSchema = z.object({
  index: positiveInt,
  weightGradNorm: num,
  biasGradNorm: num,
  deltaNorm: num,
  activationNorm: num,
  weightNorm: num,
  maxAbsGrad: num,
  nonfinite: count.optional(),
  /** `--norm layer`, at a block: ‖(∂L/∂γ_l, ∂L/∂β_l)‖ of its LayerNorm. */
  normGradNorm: num.optional(),
});

export const mlpStepSchema = z.object({
  ...stepCommon,
  nonfiniteLayer: positiveInt.nullable().optional(),
  /** The CLI keeps per-layer rows for a bounded number of steps; the others have []. */
  layers: z.array(layerStatsSchema),
  /** Always [] for an MLP (the run report's per-timestep list). */
  timesteps: z.array(z.object({ t: positiveInt, hiddenGradNorm: num })).optional(),
});

export const rnnTimestepSchema = z.object({
  t: positiveInt,
  hiddenGradNorm: num,
  /** Finite wherever some entry is, even past float64's range of the norm. */
  log10HiddenGradNorm: num.optional(),
  hiddenNorm: num,
});

export const rnnStepSchema = z.object({
  ...stepCommon,
  nonfiniteTimestep: positiveInt.nullable().optional(),
  layers: z.tuple([]),
  tensors: z
    .array(z.object({ name: z.enum(['Wxh', 'Whh', 'bh', 'Why', 'by']), gradNorm: num, norm: num, maxAbsGrad: num, nonfinite: count }))
    .optional(),
  timesteps: z.array(rnnTimestepSchema),
});

export const lstmTimestepSchema = z.object({
  t: positiveInt,
  hiddenGradNorm: num,
  log10HiddenGradNorm: num,
  hiddenNorm: num,
  /** ‖∂L/∂c_t‖ (both paths) and ‖f_t ⊙ ∂L/∂c_t‖ (the cell path's share of ∂L/∂c_{t−1}). */
  cellGradNorm: num,
  log10CellGradNorm: num,
  cellPathGradNorm: num,
  log10CellPathGradNorm: num,
  forgetRms: num,
  forgetMax: num,
});

export const lstmStepSchema = z.object({
  ...stepCommon,
  nonfiniteTimestep: positiveInt.nullable(),
  layers: z.tuple([]),
  tensors: z.array(z.object({ name: z.enum(LSTM_TENSORS), gradNorm: num, norm: num, maxAbsGrad: num, nonfinite: count })),
  timesteps: z.array(lstmTimestepSchema),
});

// ---------------------------------------------------------------------------
// Verdicts (shared contract 3)

export const initVerdictSchema = z.object({ status: z.enum(['exploding', 'vanishing', 'stable']), summary: z.string() });

export const trainingVerdictSchema = z.object({
  status: z.enum(['finite', 'diverged', 'rescued-by-clipping']),
  steps: count,
  divergedAtStep: positiveInt.nullable(),
  divergedAtLayer: positiveInt.nullable(),
  lossFirst: num,
  lossLast: num,
  stepsClipped: count,
  summary: z.string(),
});

const verdictCommon = {
  status: z.enum(['stable', 'exploding', 'vanishing', 'diverged']),
  firstNonfiniteStep: positiveInt.nullable(),
  totalChangeDecades: num.optional(),
  growthStdError: num.optional(),
  fittedPoints: count.optional(),
  zeroGradientCount: count.optional(),
  reason: z.string().optional(),
  /** Optional so that reports written before the two verdicts still read. */
  init: initVerdictSchema.optional(),
  training: trainingVerdictSchema.optional(),
};

export const mlpVerdictSchema = z.object({
  ...verdictCommon,
  growthPerLayer: num.optional(),
  predictedGrowthPerLayer: num.optional(),
  predictedGrowthPerLayerFiniteWidth: num.optional(),
  predictionMethod: z.string(),
  predictedLog10Ratio: num,
  predictedLog10RatioFiniteWidth: num.optional(),
  agreement: z.object({ tolerance: z.object({ bias: z.number(), halfWidth: z.number() }), agrees: z.boolean() }).nullable(),
  profile: z
    .object({ measuredLog10Ratio: z.number(), predictedLog10Ratio: z.number(), measuredLog10OutputRatio: z.number(), predictedLog10OutputRatio: z.number(), maxGapDecades: z.number() })
    .optional(),
});

export const rnnVerdictSchema = z.object({
  ...verdictCommon,
  growthPerStep: num.optional(),
  predictedGrowthPerStep: num.optional(),
  predictionMethod: z.enum(['exact-orthogonal', 'pascanu-condition']),
  predictionNote: z.string(),
  sigmaMax: z.number(),
  fittedTimesteps: z.tuple([positiveInt, positiveInt]),
});

export const lstmVerdictSchema = z.object({
  ...verdictCommon,
  growthPerStep: num.optional(),
  predictedGrowthPerStep: num.optional(),
  predictionMethod: z.literal('lstm-cell-path'),
  predictionNote: z.string(),
  fittedTimesteps: z.tuple([positiveInt, positiveInt]),
  /** The cell-path theory (src/scheduler/lstm-run.ts): measured and predicted decades per step of ‖∂L/∂c_t‖. */
  cellTheory: z.object({
    measuredGrowthPerStep: num,
    predictedGrowthPerStep: num,
    forgetRmsGrowthPerStep: num,
    meanForgetRms: num,
    fittedTimesteps: z.tuple([positiveInt, positiveInt]),
    agrees: z.boolean().nullable(),
    tolerance: num,
  }),
});

// ---------------------------------------------------------------------------
// gradstorm.run/1

/** The `schema` field of run reports (MLP, RNN and LSTM). */
export const RUN_SCHEMA_NAME = 'gradstorm.run/1';

type Refine = { addIssue: (issue: { code: 'custom'; path: (string | number)[]; message: string; input?: unknown }) => void };

/** Per-position rows: as many as the config's depth (seqLen), numbered 1..n, or none for a step without them. */
function checkRows(rows: readonly { index?: number; t?: number }[], n: number, path: (string | number)[], what: string, ctx: Refine): void {
  if (rows.length !== n && rows.length !== 0) {
    ctx.addIssue({ code: 'custom', path, message: `expected an array of ${n} ${what}s (config.${what === 'layer' ? 'depth' : 'seqLen'}), or [] for a step without per-${what} rows, got ${rows.length}` });
    return;
  }
  rows.forEach((r, j) => {
    const got = r.index ?? r.t;
    if (got !== j + 1) ctx.addIssue({ code: 'custom', path: [...path, j, what === 'layer' ? 'index' : 't'], message: `expected ${j + 1} (${what}s run 1..${n} from the ${what === 'layer' ? 'input' : 'first step'}), got ${got}` });
  });
}

/** An MLP run report (`gradstorm stress --json`), as zod validates it. */
export const mlpRunReportSchema = z
  .object({
    schema: z.literal(RUN_SCHEMA_NAME),
    config: mlpConfigSchema,
    adapter: runAdapterSchema,
    steps: z.array(mlpStepSchema),
    verdict: mlpVerdictSchema,
    /** The theory's curve, l = 1..L−1 (log10DeltaRelative: the line drawn; log10DeltaMeanField: infinite width). */
    prediction: z.array(z.object({ layer: positiveInt, log10DeltaRelative: num, log10DeltaMeanField: num.optional() })).optional(),
    timing: timingSchema.optional(),
    ...interruptionFields,
  })
  .superRefine((r, ctx) => r.steps.forEach((s, i) => checkRows(s.layers, r.config.depth, ['steps', i, 'layers'], 'layer', ctx)));

/** An RNN run report (`gradstorm stress --model rnn --json`), as zod validates it. */
export const rnnRunReportSchema = z
  .object({
    schema: z.literal(RUN_SCHEMA_NAME),
    config: rnnConfigSchema,
    adapter: runAdapterSchema,
    variant: enumOf(RNN_VARIANTS),
    steps: z.array(rnnStepSchema),
    verdict: rnnVerdictSchema,
    timing: timingSchema.optional(),
    ...interruptionFields,
  })
  .superRefine((r, ctx) => r.steps.forEach((s, i) => checkRows(s.timesteps, r.config.seqLen, ['steps', i, 'timesteps'], 'timestep', ctx)));

/** An LSTM run report (`gradstorm stress --model lstm --json`), as zod validates it. */
export const lstmRunReportSchema = z
  .object({
    schema: z.literal(RUN_SCHEMA_NAME),
    config: lstmConfigSchema,
    adapter: runAdapterSchema,
    steps: z.array(lstmStepSchema),
    verdict: lstmVerdictSchema,
    timing: timingSchema.optional(),
    ...interruptionFields,
  })
  .superRefine((r, ctx) => r.steps.forEach((s, i) => checkRows(s.timesteps, r.config.seqLen, ['steps', i, 'timesteps'], 'timestep', ctx)));

/** Every model's run report (JSON Schema: anyOf; validateReport picks the branch by config.model). */
export const runReportSchema = z.union([mlpRunReportSchema, rnnRunReportSchema, lstmRunReportSchema]);

// ---------------------------------------------------------------------------
// gradstorm.bench/1

/** The `schema` field of benchmark reports. */
export const BENCH_SCHEMA_NAME = 'gradstorm.bench/1';
export const BASELINE_VARIANT_NAMES = ['tfjs-webgpu', 'plain-js'] as const;
const positive = z.number().positive();

const timedFields = {
  kernel: nonEmpty,
  shape: nonEmpty,
  variant: nonEmpty,
  ms: positive,
  minMs: positive,
  maxMs: positive,
  runs: positiveInt,
  repeat: positiveInt,
  gflops: positive.optional(),
  gbps: positive.optional(),
  timing: z.enum(['gpu-timestamps', 'wall-clock']),
  note: nonEmpty.optional(),
};

function checkTimed(t: { ms: number; minMs: number; maxMs: number; gflops?: number; gbps?: number }, ctx: Refine): void {
  if (!(t.minMs <= t.ms && t.ms <= t.maxMs)) ctx.addIssue({ code: 'custom', path: [], message: `expected minMs ≤ ms ≤ maxMs, got ${t.minMs} ≤ ${t.ms} ≤ ${t.maxMs}` });
  if (t.gflops !== undefined && t.gbps !== undefined) ctx.addIssue({ code: 'custom', path: [], message: 'has both gflops and gbps; a kernel is rated in one of them' });
}

/** A benchmark report (`gradstorm bench --json`), as zod validates it. */
export const benchReportSchema = z.object({
  schema: z.literal(BENCH_SCHEMA_NAME),
  version: nonEmpty,
  adapter: z.object({
    vendor: z.string(),
    architecture: z.string(),
    description: z.string(),
    device: z.string(),
    software: z.boolean(),
    backend: nonEmpty,
    timestampQuery: z.boolean(),
  }),
  runs: positiveInt,
  maxSeconds: positive,
  entries: z.array(
    z.object({ ...timedFields, maxError: z.number().min(0).nullable(), withinTolerance: z.boolean().optional() }).superRefine(checkTimed),
  ),
  baselines: z.array(z.object({ ...timedFields, variant: z.enum(BASELINE_VARIANT_NAMES) }).superRefine(checkTimed)),
  ratios: z.array(z.object({ kernel: nonEmpty, shape: nonEmpty, variant: nonEmpty, baseline: z.enum(BASELINE_VARIANT_NAMES), speedup: positive })),
  skipped: z.array(z.object({ kernel: nonEmpty, shape: nonEmpty, variant: nonEmpty, reason: nonEmpty })),
  tuning: z
    .object({
      key: nonEmpty,
      where: nonEmpty.nullable(),
      classes: z.array(z.object({ shapeClass: nonEmpty, variant: nonEmpty, ms: positive, measured: z.boolean() })),
    })
    .optional(),
  /** The MLP step in PyTorch on the CPU, float32 (Node runtime only; absent without python3 and torch). */
  pytorch: z
    .object({
      kernel: nonEmpty,
      shape: nonEmpty,
      label: nonEmpty,
      torchVersion: nonEmpty,
      threads: positiveInt,
      ms: positive,
      minMs: positive,
      maxMs: positive,
      runs: positiveInt,
      gradstormMs: positive.optional(),
      /** gradstormMs / ms: < 1 when gradstorm is faster. */
      gradstormOverPytorch: positive.optional(),
    })
    .optional(),
});

// ---------------------------------------------------------------------------
// gradstorm.dump/1

/** The `schema` field of parameter and gradient dumps. */
export const DUMP_SCHEMA_NAME = 'gradstorm.dump/1';

/** data holds the product of shape's entries (row-major), null for a non-finite value. */
const tensorData = z
  .object({ shape: z.array(count), data: z.array(num) })
  .superRefine((t, ctx) => {
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== size) ctx.addIssue({ code: 'custom', path: ['data'], message: `expected ${size} values (shape [${t.shape.join(', ')}]), got ${t.data.length}` });
  });
const namedTensor = z.object({ name: nonEmpty, shape: z.array(count), data: z.array(num) }).superRefine((t, ctx) => {
  const size = t.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== size) ctx.addIssue({ code: 'custom', path: ['data'], message: `expected ${size} values (shape [${t.shape.join(', ')}]), got ${t.data.length}` });
});

/** A dump (`gradstorm stress --dump`): the first step's parameters and gradients. */
export const dumpSchema = z.object({
  schema: z.literal(DUMP_SCHEMA_NAME),
  config: z.discriminatedUnion('model', [mlpConfigSchema, rnnConfigSchema, lstmConfigSchema]),
  loss: num,
  input: tensorData,
  target: tensorData.nullable(),
  params: z.array(namedTensor),
  grads: z.array(namedTensor),
  /** MLP dumps with LayerNorm: its ε (PyTorch's default, 1e-5). */
  layerNormEps: z.number().positive().optional(),
});

// ---------------------------------------------------------------------------
// gradstorm.sweep/1

/** The `schema` field of sweep reports. */
export const SWEEP_SCHEMA_NAME = 'gradstorm.sweep/1';

export const sweepPointSchema = z.object({
  /** Absent on MLP points (the only kind before the LSTM's sweep). */
  model: z.literal('mlp').optional(),
  index: count,
  depth: positiveInt,
  gain: z.number().positive(),
  activation: enumOf(ACTIVATIONS),
  /** A verdict status, or 'error' for a point that could not run. */
  status: nonEmpty,
  measuredGrowthPerLayer: num,
  predictedGrowthPerLayer: num,
  totalChangeDecades: num,
  measuredLog10Ratio: num,
  predictionMethod: z.string(),
  finalLoss: num,
  ms: z.number().min(0),
  error: z.string().optional(),
});

/** One point of `gradstorm sweep --model lstm`: one LSTM run, its cell-gradient rate measured and predicted from the forget gates. */
export const lstmSweepPointSchema = z.object({
  model: z.literal('lstm'),
  index: count,
  seqLen: positiveInt,
  forgetBias: z.number(),
  /** W_hh's gain. */
  gain: z.number().min(0),
  /** A verdict status, or 'error' for a point that could not run. */
  status: nonEmpty,
  /** Fitted slope of log10 ‖∂L/∂c_t‖ per step back (decades; negative = decay), step 1. */
  measuredCellGrowthPerStep: num,
  /** The forget gates' prediction (cell path alone, Σ log10 ‖f⊙∂c‖/‖∂c‖), fitted the same way. */
  predictedCellGrowthPerStep: num,
  /** mean log10 rms(f_t) over the fitted span: the forget gates alone. */
  forgetRmsGrowthPerStep: num,
  meanForgetRms: num,
  /** |measured − predicted| within the tolerance; null when either is missing. */
  agrees: z.boolean().nullable(),
  /** The verdict's fitted growth per step (the cell-gradient fit) and total change in decades. */
  growthPerStep: num,
  totalChangeDecades: num,
  /** The timesteps fitted, [first, T]. */
  fittedTimesteps: z.tuple([positiveInt, positiveInt]).nullable(),
  predictionMethod: z.string(),
  finalLoss: num,
  ms: z.number().min(0),
  error: z.string().optional(),
});

/** A grid point named by its coordinates (what a merge reports missing or duplicated). */
export const sweepPointRefSchema = z.object({ model: z.literal('mlp').optional(), index: count, activation: enumOf(ACTIVATIONS), depth: positiveInt, gain: z.number().positive() });
/** An LSTM grid point named by its coordinates. */
export const lstmSweepPointRefSchema = z.object({ model: z.literal('lstm'), index: count, seqLen: positiveInt, forgetBias: z.number(), gain: z.number().min(0) });

const anySweepPointRefSchema = z.discriminatedUnion('model', [sweepPointRefSchema, lstmSweepPointRefSchema]);

/** The MLP sweep's grid: depths × gains × activations. */
export const mlpSweepGridSchema = z.object({
  model: z.literal('mlp').optional(),
  depths: z.array(positiveInt),
  gains: z.array(z.number().positive()),
  activations: z.array(enumOf(ACTIVATIONS)),
  /** `--residual C/sqrt(L)`: C; each point ran with A = C/√depth (the base config then has no `residual`). */
  residualPerSqrtDepth: z.number().min(0).optional(),
});

/** The LSTM sweep's grid: seqLens × forgetBiases × gains (W_hh). */
export const lstmSweepGridSchema = z.object({
  model: z.literal('lstm'),
  seqLens: z.array(positiveInt),
  forgetBiases: z.array(z.number()),
  gains: z.array(z.number().min(0)),
});

/** A sweep report (`gradstorm sweep --json`, or `gradstorm merge` of shard reports), partial ones included. */
export const sweepReportSchema = z.object({
  schema: z.literal(SWEEP_SCHEMA_NAME),
  version: nonEmpty,
  adapter: fullAdapterSchema,
  /** The config every point shares (an MLP's, or an LSTM's for `sweep --model lstm`); the grid sets the rest. */
  base: z.discriminatedUnion('model', [mlpConfigSchema, lstmConfigSchema]),
  /** An MLP grid (no `model`) or an LSTM grid (`model: 'lstm'`). */
  grid: z.discriminatedUnion('model', [mlpSweepGridSchema, lstmSweepGridSchema]),
  shard: z.object({ index: count, count: positiveInt }),
  points: z.array(z.discriminatedUnion('model', [sweepPointSchema, lstmSweepPointSchema])),
  /**
   * `sha256:<hex>` of the grid and the base config (every flag that decides a
   * point's numbers): the shards of one sweep share it, and `gradstorm merge`
   * refuses a shard whose fingerprint differs. Absent from reports older than 0.2.
   */
  fingerprint: z.string().regex(/^sha256:[0-9a-f]{64}$/).optional(),
  /** `gradstorm merge`: which shard files made this report, and the points it lacks or got more than once. */
  merge: z
    .object({
      shards: z.array(z.string()),
      missing: z.array(anySweepPointRefSchema),
      duplicated: z.array(z.discriminatedUnion('model', [sweepPointRefSchema.extend({ files: z.array(z.string()) }), lstmSweepPointRefSchema.extend({ files: z.array(z.string()) })])),
    })
    .optional(),
  /** Present (true) only on a merged sweep with missing or duplicated points (listed in `merge`). */
  incomplete: z.literal(true).optional(),
  ...interruptionFields,
}).superRefine((report, ctx) => {
  // One model per sweep: the base, the grid and every point say the same (absent = mlp).
  const model = report.base.model;
  if ((report.grid.model ?? 'mlp') !== model) ctx.addIssue({ code: 'custom', path: ['grid', 'model'], message: `a ${report.grid.model ?? 'mlp'} grid in a sweep of --model ${model}` });
  report.points.forEach((p, i) => {
    if ((p.model ?? 'mlp') !== model) ctx.addIssue({ code: 'custom', path: ['points', i, 'model'], message: `a ${p.model ?? 'mlp'} point in a sweep of --model ${model}` });
  });
});

// ---------------------------------------------------------------------------
// gradstorm.check/1

/** The `schema` field of conformance reports. */
export const CHECK_SCHEMA_NAME = 'gradstorm.check/1';

/** A conformance report (`gradstorm check --json`). */
export const checkReportSchema = z.object({
  schema: z.literal(CHECK_SCHEMA_NAME),
  version: nonEmpty,
  adapter: fullAdapterSchema,
  results: z.array(
    z.object({
      family: nonEmpty,
      kernel: nonEmpty,
      shape: z.string(),
      contract: z.string(),
      ms: z.number().min(0),
      ok: z.boolean(),
      /** null when the case produced no finite error (it failed or threw). */
      maxError: num,
      detail: z.string(),
    }),
  ),
  ...interruptionFields,
});

// ---------------------------------------------------------------------------
// gradstorm.gpu-report/1

/** The `schema` field of one-shot GPU reports. */
export const GPU_REPORT_SCHEMA_NAME = 'gradstorm.gpu-report/1';

/** A one-shot GPU report (`gradstorm report-gpu`): its sections (what ran, within which cap) and the table of GFLOP/s. */
export const gpuReportSchema = z.object({
  schema: z.literal(GPU_REPORT_SCHEMA_NAME),
  version: nonEmpty,
  created: nonEmpty,
  adapter: fullAdapterSchema,
  maxSeconds: z.number().positive(),
  elapsedSeconds: z.number().min(0),
  /** The adapter's nominal f32 peak, when it is a known GPU. */
  peak: z.object({ name: nonEmpty, gflops: z.number().positive(), note: z.string() }).nullable(),
  sections: z.array(
    z.object({
      name: z.enum(['check', 'tune', 'bench', 'mlp', 'rnn']),
      /** capped: ran, but smaller or shorter than asked (see cap). */
      status: z.enum(['ok', 'capped', 'failed']),
      seconds: z.number().min(0),
      allowanceSeconds: z.number().min(0),
      /** Which cap applied (time budget or device memory) and what it shrank; null when none did. */
      cap: z.string().nullable(),
      summary: z.string(),
      error: z.string().optional(),
    }),
  ),
  /** The Markdown table's rows. */
  rows: z.array(
    z.object({
      section: z.enum(['bench', 'mlp', 'rnn']),
      what: nonEmpty,
      shape: nonEmpty,
      ms: num,
      gflops: num,
      tfjsGflops: num,
      plainJsGflops: num,
      percentOfPeak: num,
      note: z.string(),
    }),
  ),
  ...interruptionFields,
});

// ---------------------------------------------------------------------------
// Types and validation

/** An MLP run report as JSON holds it (non-finite numbers as null). */
export type MlpRunReportJson = z.infer<typeof mlpRunReportSchema>;
/** An RNN run report as JSON holds it (non-finite numbers as null). */
export type RnnRunReportJson = z.infer<typeof rnnRunReportSchema>;
/** An LSTM run report as JSON holds it (non-finite numbers as null). */
export type LstmRunReportJson = z.infer<typeof lstmRunReportSchema>;
/** A benchmark report as JSON holds it. */
export type BenchReportJson = z.infer<typeof benchReportSchema>;
/** A dump as JSON holds it. */
export type DumpJson = z.infer<typeof dumpSchema>;
/** A sweep report as JSON holds it. */
export type SweepReportJson = z.infer<typeof sweepReportSchema>;
/** A conformance report as JSON holds it. */
export type CheckReportJson = z.infer<typeof checkReportSchema>;
/** A one-shot GPU report as JSON holds it. */
export type GpuReportJson = z.infer<typeof gpuReportSchema>;
/** What a writer may hand to JSON.stringify for each kind (the same shapes before JSON turns NaN into null). */
export type SweepReportInput = z.input<typeof sweepReportSchema>;
export type CheckReportInput = z.input<typeof checkReportSchema>;
export type GpuReportInput = z.input<typeof gpuReportSchema>;

/** Each kind of report, its schema name, and the JSON Schema file generated from it (schemas/<file>). */
export const REPORT_SCHEMAS = {
  run: { name: RUN_SCHEMA_NAME, schema: runReportSchema, file: 'gradstorm.run.schema.json' },
  bench: { name: BENCH_SCHEMA_NAME, schema: benchReportSchema, file: 'gradstorm.bench.schema.json' },
  dump: { name: DUMP_SCHEMA_NAME, schema: dumpSchema, file: 'gradstorm.dump.schema.json' },
  sweep: { name: SWEEP_SCHEMA_NAME, schema: sweepReportSchema, file: 'gradstorm.sweep.schema.json' },
  check: { name: CHECK_SCHEMA_NAME, schema: checkReportSchema, file: 'gradstorm.check.schema.json' },
  'gpu-report': { name: GPU_REPORT_SCHEMA_NAME, schema: gpuReportSchema, file: 'gradstorm.gpu-report.schema.json' },
} as const;

/** Which kind of report {@link validateReport} found. */
export type ReportKind = 'run-mlp' | 'run-rnn' | 'run-lstm' | 'bench' | 'dump' | 'sweep' | 'check' | 'gpu-report';

/** A report that passed its schema: its kind and the typed JSON. */
export type ValidatedReport =
  | { ok: true; kind: 'run-mlp'; report: MlpRunReportJson }
  | { ok: true; kind: 'run-rnn'; report: RnnRunReportJson }
  | { ok: true; kind: 'run-lstm'; report: LstmRunReportJson }
  | { ok: true; kind: 'bench'; report: BenchReportJson }
  | { ok: true; kind: 'dump'; report: DumpJson }
  | { ok: true; kind: 'sweep'; report: SweepReportJson }
  | { ok: true; kind: 'check'; report: CheckReportJson }
  | { ok: true; kind: 'gpu-report'; report: GpuReportJson };

/** What {@link validateReport} returns: the typed report, or every problem found, each starting with the field's path. */
export type ReportValidation = ValidatedReport | { ok: false; errors: string[] };

/** At most this many messages per report: the first ones say what is wrong. */
export const MAX_REPORT_ERRORS = 8;

/** `steps[0].layers[3].deltaNorm` from zod's path. */
export function formatPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const key of path) text += typeof key === 'number' ? `[${key}]` : `${text ? '.' : ''}${String(key)}`;
  return text || '(report)';
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing (missing)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  const text = JSON.stringify(v);
  return text.length > 40 ? `${text.slice(0, 37)}…` : `${typeof v} ${text}`;
}

interface ZodIssueLike {
  code: string;
  path: PropertyKey[];
  message: string;
  input?: unknown;
  expected?: string;
  values?: readonly unknown[];
  minimum?: number | bigint;
  maximum?: number | bigint;
  inclusive?: boolean;
  origin?: string;
}

/** One line per problem, starting with the field's path: `verdict.growthPerLayer: expected number, got string "0.1"`. */
function formatIssue(issue: ZodIssueLike): string {
  const path = formatPath(issue.path);
  const got = `got ${describeValue(issue.input)}`;
  switch (issue.code) {
    case 'invalid_type':
      return `${path}: expected ${issue.expected === 'int' ? 'an integer' : issue.expected}, ${got}`;
    case 'invalid_value':
      return `${path}: expected ${(issue.values ?? []).map((v) => JSON.stringify(v)).join(' | ')}, ${got}`;
    case 'too_small':
      return issue.origin === 'string'
        ? `${path}: expected a non-empty string, ${got}`
        : `${path}: expected ${issue.origin === 'array' ? 'at least' : issue.inclusive ? '≥' : '>'} ${String(issue.minimum)}${issue.origin === 'array' ? ' items' : ''}, ${got}`;
    case 'too_big':
      return `${path}: expected ${issue.origin === 'array' ? 'at most' : issue.inclusive ? '≤' : '<'} ${String(issue.maximum)}${issue.origin === 'array' ? ' items' : ''}, ${got}`;
    case 'invalid_union':
      return `${path}: ${got}, which matches none of the allowed forms`;
    default:
      return `${path}: ${issue.message}`;
  }
}

function problems(schema: z.ZodType, json: unknown): string[] | null {
  const result = schema.safeParse(json, { reportInput: true });
  if (result.success) return null;
  return result.error.issues.slice(0, MAX_REPORT_ERRORS).map((i) => formatIssue(i as ZodIssueLike));
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Validates a parsed report (JSON.parse of the file) against the schema its
 * `schema` field names. The report returned is the input itself (unknown
 * fields kept), typed. Each error starts with the field's path.
 */
export function validateReport(json: unknown): ReportValidation {
  if (!isObject(json)) return { ok: false, errors: [`(report): expected a JSON object, got ${describeValue(json)}`] };
  const fail = (errors: string[]): ReportValidation => ({ ok: false, errors });
  switch (json.schema) {
    case RUN_SCHEMA_NAME: {
      const model = isObject(json.config) ? json.config.model : undefined;
      if (model === 'mlp') {
        const errors = problems(mlpRunReportSchema, json);
        return errors ? fail(errors) : { ok: true, kind: 'run-mlp', report: json as MlpRunReportJson };
      }
      if (model === 'rnn') {
        const errors = problems(rnnRunReportSchema, json);
        return errors ? fail(errors) : { ok: true, kind: 'run-rnn', report: json as RnnRunReportJson };
      }
      if (model === 'lstm') {
        const errors = problems(lstmRunReportSchema, json);
        return errors ? fail(errors) : { ok: true, kind: 'run-lstm', report: json as LstmRunReportJson };
      }
      return fail([isObject(json.config) ? `config.model: expected "mlp" | "rnn" | "lstm", got ${describeValue(model)}` : `config: expected object, got ${describeValue(json.config)}`]);
    }
    case BENCH_SCHEMA_NAME: {
      const errors = problems(benchReportSchema, json);
      return errors ? fail(errors) : { ok: true, kind: 'bench', report: json as BenchReportJson };
    }
    case DUMP_SCHEMA_NAME: {
      const errors = problems(dumpSchema, json);
      return errors ? fail(errors) : { ok: true, kind: 'dump', report: json as DumpJson };
    }
    case SWEEP_SCHEMA_NAME: {
      const errors = problems(sweepReportSchema, json);
      return errors ? fail(errors) : { ok: true, kind: 'sweep', report: json as SweepReportJson };
    }
    case CHECK_SCHEMA_NAME: {
      const errors = problems(checkReportSchema, json);
      return errors ? fail(errors) : { ok: true, kind: 'check', report: json as CheckReportJson };
    }
    case GPU_REPORT_SCHEMA_NAME: {
      const errors = problems(gpuReportSchema, json);
      return errors ? fail(errors) : { ok: true, kind: 'gpu-report', report: json as GpuReportJson };
    }
    default: {
      const known = Object.values(REPORT_SCHEMAS).map((s) => s.name).join(', ');
      return fail([`schema: expected one of ${known}, got ${describeValue(json.schema)}`]);
    }
  }
}

/** JSON Schema (draft 2020-12) of a kind, as schemas/<file> holds it: the input side (extra fields allowed). */
export function reportJsonSchema(kind: keyof typeof REPORT_SCHEMAS): Record<string, unknown> {
  const entry = REPORT_SCHEMAS[kind];
  const schema = z.toJSONSchema(entry.schema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
  return { ...schema, title: entry.name, description: `gradstorm report schema ${entry.name}, generated from src/report/schema.ts (npm run gen-schemas)` };
}
