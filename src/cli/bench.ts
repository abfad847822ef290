/**
 * `gradstorm bench`: the benchmark suite (bench/suite.ts) from the command
 * line — flags into a plan, progress on stderr, the tables on stdout, the
 * report (gradstorm.bench/1) written atomically.
 */
import { describeRetime } from '../tune/tuner.ts';
import type { GpuContext } from '../gpu/context.ts';
import { MATMUL_LAYOUTS, MATMUL_TILING_NAMES } from '../kernels/matmul.ts';
import {
  BENCH_KERNELS,
  DEFAULT_BENCH_VARIANTS,
  DEFAULT_MAX_SECONDS,
  DEFAULT_RUNS,
  DEFAULT_SQUARE_SIZES,
  MODEL_SHAPES,
  PLAIN_JS_MAX_SIZE,
  TUNED_VARIANT,
  benchVariantNames,
  defaultBenchPlan,
  parseMatmulShape,
  type BenchPlan,
  type MatmulShape,
} from '../../bench/plan.ts';
import { BASELINE_VARIANTS, validateBenchReport, type BenchReport } from '../../bench/report.ts';
import { chromeBench, type RuntimeFlags } from './chrome.ts';
import { runBenchSuite, type BenchEvent } from '../../bench/suite.ts';
import { benchTables } from '../../bench/table.ts';
import { loadTfjsWebgpu, missingTfjsPackages, tfjsMissingMessage } from '../../bench/tfjs-load.ts';
import { UsageError, intFlag, intListFlag, listFlag, numberFlag, parse } from './flags.ts';
import { checkOutputPaths, formatTable, writeJsonAtomic } from './io.ts';
import { fileTuningStore, tuningCacheDir } from './tuning.ts';
import { runPytorchMlpStep } from './pytorch.ts';
import { PYTORCH_LABEL, PYTORCH_VARIANT, describePytorch } from '../../bench/pytorch-baseline.ts';

export const BENCH_HELP = `  bench   Time kernels on this adapter against TF.js's WebGPU backend and plain
          JS, in the same run (median of --runs after a warm-up; GPU timestamps
          when the adapter has them, else wall time over repeats in one submit).
            --kernels ${BENCH_KERNELS.join(',')}  (default: all)
                                 matmul: model shapes and square sizes, every
                                 layout (${MATMUL_LAYOUTS.join(', ')}) and variant; relu (forward,
                                 backward) and reduce in GB/s; mlp-step = an MLP
                                 training step (depth 50, width 256, batch 64),
                                 beside it the same step in ${PYTORCH_LABEL}
                                 when python3 imports torch (Node only);
                                 rnn = a BPTT step at T 200, H 128, B 32
            --sizes 256,512      square matmul sizes, or none (default:
                                 ${DEFAULT_SQUARE_SIZES.join(',')}, as far as --max-seconds allows)
            --shapes LIST        matmul shapes: all (default), none, or a list of
                                 ${MODEL_SHAPES.map((s) => s.name).join(', ')}
                                 and layout:MxNxK (e.g. tn:256x256x64)
            --variants ${DEFAULT_BENCH_VARIANTS.join(',')}  matmul variants (the default): the
                                 two families at their default tilings and the
                                 autotuner's choice per shape class; or any of
                                 the ${MATMUL_TILING_NAMES.length} tilings (gradstorm tune lists them)
            --retune             measure the autotuner's choices again (they are
                                 kept per adapter under ${tuningCacheDir().replace(/^\/(root|home\/[^/]+)/, '~')})
            --no-tune            no autotuning: ${TUNED_VARIANT} and the steps use the defaults
            --max-seconds ${DEFAULT_MAX_SECONDS}     time budget of the matmul section: a size whose
                                 cost, predicted from the previous size's GFLOP/s,
                                 would pass it is skipped (and listed)
            --runs ${DEFAULT_RUNS}             timed runs per entry (≥ 1)
            --baselines ${BASELINE_VARIANTS.join(',')}  (default: both; plain JS up to ${PLAIN_JS_MAX_SIZE}³)
            --no-baseline        no baselines (no ratios, no PyTorch)
            --json FILE          write the report (schema gradstorm.bench/1)
`;

/** What the bench command needs from the CLI around it. */
export interface BenchCommandContext {
  version: string;
  openGpu(adapterFlag: string | undefined): Promise<GpuContext>;
  printHelp(): number;
  /** --runtime chrome: the suite runs in a Chrome page. */
  runtime?: RuntimeFlags;
}

export interface BenchCommand {
  plan: BenchPlan;
  json: string | undefined;
  adapter: string | undefined;
  /** --baselines named tfjs-webgpu: without TF.js that is an error, not a skipped baseline. */
  tfjsAsked: boolean;
  /** Time the MLP step in PyTorch on the CPU too (Node runtime; off with --no-baseline). */
  pytorch: boolean;
}

function shapesFlag(value: string | undefined): MatmulShape[] {
  if (value === undefined || value === 'all') return [...MODEL_SHAPES];
  if (value === 'none') return [];
  return value.split(',').map((item) => {
    const shape = parseMatmulShape(item.trim());
    if (typeof shape === 'string') throw new UsageError(`--shapes: ${shape}; or give all or none`);
    return shape;
  });
}

export function parseBench(args: string[], version: string): BenchCommand | { help: true } {
  const { values } = parse(args, {
    kernels: { type: 'string' },
    sizes: { type: 'string' },
    shapes: { type: 'string' },
    variants: { type: 'string' },
    'max-seconds': { type: 'string' },
    runs: { type: 'string' },
    baselines: { type: 'string' },
    'no-baseline': { type: 'boolean' },
    retune: { type: 'boolean' },
    'no-tune': { type: 'boolean' },
    json: { type: 'string' },
  });
  if (values.help) return { help: true };
  if (values['no-baseline'] && values.baselines !== undefined) throw new UsageError('--no-baseline and --baselines contradict each other; give one');
  if (values['no-tune'] && values.retune) throw new UsageError('--no-tune and --retune contradict each other; give one');
  const variants = listFlag<string>('variants', values.variants, benchVariantNames(), DEFAULT_BENCH_VARIANTS);
  if (values['no-tune'] && variants.includes(TUNED_VARIANT)) {
    if (values.variants !== undefined) throw new UsageError(`--variants ${TUNED_VARIANT} needs the autotuner; drop --no-tune or the ${TUNED_VARIANT} variant`);
    variants.splice(variants.indexOf(TUNED_VARIANT), 1);
  }
  const baselines = values['no-baseline'] ? [] : listFlag('baselines', values.baselines, BASELINE_VARIANTS, BASELINE_VARIANTS);
  const plan: BenchPlan = {
    ...defaultBenchPlan(version),
    kernels: listFlag('kernels', values.kernels, BENCH_KERNELS, BENCH_KERNELS),
    sizes: values.sizes === 'none' ? [] : intListFlag('sizes', values.sizes, [...DEFAULT_SQUARE_SIZES], 1, 16384),
    shapes: shapesFlag(values.shapes),
    variants,
    tuning: values['no-tune'] ? null : { store: fileTuningStore(), retune: values.retune === true },
    runs: values.runs === undefined ? DEFAULT_RUNS : intFlag('runs', values.runs, 1, 1000),
    maxSeconds: values['max-seconds'] === undefined ? DEFAULT_MAX_SECONDS : numberFlag('max-seconds', values['max-seconds'], 0.001, 1e6),
    loadTfjs: baselines.includes('tfjs-webgpu') ? loadTfjsWebgpu : null,
    plainJs: baselines.includes('plain-js'),
  };
  return { plan, json: values.json, adapter: values.adapter, tfjsAsked: values.baselines !== undefined && baselines.includes('tfjs-webgpu'), pytorch: !values['no-baseline'] };
}

/** One stderr line per event: what is running, what it measured, what was skipped and why. */
export function progressLine(event: BenchEvent): string {
  switch (event.type) {
    case 'progress':
      return `  ${event.message}`;
    case 'entry':
    case 'baseline': {
      const t = event.type === 'entry' ? event.entry : event.baseline;
      const rate = t.gflops !== undefined ? `, ${t.gflops.toPrecision(3)} GFLOP/s` : t.gbps !== undefined ? `, ${t.gbps.toPrecision(3)} GB/s` : '';
      return `    ${t.kernel} ${t.shape} ${t.variant}: ${t.ms.toPrecision(4)} ms${rate}`;
    }
    case 'tuned':
      return `    autotuner: ${event.entry.shapeClass} → ${event.entry.variant} (${event.entry.ms.toPrecision(3)} ms at ${event.entry.proxy.m}×${event.entry.proxy.n}×${event.entry.proxy.k}, ${event.entry.candidates.length} candidates${describeRetime(event.entry)})`;
    case 'skipped':
      return `    skipped ${event.skipped.kernel} ${event.skipped.shape} ${event.skipped.variant}: ${event.skipped.reason}`;
  }
}

export async function commandBench(args: string[], cli: BenchCommandContext): Promise<number> {
  const command = parseBench(args, cli.version);
  if ('help' in command) return cli.printHelp();
  checkOutputPaths([command.json]);
  if (cli.runtime?.runtime === 'chrome') return chromeBench(command, cli.runtime, finishBench);
  if (command.tfjsAsked) {
    const missing = await missingTfjsPackages();
    if (missing.length > 0) throw new UsageError(`--baselines tfjs-webgpu: ${tfjsMissingMessage(missing)}`);
  }
  const ctx = await cli.openGpu(command.adapter);
  try {
    // The PyTorch CPU figure beside the MLP step: Node only, with the baselines.
    const pytorchMlpStep = command.pytorch ? runPytorchMlpStep : undefined;
    const report = await runBenchSuite(ctx, command.plan, (event) => process.stderr.write(progressLine(event) + '\n'), { pytorchMlpStep });
    return finishBench(report, command);
  } finally {
    ctx.destroy();
  }
}

/**
 * The PyTorch line under the tables: the figure and gradstorm's time over it,
 * or why it is absent; null when the run had no MLP step or tried no PyTorch.
 */
export function pytorchSummary(report: Pick<BenchReport, 'pytorch' | 'skipped'>): string | null {
  if (report.pytorch) return describePytorch(report.pytorch);
  const skipped = report.skipped.find((s) => s.variant === PYTORCH_VARIANT);
  return skipped ? skipped.reason : null;
}

/** The tables, the report file and the exit code of a bench run: the same for both runtimes. */
export function finishBench(report: BenchReport, command: BenchCommand): number {
  {
    const invalid = validateBenchReport(JSON.parse(JSON.stringify(report)));
    if (invalid) throw new Error(`bench produced an invalid report (a bug): ${invalid}`);
    for (const table of benchTables(report)) process.stdout.write(`\n${table.title}\n${formatTable(table.header, table.rows)}\n`);
    process.stdout.write('\nvs TF.js, vs plain JS: baseline median / gradstorm median (> 1: gradstorm is faster)\n');
    const pytorchLine = pytorchSummary(report);
    if (pytorchLine) process.stdout.write(`\n${pytorchLine}\n`);
    if (report.tuning) {
      const rows = report.tuning.classes.map((c) => [c.shapeClass, c.variant, c.ms.toPrecision(3), c.measured ? 'this run' : 'cached']);
      process.stdout.write(`\nautotuner choices (${report.tuning.where ?? 'not kept'})\n${formatTable(['shape class', 'tiling', 'ms at proxy', 'measured'], rows)}\n`);
    }
    if (command.json) {
      writeJsonAtomic(command.json, report);
      process.stderr.write(`report: ${command.json}\n`);
    }
    const failed = report.entries.filter((e) => e.withinTolerance === false);
    if (failed.length > 0) {
      process.stderr.write(`gradstorm: ${failed.length} entr${failed.length === 1 ? 'y' : 'ies'} failed the check against float64: ${failed.map((e) => `${e.kernel} ${e.shape} ${e.variant}`).join('; ')}\n`);
      return 1;
    }
    return 0;
  }
}
