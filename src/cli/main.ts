/**
 * The `gradstorm` command. Each subcommand validates its flags, says what is
 * wrong and what to change, and exits non-zero on failure; JSON is written
 * atomically.
 */
import { acquireGpu } from '../gpu/acquire.ts';
import type { GpuContext } from '../gpu/context.ts';
import { DeviceLostError, GpuKernelError, GpuLimitError, GpuUnavailableError } from '../gpu/errors.ts';
import { CONFORMANCE_FAMILIES, conformanceCases, runConformance, type ConformanceFamily } from '../conformance/index.ts';
import { BENCH_HELP, commandBench } from './bench.ts';
import { OutputPathError, checkOutputPaths, formatTable, writeJsonAtomic, writeTextAtomic } from './io.ts';
import { parseSweep, runSweep, sweepCsv, sweepGrid } from './sweep.ts';
import { UsageError, listFlag, parse } from './flags.ts';
import { describeStressPlan, formatStressSummary, parseStress, runStress } from './stress.ts';
import { describeRnnStressPlan, formatRnnStressSummary, isRnnStress, parseRnnStress } from './rnn-flags.ts';
import { runRnnStress } from '../scheduler/rnn-run.ts';
import { MlpTrainer } from '../scheduler/mlp-trainer.ts';
import { RnnTrainer } from '../scheduler/rnn-trainer.ts';
import { mlpMatmulUses, planMlp, type MatmulUse } from '../models/mlp.ts';
import { planRnn, rnnMatmulUses } from '../models/rnn.ts';
import { ENGINE_VERSION } from '../version.ts';
import type { CheckReportInput, SweepReportInput } from '../report/schema.ts';
import { autotune } from './tuning.ts';
import { TUNE_HELP, commandTune } from './tune.ts';

const VERSION = ENGINE_VERSION;

const HELP = `gradstorm ${VERSION} — WebGPU gradient stress tests

Usage: gradstorm <command> [flags]

Commands:
  stress  Train a deep MLP (or, with --model rnn, a vanilla RNN through time)
          for --steps steps on the GPU and report per-layer (per-timestep)
          gradient norms against the theory (schema gradstorm.run/1).
            RNN: --model rnn --seq-len T --width H --task probe|adding
            --loss-at last|all --bptt k --init gaussian|orthogonal|identity
            --rnn-variant step|persistent (other flags as for the MLP)
            --model mlp --depth L --width N [--input N] [--output N] --batch B
            --activation relu|tanh|linear --init gaussian|xavier|he|orthogonal
            --gain G --bias-std S --loss mse|probe --steps K --lr X
            --optimizer sgd|momentum|adam --clip none|norm:C|value:C --seed N
            --json FILE  --dump FILE (small models: parameters, input, target
            and first-step gradients, schema gradstorm.dump/1)
            --variant NAME       one matmul variant everywhere (register, tiled
                                 or a tiling: gradstorm tune lists them); by
                                 default the autotuner's choice per shape class
            --retune             measure this model's matmul choices again
            defaults: depth 50, width 256, batch 32, relu, gaussian gain 1,
            probe loss, 1 step, sgd lr 0.01, no clipping, seed 1
  sweep   Measured against predicted growth over a grid, one run per point:
            --depths 10,50,100 --gains 0.8:2.0:0.1 --activations relu,tanh
            plus any stress flag; --json FILE (and a CSV beside it, or --csv
            FILE); --shard i/n runs every n-th point from i
  check   Run the kernel conformance suite on this machine's adapter: every
          kernel against its float64 reference. Exits 1 on any failure.
            --family ${CONFORMANCE_FAMILIES.join(',')}   (default: all)
            --json FILE          write the results (schema gradstorm.check/1)
${BENCH_HELP}${TUNE_HELP}
Common flags:
  --adapter default|swiftshader  Node: use the default adapter (hardware if
                                 any, else SwiftShader) or force SwiftShader
  -h, --help                     this text

Examples:
  gradstorm stress --depth 200 --width 256 --activation relu --gain 1.8 --json r.json   (explodes)
  gradstorm stress --depth 200 --width 256 --activation relu --init he --json r.json    (stable)
`;

async function openGpu(adapterFlag: string | undefined): Promise<GpuContext> {
  const adapter = listFlag('adapter', adapterFlag, ['default', 'swiftshader'] as const, ['default'])[0];
  const ctx = await acquireGpu({ forceSwiftShader: adapter === 'swiftshader' });
  const s = ctx.summary;
  const emulated = s.software ? ' — emulated on the CPU: slow, and unlike a GPU' : '';
  process.stderr.write(`adapter: ${s.vendor} ${s.architecture} ${s.description} (${s.backend})${emulated}\n`);
  return ctx;
}

function adapterJson(ctx: GpuContext) {
  const { vendor, architecture, description, device, software, backend } = ctx.summary;
  return { vendor, architecture, description, device, software, backend };
}

async function commandCheck(args: string[]): Promise<number> {
  const { values } = parse(args, { family: { type: 'string' }, json: { type: 'string' } });
  if (values.help) return printHelp();
  const families = listFlag<ConformanceFamily>('family', values.family, CONFORMANCE_FAMILIES, CONFORMANCE_FAMILIES);
  checkOutputPaths([values.json]);
  const ctx = await openGpu(values.adapter);
  try {
    const cases = conformanceCases(families);
    const header = ['kernel', 'shape', 'max |Δ|', 'result', 'contract'];
    const widths = [34, 12, 10, 6];
    process.stdout.write(header.map((h, i) => h.padEnd(widths[i] ?? 0)).join('  ') + '\n');
    const results = await runConformance(ctx, cases, (r, i) => {
      const row = [r.kernel, r.shape, Number.isNaN(r.maxError) ? '—' : r.maxError.toExponential(2), r.ok ? 'pass' : 'FAIL', r.contract];
      process.stdout.write(row.map((c, j) => c.padEnd(widths[j] ?? 0)).join('  ') + '\n');
      if (!r.ok) process.stdout.write(`    ${r.detail}\n`);
      if (process.stderr.isTTY) process.stderr.write(`  [${i + 1}/${cases.length}]\r`);
    });
    const failed = results.filter((r) => !r.ok);
    process.stdout.write(`\n${results.length - failed.length} passed, ${failed.length} failed (${results.length} kernel cases on ${ctx.summary.description || ctx.summary.vendor})\n`);
    if (values.json) {
      const report: CheckReportInput = { schema: 'gradstorm.check/1', version: VERSION, adapter: adapterJson(ctx), results };
      writeJsonAtomic(values.json, report);
    }
    return failed.length === 0 ? 0 : 1;
  } finally {
    ctx.destroy();
  }
}

async function commandRnnStress(args: string[]): Promise<number> {
  const command = parseRnnStress(args);
  if (command.help) return printHelp();
  const { config } = command;
  checkOutputPaths([command.json, command.dump]);
  const ctx = await openGpu(command.adapter);
  try {
    if (!command.quiet) process.stderr.write(`${describeRnnStressPlan(config)}\n`);
    RnnTrainer.checkFits(ctx, config); // before tuning: a model that cannot run is refused at once
    if (command.matmulVariant === undefined) await autotune(ctx, Object.values(rnnMatmulUses(planRnn(config), config)), command);
    const { report, dump } = await runRnnStress(ctx, config, {
      variant: command.variant,
      matmulVariant: command.matmulVariant,
      dump: command.dump !== undefined,
      onStep: progressReporter(config.steps, command.quiet),
    });
    if (command.json) writeJsonAtomic(command.json, report);
    if (command.dump && dump) writeJsonAtomic(command.dump, dump);
    process.stdout.write(formatRnnStressSummary(report) + '\n');
    if (command.json) process.stderr.write(`report: ${command.json}\n`);
    return 0;
  } finally {
    ctx.destroy();
  }
}

async function commandStress(args: string[]): Promise<number> {
  if (isRnnStress(args)) return commandRnnStress(args);
  const command = parseStress(args);
  if (command.help) return printHelp();
  const { config } = command;
  checkOutputPaths([command.json, command.dump]);
  const ctx = await openGpu(command.adapter);
  try {
    if (!command.quiet) process.stderr.write(`${describeStressPlan(config)}\n`);
    MlpTrainer.checkFits(ctx, config); // before tuning: a model that cannot run is refused at once
    if (command.matmulVariant === undefined) await autotune(ctx, Object.values(mlpMatmulUses(planMlp(config), config.batch)), command);
    const progress = progressReporter(config.steps, command.quiet);
    const { report, dump } = await runStress(ctx, config, {
      matmulVariant: command.matmulVariant,
      dump: command.dump !== undefined,
      onStep: progress,
    });
    // Everything is computed before anything is written: a failed run leaves no half-written file.
    if (command.json) writeJsonAtomic(command.json, report);
    if (command.dump && dump) writeJsonAtomic(command.dump, dump);
    process.stdout.write(formatStressSummary(report) + '\n');
    if (command.json) process.stderr.write(`report: ${command.json}\n`);
    return 0;
  } finally {
    ctx.destroy();
  }
}

/** A one-line progress bar on a terminal; a line every 10% otherwise (logs, CI). */
function progressReporter(total: number, quiet: boolean) {
  const started = performance.now();
  let lastLine = 0;
  return (done: number, _total: number, last: { loss: number; gradNorm: number }) => {
    if (quiet || total < 2) return;
    const elapsed = (performance.now() - started) / 1000;
    const eta = (elapsed / done) * (total - done);
    const text = `step ${done}/${total}  loss ${last.loss.toPrecision(4)}  ‖g‖ ${last.gradNorm.toPrecision(4)}  ${elapsed.toFixed(1)} s elapsed, ~${eta.toFixed(0)} s left`;
    if (process.stderr.isTTY) {
      const width = 24;
      const filled = Math.round((done / total) * width);
      process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}\x1b[K${done === total ? '\n' : ''}`);
    } else if (done === total || done - lastLine >= Math.max(1, Math.floor(total / 10))) {
      lastLine = done;
      process.stderr.write(`${text}\n`);
    }
  };
}

async function commandSweep(args: string[]): Promise<number> {
  const command = parseSweep(args);
  if (command.help) return printHelp();
  const total = sweepGrid(command).length;
  checkOutputPaths([command.json, command.csv]);
  const ctx = await openGpu(command.adapter);
  try {
    if (command.matmulVariant === undefined) {
      // Depth does not change the shapes, but the sweep's points are tuned as one list all the same.
      const uses: MatmulUse[] = command.depths.flatMap((depth) => Object.values(mlpMatmulUses(planMlp({ ...command.base, depth }), command.base.batch)));
      await autotune(ctx, uses, command);
    }
    process.stderr.write(`sweep: ${total} point(s) (shard ${command.shard.index}/${command.shard.count}) of depths ${command.depths.join(',')} × ${command.gains.length} gains × ${command.activations.join(',')}\n`);
    const points = await runSweep(ctx, command, (p, done, n) => {
      if (command.quiet) return;
      const m = p.measuredGrowthPerLayer === null ? '—' : p.measuredGrowthPerLayer.toFixed(4);
      const q = p.predictedGrowthPerLayer === null ? '—' : p.predictedGrowthPerLayer.toFixed(4);
      process.stderr.write(`  [${done}/${n}] ${p.activation} depth ${p.depth} gain ${p.gain}: ${p.status}${p.error ? ` (${p.error})` : `, growth ${m} (predicted ${q})`}, ${(p.ms / 1000).toFixed(1)} s\n`);
    });
    const rows = points.map((p) => [
      p.activation, String(p.depth), String(p.gain), p.status,
      p.measuredGrowthPerLayer === null ? '—' : p.measuredGrowthPerLayer.toFixed(4),
      p.predictedGrowthPerLayer === null ? '—' : p.predictedGrowthPerLayer.toFixed(4),
    ]);
    process.stdout.write(formatTable(['activation', 'depth', 'gain', 'status', 'measured growth/layer', 'predicted'], rows) + '\n');
    if (command.json) {
      const { depths, gains, activations, shard, base } = command;
      const report: SweepReportInput = { schema: 'gradstorm.sweep/1', version: VERSION, adapter: adapterJson(ctx), base, grid: { depths, gains, activations }, shard, points };
      writeJsonAtomic(command.json, report);
    }
    if (command.csv) writeTextAtomic(command.csv, sweepCsv(points));
    return 0;
  } finally {
    ctx.destroy();
  }
}

function printHelp(): number {
  process.stdout.write(HELP);
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'check':
        return await commandCheck(rest);
      case 'bench':
        return await commandBench(rest, { version: VERSION, openGpu, printHelp });
      case undefined:
      case 'help':
      case '-h':
      case '--help':
        return printHelp();
      case '--version':
        process.stdout.write(`${VERSION}\n`);
        return 0;
      case 'stress':
        return await commandStress(rest);
      case 'tune':
        return await commandTune(rest, { openGpu, printHelp });
      case 'sweep':
        return await commandSweep(rest);
      default:
        throw new UsageError(`unknown command '${command}'; available: stress, sweep, check, bench, tune (gradstorm --help)`);
    }
  } catch (error) {
    if (error instanceof OutputPathError || (error as NodeJS.ErrnoException).syscall !== undefined) {
      // File-system failures (a full disk, a vanished folder): one line, not a stack.
      process.stderr.write(`gradstorm: ${(error as Error).message}\n`);
      return 1;
    }
    if (error instanceof UsageError) {
      process.stderr.write(`gradstorm: ${error.message}\n`);
      return 2;
    }
    if (error instanceof GpuUnavailableError || error instanceof GpuLimitError || error instanceof GpuKernelError || error instanceof DeviceLostError) {
      process.stderr.write(`gradstorm: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
