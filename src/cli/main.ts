/**
 * The `gradstorm` command. Each subcommand validates its flags, says what is
 * wrong and what to change, and exits non-zero on failure; JSON is written
 * atomically.
 */
import '../node.ts'; // the CLI runs in Node: acquireGpu() gets its adapter from Dawn
import { acquireGpu } from '../gpu/acquire.ts';
import type { AdapterSummary, GpuContext } from '../gpu/context.ts';
import { DeviceLostError, GpuKernelError, GpuLimitError, GpuUnavailableError } from '../gpu/errors.ts';
import { CONFORMANCE_FAMILIES, conformanceCases, runConformance, type ConformanceFamily, type ConformanceResult } from '../conformance/index.ts';
import { BENCH_HELP, commandBench } from './bench.ts';
import { OutputPathError, checkOutputPaths, writeJsonAtomic, writeTextAtomic } from './io.ts';
import { anySweepGrid, parseSweepCommand, readResumedPoints, runSweep, sweepCsv, sweepDocument, sweepTable, type AnySweepCommand, type AnySweepPoint, type SweepPoint } from './sweep.ts';
import { describeLstmPoint, describeLstmPointResult, shortNumber } from './lstm-sweep.ts';
import { UsageError, listFlag, parse } from './flags.ts';
import { describeStressPlan, formatStressSummary, parseStress, probeTrainingNote, runStress } from './stress.ts';
import { describeRnnStressPlan, formatRnnStressSummary, isRnnStress, parseRnnStress } from './rnn-flags.ts';
import { runRnnStress } from '../scheduler/rnn-run.ts';
import { LstmTrainer, runLstmStress } from '../scheduler/lstm-run.ts';
import { describeLstmStressPlan, formatLstmStressSummary, isLstmStress, parseLstmStress, refuseLstmFlagsElsewhere } from './lstm-flags.ts';
import { lstmMatmulUses, planLstm } from '../models/lstm.ts';
import type { MatmulVariant } from '../kernels/matmul.ts';
import { MlpTrainer } from '../scheduler/mlp-trainer.ts';
import { RnnTrainer } from '../scheduler/rnn-trainer.ts';
import { mlpMatmulUses, planMlp, type MatmulUse } from '../models/mlp.ts';
import { planRnn, rnnMatmulUses } from '../models/rnn.ts';
import { ENGINE_VERSION } from '../version.ts';
import { describeGradNorm, type GradNormRecord } from '../report/run-report.ts';
import { RunInterruptedError, interruptionFields, type Interruption } from '../scheduler/interruption.ts';
import { interruptionExitCode, stopOnSignals } from './signals.ts';
import type { CheckReportInput } from '../report/schema.ts';
import { autotune } from './tuning.ts';
import { TUNE_HELP, commandTune } from './tune.ts';
import { REPORT_GPU_HELP, commandReportGpu } from './report-gpu.ts';
import { RUNTIME_HELP, chromeCheck, chromeLstmStress, chromeRnnStress, chromeStress, chromeSweep, extractRuntimeFlags, type ChromeCli, type RuntimeFlags } from './chrome.ts';
import { BrowserUnavailableError } from '../runtime/browser.ts';
import { RuntimePageError } from '../runtime/page-build.ts';
import { SLURM_HELP, SlurmUnavailableError, commandSlurmSweep, extractSlurmFlags } from './slurm.ts';
import { MERGE_HELP, commandMerge } from './merge.ts';

const VERSION = ENGINE_VERSION;

const HELP = `gradstorm ${VERSION} — WebGPU gradient stress tests

Usage: gradstorm <command> [flags]

Commands:
  stress  Train a deep MLP (or, with --model rnn|lstm, a vanilla RNN or an
          LSTM through time) for --steps steps on the GPU and report per-layer
          (per-timestep) gradient norms against the theory (gradstorm.run/1).
            LSTM: --model lstm --seq-len T --width H --task probe|adding
            --forget-bias F (default 1) --gain G (W_hh ~ N(0, G²/H), default
            1/√3); reports ‖∂L/∂h_t‖, ‖∂L/∂c_t‖ and the forget-gate rate
            RNN: --model rnn --seq-len T --width H --task probe|adding
            --loss-at last|all --bptt k --init gaussian|orthogonal|identity
            --rnn-variant step|persistent (other flags as for the MLP)
            --model mlp --depth L --width N [--input N] [--output N] --batch B
            --activation relu|tanh|linear --init gaussian|xavier|he|orthogonal
            --gain G --bias-std S --loss mse|probe --steps K --lr X
            --optimizer sgd|momentum|adam --clip none|norm:C|value:C --seed N
            --residual A | C/sqrt(L)   pre-activation residual blocks
                                 h = h + A·(φ(h) Wᵀ + b) for layers 2..L−1
                                 (0: the plain MLP)
            --norm none|layer    LayerNorm (γ = 1, β = 0 at init, trained) in
                                 each residual block (needs --residual A > 0)
            --norm-place pre|post  pre (default): h = h + A·(φ(LN(h)) Wᵀ + b),
                                 and y = LN(h) Wᵀ + b at the readout;
                                 post: h = LN(h + A·(φ(h) Wᵀ + b))
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
            FILE); --shard i/n runs every n-th point from i. Each finished
            point is written at once; --resume skips the points the --json
            file already holds (the same sweep's grid and flags, else refused)
          LSTM: --model lstm --seq-lens 20,100 --forget-biases 0,1,3 [--gains
            0.3,0.577] plus the LSTM stress flags; each point records the
            cell-gradient rate per step measured and predicted from the
            forget gates (Node only; --model rnn: use stress)
${SLURM_HELP}  check   Run the kernel conformance suite on this machine's adapter: every
          kernel against its float64 reference. Exits 1 on any failure.
            --family ${CONFORMANCE_FAMILIES.join(',')}   (default: all)
            --json FILE          write the results (schema gradstorm.check/1)
${MERGE_HELP}${BENCH_HELP}${TUNE_HELP}${REPORT_GPU_HELP}
Common flags:
  --adapter default|swiftshader  use the default adapter (hardware if any,
                                 else SwiftShader) or force SwiftShader
${RUNTIME_HELP}  -h, --help                     this text
  --version                      the version (as reports and tuning tables record it)

Interruption: Ctrl-C (SIGINT) or SIGTERM stops stress and sweep after the
  step in flight; the report of what was done is still written (marked
  "interrupted": true) and the exit code is 130 (SIGINT) or 143 (SIGTERM).
  A second Ctrl-C exits at once, without a report. Exit codes: 0 done, 1 GPU
  failure (a partial report is written once a step was recorded), a merge
  with missing points, no Slurm (sweep --slurm) or a failed Slurm job, 2 bad
  flags (or a shard of another sweep).

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

async function commandCheck(args: string[], runtime: RuntimeFlags): Promise<number> {
  const { values } = parse(args, { family: { type: 'string' }, json: { type: 'string' } });
  if (values.help) return printHelp();
  const families = listFlag<ConformanceFamily>('family', values.family, CONFORMANCE_FAMILIES, CONFORMANCE_FAMILIES);
  checkOutputPaths([values.json]);
  if (runtime.runtime === 'chrome') return chromeCheck(families, values.adapter, runtime, checkPrinter(conformanceCases(families).length, values.json));
  const ctx = await openGpu(values.adapter);
  try {
    const cases = conformanceCases(families, ctx);
    const printer = checkPrinter(cases.length, values.json);
    printer.leftOut(conformanceCases(families).length - cases.length);
    printer.header();
    const results = await runConformance(ctx, cases, printer.row);
    return printer.finish(results, ctx.summary, adapterJson(ctx));
  } finally {
    ctx.destroy();
  }
}

/** check's table rows as cases finish, its summary line and its report (gradstorm.check/1): the same for both runtimes. */
export function checkPrinter(total: number, json: string | undefined) {
  const header = ['kernel', 'shape', 'max |Δ|', 'result', 'contract'];
  const widths = [34, 12, 10, 6];
  return {
    /** Says how many of the suite's cases this device cannot run (the subgroup matmul tilings without the `subgroups` feature), and counts progress without them. */
    leftOut(count: number) {
      if (count <= 0) return;
      total -= count;
      process.stderr.write(`check: ${count} cases of the subgroup matmul tilings left out: this device has no subgroups of four or more lanes (WebGPU feature 'subgroups')\n`);
    },
    header() {
      process.stdout.write(header.map((h, i) => h.padEnd(widths[i] ?? 0)).join('  ') + '\n');
    },
    row(r: ConformanceResult, i: number) {
      const row = [r.kernel, r.shape, Number.isNaN(r.maxError) ? '—' : r.maxError.toExponential(2), r.ok ? 'pass' : 'FAIL', r.contract];
      process.stdout.write(row.map((c, j) => c.padEnd(widths[j] ?? 0)).join('  ') + '\n');
      if (!r.ok) process.stdout.write(`    ${r.detail}\n`);
      if (process.stderr.isTTY) process.stderr.write(`  [${i + 1}/${total}]\r`);
    },
    /** Prints the summary, writes the report (partial, with `interruption`) and returns the exit code. */
    finish(results: ConformanceResult[], summary: AdapterSummary, adapter: CheckReportInput['adapter'], interruption: Interruption | null = null): number {
      const failed = results.filter((r) => !r.ok);
      process.stdout.write(`\n${results.length - failed.length} passed, ${failed.length} failed (${results.length} kernel cases on ${summary.description || summary.vendor})\n`);
      if (json) {
        const report: CheckReportInput = { schema: 'gradstorm.check/1', version: VERSION, adapter, results, ...interruptionFields(interruption) };
        writeJsonAtomic(json, report);
      }
      return failed.length === 0 ? 0 : 1;
    },
  };
}
export type CheckPrinter = ReturnType<typeof checkPrinter>;

async function commandRnnStress(args: string[], runtime: RuntimeFlags): Promise<number> {
  const command = parseRnnStress(args);
  if (command.help) return printHelp();
  checkOutputPaths([command.json, command.dump]);
  if (runtime.runtime === 'chrome') return chromeRnnStress(command, runtime, chromeCli);
  const { config } = command;
  return recurrentStress(command, {
    plan: describeRnnStressPlan(config),
    checkFits: (ctx) => RnnTrainer.checkFits(ctx, config),
    uses: () => Object.values(rnnMatmulUses(planRnn(config), config)),
    run: (ctx, options) => runRnnStress(ctx, config, { ...options, variant: command.variant }),
    summary: formatRnnStressSummary,
  });
}

async function commandLstmStress(args: string[], runtime: RuntimeFlags): Promise<number> {
  const command = parseLstmStress(args);
  if (command.help) return printHelp();
  checkOutputPaths([command.json, command.dump]);
  if (runtime.runtime === 'chrome') return chromeLstmStress(command, runtime, chromeCli);
  const { config } = command;
  return recurrentStress(command, {
    plan: describeLstmStressPlan(config),
    checkFits: (ctx) => LstmTrainer.checkFits(ctx, config),
    uses: () => Object.values(lstmMatmulUses(planLstm(config), config)),
    run: (ctx, options) => runLstmStress(ctx, config, options),
    summary: formatLstmStressSummary,
  });
}

/** What `recurrentStress` needs of a recurrent model (the RNN, the LSTM). */
interface RecurrentStressModel<Report extends { interruption?: Interruption }, Stats> {
  /** The plan line printed before the run. */
  plan: string;
  checkFits(ctx: GpuContext): void;
  uses(): MatmulUse[];
  run(
    ctx: GpuContext,
    options: { matmulVariant?: MatmulVariant; dump: boolean; onStep: (done: number, total: number, last: Stats) => void; signal: AbortSignal },
  ): Promise<{ report: Report; dump: unknown }>;
  summary(report: Report): string;
}

/** `stress --model rnn|lstm` in Node: plan, fit check, autotuning, the run, the report, the dump, the summary. */
async function recurrentStress<Report extends { interruption?: Interruption }, Stats extends GradNormRecord & { loss: number }>(
  command: { config: { steps: number; loss: string }; json?: string; dump?: string; matmulVariant?: MatmulVariant; quiet: boolean; retune: boolean; adapter?: string },
  model: RecurrentStressModel<Report, Stats>,
): Promise<number> {
  const { config } = command;
  const ctx = await openGpu(command.adapter);
  const stop = stopOnSignals(command.json ? `the partial report to ${command.json}` : 'the summary of the steps done');
  try {
    if (!command.quiet) process.stderr.write(`${model.plan}\n`);
    const note = probeTrainingNote(config, '--task adding (--loss mse)');
    if (note) process.stderr.write(`${note}\n`);
    model.checkFits(ctx); // before tuning: a model that cannot run is refused at once
    if (command.matmulVariant === undefined) await autotune(ctx, model.uses(), { ...command, signal: stop.signal });
    const { report, dump } = await model.run(ctx, {
      matmulVariant: command.matmulVariant,
      dump: command.dump !== undefined,
      onStep: progressReporter(config.steps, command.quiet, stop.signal),
      signal: stop.signal,
    });
    if (command.json) writeJsonAtomic(command.json, report);
    if (command.dump && dump) writeJsonAtomic(command.dump, dump);
    process.stdout.write(model.summary(report) + '\n');
    return finishRun(report.interruption, command.json);
  } finally {
    stop.dispose();
    ctx.destroy();
  }
}

/**
 * The last word of a stress run: where its report is and, when the run was
 * cut short, what stopped it and at which step; the exit code (0 complete,
 * 130 SIGINT, 143 SIGTERM, 1 device loss or kernel error).
 */
function finishRun(interruption: Interruption | undefined, json: string | undefined): number {
  if (!interruption) {
    if (json) process.stderr.write(`report: ${json}\n`);
    return 0;
  }
  const kept = json ? `partial report (${interruption.stepReached} step(s), "interrupted": true) written to ${json}` : 'no --json given: only the summary above was kept';
  process.stderr.write(`gradstorm: ${interruption.message}; ${kept}\n`);
  return interruptionExitCode(interruption.reason);
}

async function commandStress(args: string[], runtime: RuntimeFlags): Promise<number> {
  refuseLstmFlagsElsewhere(args);
  if (isRnnStress(args)) return commandRnnStress(args, runtime);
  if (isLstmStress(args)) return commandLstmStress(args, runtime);
  const command = parseStress(args);
  if (command.help) return printHelp();
  const { config } = command;
  checkOutputPaths([command.json, command.dump]);
  if (runtime.runtime === 'chrome') return chromeStress(command, runtime, chromeCli);
  const ctx = await openGpu(command.adapter);
  const stop = stopOnSignals(command.json ? `the partial report to ${command.json}` : 'the summary of the steps done');
  try {
    if (!command.quiet) process.stderr.write(`${describeStressPlan(config)}\n`);
    const note = probeTrainingNote(config);
    if (note) process.stderr.write(`${note}\n`);
    MlpTrainer.checkFits(ctx, config); // before tuning: a model that cannot run is refused at once
    if (command.matmulVariant === undefined) await autotune(ctx, Object.values(mlpMatmulUses(planMlp(config), config.batch)), { ...command, signal: stop.signal });
    const progress = progressReporter(config.steps, command.quiet, stop.signal);
    const { report, dump } = await runStress(ctx, config, {
      matmulVariant: command.matmulVariant,
      dump: command.dump !== undefined,
      onStep: progress,
      signal: stop.signal,
    });
    // Everything is computed before anything is written: a failed run leaves no half-written file
    // (an interrupted one writes the report of the steps it did, marked "interrupted").
    if (command.json) writeJsonAtomic(command.json, report);
    if (command.dump && dump) writeJsonAtomic(command.dump, dump);
    process.stdout.write(formatStressSummary(report) + '\n');
    return finishRun(report.interruption, command.json);
  } finally {
    stop.dispose();
    ctx.destroy();
  }
}

/** What the Chrome runtime borrows from the Node commands, so both print the same. */
const chromeCli: ChromeCli = { progressReporter };

/**
 * A one-line progress bar on a terminal; otherwise (logs, CI) a line at the
 * first step, at the first step whose gradient is non-finite, every 10% and
 * at least every 10 s. ‖g‖ of a gradient with non-finite entries reads
 * `non-finite (N entries, first at layer l)`, never a number.
 */
function progressReporter(total: number, quiet: boolean, stopping?: AbortSignal) {
  const started = performance.now();
  let lastLine = 0;
  let lastLineAt = started;
  let finite = true;
  return (done: number, _total: number, last: GradNormRecord & { loss: number }) => {
    if (quiet || total < 2) return;
    const firstNonfinite = finite && last.nonfinite > 0;
    if (firstNonfinite) finite = false;
    const now = performance.now();
    const elapsed = (now - started) / 1000;
    const eta = (elapsed / done) * (total - done);
    const text = `step ${done}/${total}  loss ${last.loss.toPrecision(4)}  ‖g‖ ${describeGradNorm(last)}  ${elapsed.toFixed(1)} s elapsed, ~${eta.toFixed(0)} s left`;
    if (process.stderr.isTTY) {
      // Once a signal said it is stopping, the bar stays put below that message.
      if (stopping?.aborted) return;
      const width = 24;
      const filled = Math.round((done / total) * width);
      process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}\x1b[K${done === total ? '\n' : ''}`);
    } else if (done === 1 || firstNonfinite || done === total || done - lastLine >= Math.max(1, Math.floor(total / 10)) || now - lastLineAt >= 10_000) {
      lastLine = done;
      lastLineAt = now;
      process.stderr.write(`${text}\n`);
    }
  };
}

/** The sweep's matmul uses, tuned as one list (depth does not change the shapes, but the points are listed all the same). */
export function sweepMatmulUses(command: AnySweepCommand): MatmulUse[] {
  // The LSTM's shapes follow T (the fused input matmul spans every timestep): one list per seq-len.
  if (command.model === 'lstm') return command.seqLens.flatMap((seqLen) => Object.values(lstmMatmulUses(planLstm(command.base), { ...command.base, seqLen })));
  return command.depths.flatMap((depth) => Object.values(mlpMatmulUses(planMlp({ ...command.base, depth }), command.base.batch)));
}

/**
 * What a sweep prints and writes, the same for both runtimes: the opening
 * lines, a line per point, every finished point saved at once (atomically, so
 * a sweep stopped or crashed midway keeps them), the closing table and word.
 */
export function sweepOutput(command: AnySweepCommand, resumed: readonly AnySweepPoint[]) {
  const grid = anySweepGrid(command);
  const save = (adapter: unknown, points: readonly AnySweepPoint[], interruption: Interruption | null) => {
    if (command.json) writeJsonAtomic(command.json, sweepDocument(command, VERSION, adapter, points, interruption));
    if (command.csv) writeTextAtomic(command.csv, sweepCsv(points));
  };
  return {
    start() {
      const axes =
        command.model === 'lstm'
          ? `an LSTM (width ${command.base.width}, batch ${command.base.batch}, task ${command.base.task}) over seq-lens ${command.seqLens.join(',')} × forget biases ${command.forgetBiases.map(shortNumber).join(',')} × W_hh gains ${command.gains.map(shortNumber).join(',')}`
          : `depths ${command.depths.join(',')} × ${command.gains.length} gains × ${command.activations.join(',')}`;
      process.stderr.write(`sweep: ${grid.length} point(s) (shard ${command.shard.index}/${command.shard.count}) of ${axes}\n`);
      if (command.resume) process.stderr.write(`sweep --resume: ${resumed.length} of ${grid.length} point(s) already in ${command.json}; running the other ${grid.length - resumed.length}\n`);
      const note = command.model === 'lstm' ? null : probeTrainingNote(command.base);
      if (note) process.stderr.write(`${note}\n`);
    },
    point(adapter: unknown, p: AnySweepPoint, done: number, n: number, finished: readonly AnySweepPoint[]) {
      // Marked interrupted until the last point is in: a sweep killed outright (SIGKILL, a crash) leaves a file that says so.
      save(adapter, finished, { reason: 'aborted', stepReached: finished.length, message: `sweep running, or stopped without a word (a crash): ${finished.length} of ${n} point(s) finished` });
      if (command.quiet) return;
      if (p.model === 'lstm') {
        process.stderr.write(`  [${done}/${n}] ${describeLstmPoint(p)}: ${describeLstmPointResult(p)}, ${(p.ms / 1000).toFixed(1)} s\n`);
        return;
      }
      const m = p.measuredGrowthPerLayer === null ? '—' : p.measuredGrowthPerLayer.toFixed(4);
      const q = p.predictedGrowthPerLayer === null ? '—' : p.predictedGrowthPerLayer.toFixed(4);
      process.stderr.write(`  [${done}/${n}] ${p.activation} depth ${p.depth} gain ${p.gain}: ${p.status}${p.error ? ` (${p.error})` : `, growth ${m} (predicted ${q})`}, ${(p.ms / 1000).toFixed(1)} s\n`);
    },
    /** The table, the final files and the exit code (0 complete; 130/143/1 when stopped early). */
    finish(adapter: unknown, points: readonly AnySweepPoint[], interruption: Interruption | null): number {
      process.stdout.write(sweepTable(points) + '\n');
      save(adapter, points, interruption);
      if (!interruption) return 0;
      const kept = command.json ? `${points.length} finished point(s) kept in ${command.json}; run the same command with --resume to finish the other ${grid.length - points.length}` : 'no --json given: only the table above was kept';
      process.stderr.write(`gradstorm: ${interruption.message}; ${kept}\n`);
      return interruptionExitCode(interruption.reason);
    },
  };
}

export type SweepOutput = ReturnType<typeof sweepOutput>;

async function commandSweep(all: string[], runtime: RuntimeFlags): Promise<number> {
  // --slurm N --out DIR: the sweep as a Slurm array job and a merge job (src/cli/slurm.ts).
  const { slurm, rest: args } = extractSlurmFlags(all);
  if (slurm) return commandSlurmSweep(slurm, args, runtime, printHelp);
  const command = parseSweepCommand(args);
  if (command.help) return printHelp();
  if (command.model === 'lstm') nodeOnly('sweep --model lstm', runtime, 'its points run in Node (Dawn) only for now; gradstorm stress --model lstm --runtime chrome runs one LSTM in Chrome');
  checkOutputPaths([command.json, command.csv]);
  // --resume: the points the --json file already holds, after checking it is this very sweep (refused otherwise).
  const resumed = command.resume && command.json ? readResumedPoints(command.json, command) : [];
  const output = sweepOutput(command, resumed);
  if (runtime.runtime === 'chrome' && command.model !== 'lstm') return chromeSweep(command, runtime, { uses: sweepMatmulUses(command), output, resumed: resumed as SweepPoint[] });
  const ctx = await openGpu(command.adapter);
  const stop = stopOnSignals(command.json ? `the finished points to ${command.json}` : 'the table of the finished points');
  try {
    if (command.matmulVariant === undefined) await autotune(ctx, sweepMatmulUses(command), { ...command, signal: stop.signal });
    output.start();
    const adapter = adapterJson(ctx);
    const { points, interruption } = await runSweep(ctx, command, (p, done, n, finished) => output.point(adapter, p, done, n, finished), { signal: stop.signal, resumed });
    return output.finish(adapter, points, interruption);
  } finally {
    stop.dispose();
    ctx.destroy();
  }
}

/** Refuses the runtime flags on a command that has no Chrome runtime, rather than measuring Dawn while the user believes it is Chrome. */
function nodeOnly(command: string, runtime: RuntimeFlags, why: string): void {
  const given = [runtime.runtime === 'chrome' ? '--runtime chrome' : '', runtime.browser !== undefined ? '--browser' : '', runtime.headed ? '--headed' : ''].filter(Boolean);
  if (given.length > 0) throw new UsageError(`${command} does not take ${given.join(', ')}: ${why}`);
}

function printHelp(): number {
  process.stdout.write(HELP);
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...all] = argv;
  try {
    // --runtime node|chrome (with --browser, --headed) for every command; the rest is each command's.
    const { flags: runtime, rest } = command === undefined || command.startsWith('-') || command === 'help' ? { flags: { runtime: 'node' as const, headed: false }, rest: all } : extractRuntimeFlags(all);
    switch (command) {
      case 'check':
        return await commandCheck(rest, runtime);
      case 'bench':
        return await commandBench(rest, { version: VERSION, openGpu, printHelp, runtime });
      case undefined:
      case 'help':
      case '-h':
      case '--help':
        return printHelp();
      case '--version':
        process.stdout.write(`${VERSION}\n`);
        return 0;
      case 'stress':
        return await commandStress(rest, runtime);
      case 'tune':
        return await commandTune(rest, { openGpu, printHelp, runtime });
      case 'sweep':
        return await commandSweep(rest, runtime);
      case 'merge':
        nodeOnly(command, runtime, 'it reads shard files and runs nothing on a GPU');
        return commandMerge(rest, printHelp);
      case 'report-gpu':
        nodeOnly(command, runtime, 'it runs in Node (Dawn); in Chrome, run check, tune, bench and stress with --runtime chrome');
        return await commandReportGpu(rest, { version: VERSION, openGpu, printHelp });
      default:
        throw new UsageError(`unknown command '${command}'; available: stress, sweep, merge, check, bench, tune, report-gpu (gradstorm --help)`);
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
    if (error instanceof RunInterruptedError) {
      process.stderr.write(`gradstorm: ${error.message}; no report written\n`);
      return interruptionExitCode(error.reason);
    }
    if (
      error instanceof GpuUnavailableError || error instanceof GpuLimitError || error instanceof GpuKernelError || error instanceof DeviceLostError ||
      error instanceof BrowserUnavailableError || error instanceof RuntimePageError || error instanceof SlurmUnavailableError
    ) {
      process.stderr.write(`gradstorm: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
