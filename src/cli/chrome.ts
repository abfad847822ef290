/**
 * `--runtime chrome`: the same commands, run by the engine in a Chrome page
 * (demo/runtime.ts) that puppeteer drives. Node parses the flags (a bad flag
 * exits 2 before any browser starts), the page runs the command and streams
 * each step, case or cell back, and Node prints and writes exactly what the
 * Node runtime would (same progress bar, tables, files and schemas), with
 * `adapter.runtime` and `adapter.browser` added. Ctrl-C stops the page's run
 * after the step in flight and writes the page's own partial report; a crash
 * or a lost device mid-run writes a valid partial report of the streamed
 * steps; the browser is always closed (its process group killed if close hangs).
 */
import type { AdapterSummary } from '../gpu/context.ts';
import { mlpMatmulUses, planMlp, type MatmulUse } from '../models/mlp.ts';
import { planRnn, rnnMatmulUses } from '../models/rnn.ts';
import { buildRunReport, type RunReport } from '../report/run-report.ts';
import { buildRnnRunReport, type RnnRunReport } from '../scheduler/rnn-run.ts';
import type { StepStats } from '../scheduler/mlp-trainer.ts';
import type { RnnStepStats } from '../scheduler/rnn-trainer.ts';
import { MAX_LAYER_RECORDS } from '../scheduler/run.ts';
import { defaultRnnVariant } from '../kernels/rnn.ts';
import { BrowserUnavailableError, launchChrome, findBrowser, type LaunchedChrome } from '../runtime/browser.ts';
import { RuntimeCrashError, engineError, openRuntimePage, type RuntimePage } from '../runtime/page-driver.ts';
import type { PageBenchPlan, PageCommand, PageEvent, PageResult, PageTuning } from '../runtime/protocol.ts';
import type { EnsureTunedResult, TunedEntry, TuningTable } from '../tune/tuner.ts';
import type { BenchReport } from '../../bench/report.ts';
import { progressLine, type BenchCommand } from './bench.ts';
import type { TuneCommand } from './tune.ts';
import { conformanceCases, type ConformanceFamily, type ConformanceResult } from '../conformance/index.ts';
import type { CheckPrinter, SweepOutput } from './main.ts';
import { runSweep, type AnySweepPoint, type SweepCommand, type SweepPoint } from './sweep.ts';
import { UsageError, oneOf } from './flags.ts';
import { writeJsonAtomic } from './io.ts';
import { describeStressPlan, formatStressSummary, probeTrainingNote, type StressCommand } from './stress.ts';
import { describeRnnStressPlan, formatRnnStressSummary, type RnnStressCommand } from './rnn-flags.ts';
import { describeLstmStressPlan, formatLstmStressSummary, type LstmStressCommand } from './lstm-flags.ts';
import { lstmMatmulUses, planLstm } from '../models/lstm.ts';
import { buildLstmRunReport, type LstmRunReport, type LstmStepStats } from '../scheduler/lstm-run.ts';
import type { MatmulVariant } from '../kernels/matmul.ts';
import { fileTuningStore, tuningProgress } from './tuning.ts';
import { RunInterruptedError, type Interruption, type InterruptionReason } from '../scheduler/interruption.ts';
import { interruptionExitCode, stopOnSignals } from './signals.ts';

export const RUNTIMES = ['node', 'chrome'] as const;
export type Runtime = (typeof RUNTIMES)[number];

export interface RuntimeFlags {
  runtime: Runtime;
  /** --browser PATH: the Chrome or Chromium binary. */
  browser?: string;
  /** --headed: a visible window instead of headless. */
  headed: boolean;
}

export const RUNTIME_HELP = `  --runtime node|chrome          where the engine runs: Node (Dawn, the default)
                                 or a Chrome page driven by puppeteer (same
                                 command, output and report files; the report's
                                 adapter says runtime chrome and the browser)
  --browser PATH                 chrome: the browser binary (default: the
                                 system's Chrome/Chromium, else puppeteer's own)
  --headed                       chrome: a visible window, not headless
`;

/**
 * Takes --runtime, --browser and --headed out of a command's arguments (every
 * command accepts them), so each command parses the rest as before.
 */
export function extractRuntimeFlags(args: readonly string[]): { flags: RuntimeFlags; rest: string[] } {
  const rest: string[] = [];
  let runtime: string | undefined;
  let browser: string | undefined;
  let headed = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const m = /^--(runtime|browser)(?:=(.*))?$/.exec(arg);
    if (m) {
      const value = m[2] ?? args[++i];
      if (value === undefined || (m[2] === undefined && value.startsWith('--'))) throw new UsageError(`--${m[1]} needs a value${m[1] === 'runtime' ? ': node or chrome' : ': the path of a Chrome or Chromium binary'}`);
      if (m[1] === 'runtime') runtime = value;
      else browser = value;
    } else if (arg === '--headed') headed = true;
    else rest.push(arg);
  }
  const flags: RuntimeFlags = { runtime: oneOf('runtime', runtime, RUNTIMES, 'node'), browser, headed };
  if (flags.runtime === 'node' && (browser !== undefined || headed)) {
    throw new UsageError(`${browser !== undefined ? '--browser' : '--headed'} applies to --runtime chrome; add --runtime chrome or drop it`);
  }
  return { flags, rest };
}


class InterruptedBySignal extends Error {
  constructor(readonly signal: 'SIGINT' | 'SIGTERM') {
    super(`interrupted (${signal})`);
  }
}

/** How long after Ctrl-C the page's own (partial) result is awaited before the streamed steps are written instead. */
const PAGE_STOP_GRACE_MS = 15_000;

/** A launched browser with the runtime page open on its GPU device. */
export interface ChromeSession {
  chrome: LaunchedChrome;
  page: RuntimePage;
  /** The page's adapter, its backend naming the browser. */
  adapter: AdapterSummary;
}

/** What a body learns of a stop: the signal, and the one right to write the final files. */
export interface ChromeRun {
  /** Aborted with reason 'SIGINT' or 'SIGTERM' by the first signal (the page's run is told to stop after the step in flight). */
  signal: AbortSignal;
  /**
   * True for the first caller only: the body before it writes its final files, or withChrome before `onStop`
   * (a crash, or a page that did not answer in time after a signal). So exactly one of them writes.
   */
  claimFinalWrite(): boolean;
  /** Whether the final write is taken (progress saves stop then, so they cannot overwrite it). */
  readonly finalWriteClaimed: boolean;
}

/** The adapter section of a report from Chrome: the page's adapter plus the runtime and browser that ran it. */
export function chromeAdapter<T extends object>(adapter: T, session: ChromeSession): T & { runtime: 'chrome'; browser: string } {
  return { ...adapter, runtime: 'chrome', browser: session.chrome.version };
}

/**
 * Launches Chrome, opens the runtime page and runs `body`. The first SIGINT or
 * SIGTERM aborts `run.signal` and asks the page to stop after the step in
 * flight: the body then ends with the page's own partial result and writes
 * it. A crash, or a page that has not answered PAGE_STOP_GRACE_MS after the
 * signal, ends in `onStop` instead (which writes what was streamed and returns
 * the exit code); `claimFinalWrite` keeps it to one writer. A second signal
 * kills the browser and exits at once (130/143). The browser is closed on
 * every path, with the handlers installed until it is.
 */
export async function withChrome(
  flags: RuntimeFlags,
  adapterFlag: string | undefined,
  body: (session: ChromeSession, run: ChromeRun) => Promise<number>,
  /** Writes what was measured (a partial report); its code is used for crashes, 130/143 after SIGINT/SIGTERM. */
  onStop: (stop: { reason: InterruptionReason; message: string }) => number,
): Promise<number> {
  const adapterChoice = oneOf('adapter', adapterFlag, ['default', 'swiftshader'] as const, 'default');
  const executablePath = await findBrowser(flags.browser);
  let chrome: LaunchedChrome | null = null;
  let page: RuntimePage | null = null;
  let giveUp: (signal: 'SIGINT' | 'SIGTERM') => void = () => {};
  const interrupted = new Promise<never>((_, reject) => (giveUp = (signal) => reject(new InterruptedBySignal(signal))));
  interrupted.catch(() => {});
  // Installed until the browser is closed, so a signal meanwhile cannot kill Node and leave Chrome running; after a
  // signal they stay until the process exits: a second one kills the browser and still exits with 130/143.
  const stop = stopOnSignals('what it measured', {
    stopping: () =>
      page ? 'stopping the run in the browser after the step in flight, then writing what it measured. Press Ctrl-C again to exit at once' : 'stopping the browser',
    onFirst: (name) => {
      const current = page as RuntimePage | null;
      // Still launching: there is no run to wait for.
      if (!current) return giveUp(name);
      void current.abort(name);
      setTimeout(() => giveUp(name), PAGE_STOP_GRACE_MS).unref();
    },
    again: 'killing the browser and exiting at once',
    beforeExit: () => (chrome as LaunchedChrome | null)?.killNow(),
  });
  let claimed = false;
  const run: ChromeRun = {
    signal: stop.signal,
    claimFinalWrite: () => !claimed && (claimed = true),
    get finalWriteClaimed() {
      return claimed;
    },
  };
  const killOnExit = () => (chrome as LaunchedChrome | null)?.killNow();
  process.on('exit', killOnExit);
  let started: Promise<ChromeSession> | null = null;
  try {
    started = (async () => {
      chrome = await launchChrome({ executablePath, headed: flags.headed, swiftShader: adapterChoice === 'swiftshader' ? true : undefined });
      const tab = (await chrome.browser.pages())[0] ?? (await chrome.browser.newPage());
      page = await openRuntimePage(tab, { tuningStore: fileTuningStore(), say: (t) => process.stderr.write(t) }).catch((error: unknown) => {
        if ((error as Error).name === 'GpuUnavailableError') {
          throw new BrowserUnavailableError(
            `${chrome!.version} gave the page no WebGPU adapter${chrome!.swiftShader ? ' even on SwiftShader' : ''}: ${(error as Error).message}` +
              (chrome!.swiftShader ? '' : ' On a machine without a working GPU driver, add --adapter swiftshader.'),
          );
        }
        throw error;
      });
      const s = page.adapter;
      const adapter: AdapterSummary = { ...s, backend: `${chrome.version}, navigator.gpu` };
      const emulated = s.software ? ' — emulated on the CPU: slow, and unlike a GPU' : '';
      process.stderr.write(`adapter: ${s.vendor} ${s.architecture} ${s.description} (runtime chrome: ${adapter.backend}${chrome.swiftShader ? ', SwiftShader' : ''})${emulated}\n`);
      return { chrome, page, adapter } satisfies ChromeSession;
    })();
    const session = await Promise.race([started, interrupted]);
    return await Promise.race([body(session, run), interrupted]);
  } catch (error) {
    const signal = stop.signal.aborted ? (stop.signal.reason as 'SIGINT' | 'SIGTERM') : null;
    if (signal) {
      // After a signal, whatever ended the body (the page not answering in time, a crash, an engine error): write what was streamed.
      if (!(error instanceof InterruptedBySignal) && !(error instanceof RunInterruptedError)) process.stderr.write(`gradstorm: after ${signal}: ${(error as Error).message}\n`);
      if (run.claimFinalWrite()) onStop({ reason: signal, message: `interrupted by ${signal}` });
      return interruptionExitCode(signal);
    }
    if (error instanceof RuntimeCrashError) {
      process.stderr.write(`\ngradstorm: ${error.message}\n`);
      return run.claimFinalWrite() ? onStop({ reason: error.reason, message: error.message }) : 1;
    }
    throw error;
  } finally {
    // A signal during the launch: let the launch finish (or fail) so there is a browser to close, not one left starting.
    await (started as Promise<ChromeSession> | null)?.catch(() => null);
    await (page as RuntimePage | null)?.close();
    await (chrome as LaunchedChrome | null)?.close();
    process.off('exit', killOnExit);
    stop.dispose();
  }
}

/** Prints the autotuner's progress as the Node runtime does. */
function tuningEvents(options: { retune?: boolean; quiet?: boolean }): { onEvent(e: PageEvent): void; done(result: EnsureTunedResult | null): void } {
  const progress = tuningProgress(options);
  const where = (key: string) => fileTuningStore().where(key);
  return {
    onEvent(e) {
      if (e.type === 'tune-class') progress.onClass(e.shapeClass, e.index, e.total);
    },
    done(result) {
      if (result) progress.done(result, where);
    },
  };
}

function partialStop<R>(
  steps: { length: number },
  stop: { reason: InterruptionReason; message: string },
  build: (interruption: Interruption) => R,
  write: (report: R) => void,
): number {
  if (steps.length === 0) {
    process.stderr.write(`gradstorm: no step was recorded before the stop; no report written\n`);
    return 1;
  }
  const interruption: Interruption = { reason: stop.reason, stepReached: steps.length, message: stop.message };
  process.stderr.write(`gradstorm: stopped at step ${steps.length} (${stop.reason}); writing the partial report of the ${steps.length} step(s) measured\n`);
  write(build(interruption));
  return 1;
}

export interface ChromeCli {
  progressReporter(total: number, quiet: boolean): (done: number, total: number, last: StepStats | RnnStepStats | LstmStepStats) => void;
}

/** The adapter section of check, sweep and bench reports (as the Node runtime writes it) from Chrome. */
export function chromeAdapterJson(session: ChromeSession) {
  const { vendor, architecture, description, device, software, backend } = session.adapter;
  return chromeAdapter({ vendor, architecture, description, device, software, backend }, session);
}

/** `check` in Chrome: the conformance suite in the page, rows printed as the cases finish. */
export async function chromeCheck(families: ConformanceFamily[], adapterFlag: string | undefined, flags: RuntimeFlags, printer: CheckPrinter): Promise<number> {
  const results: ConformanceResult[] = [];
  let session: ChromeSession | null = null;
  return withChrome(
    flags,
    adapterFlag,
    async (s, run) => {
      session = s;
      printer.header();
      const all = conformanceCases(families).length;
      const result = await s.page.run({ kind: 'check', families }, (e) => {
        if (e.type !== 'case') return;
        // The page runs what its device can (conformanceCases(families, ctx)): its total says how many it left out.
        if (e.index === 0) printer.leftOut(all - e.total);
        results.push(e.result);
        printer.row(e.result, e.index);
      });
      if (!result.ok) throw engineError(result.error);
      if (result.kind !== 'check') throw new Error(`the runtime page answered ${result.kind} to check (a bug)`);
      if (!run.claimFinalWrite()) return 1;
      return printer.finish(result.results, s.adapter, chromeAdapterJson(s));
    },
    (stop) => {
      if (!session) return 1;
      printer.finish(results, session.adapter, chromeAdapterJson(session), { reason: stop.reason, stepReached: results.length, message: stop.message });
      return 1;
    },
  );
}

/** `sweep` in Chrome: each point a stress run in the page (tuned once before the first); output and --resume as in Node. */
export async function chromeSweep(
  command: SweepCommand,
  flags: RuntimeFlags,
  cli: { uses: MatmulUse[]; output: SweepOutput; resumed: readonly SweepPoint[] },
): Promise<number> {
  let finished: readonly AnySweepPoint[] = cli.resumed;
  let session: ChromeSession | null = null;
  return withChrome(
    flags,
    command.adapter,
    async (s, run) => {
      session = s;
      if (command.matmulVariant === undefined) {
        const tuning = tuningEvents(command);
        const result = await s.page.run({ kind: 'tune', tune: { uses: cli.uses, retune: command.retune } }, (e) => {
          tuning.onEvent(e);
          if (e.type === 'tuned') tuning.done(e.result);
        });
        if (!result.ok) throw engineError(result.error);
      }
      cli.output.start();
      const adapter = chromeAdapterJson(s);
      const { points, interruption } = await runSweep(
        null,
        command,
        (p, done, n, soFar) => {
          finished = soFar;
          // Not after the final file is written (by the fallback, when the page did not answer a signal in time).
          if (!run.finalWriteClaimed) cli.output.point(adapter, p, done, n, soFar);
        },
        {
          // Ctrl-C: the page's point stops after its step in flight and runSweep drops it (--resume runs it again).
          signal: run.signal,
          resumed: cli.resumed,
          runPoint: async (config) => {
            const result = await s.page.run({ kind: 'stress', config, matmulVariant: command.matmulVariant });
            if (!result.ok) throw engineError(result.error);
            if (result.kind !== 'stress') throw new Error(`the runtime page answered ${result.kind} to a sweep point (a bug)`);
            return result.report;
          },
        },
      );
      if (!run.claimFinalWrite()) return 1;
      return cli.output.finish(adapter, points, interruption);
    },
    (stop) => {
      if (!session) return 1;
      cli.output.finish(chromeAdapterJson(session), finished, { reason: stop.reason, stepReached: finished.length, message: `sweep stopped (${stop.message}): ${finished.length} point(s) finished` });
      return 1;
    },
  );
}

/** `stress` (MLP) in Chrome. */
export async function chromeStress(command: StressCommand, flags: RuntimeFlags, cli: ChromeCli): Promise<number> {
  const { config } = command;
  const steps: StepStats[] = [];
  let session: ChromeSession | null = null;
  const keepEvery = Math.max(1, Math.ceil((config.steps * config.depth) / MAX_LAYER_RECORDS));
  // The last streamed step with its layers, whether kept or not: a run cut short keeps it whole (as in Node's runStress).
  let lastWhole: StepStats | null = null;
  const writePartial = partialWriter(command.json);
  const partial = (stop: { reason: InterruptionReason; message: string }) =>
    partialStop(
      steps,
      stop,
      (interruption) => {
        const kept = lastWhole ? [...steps.slice(0, -1), lastWhole] : steps;
        const report = buildRunReport(config, session!.adapter, kept);
        return { ...report, adapter: chromeAdapter(report.adapter, session!), interrupted: true as const, interruption };
      },
      writePartial,
    );
  return withChrome(
    flags,
    command.adapter,
    async (s, run) => {
      session = s;
      if (!command.quiet) process.stderr.write(`${describeStressPlan(config)}\n`);
      const note = probeTrainingNote(config);
      if (note) process.stderr.write(`${note}\n`);
      const tune: PageTuning | null = command.matmulVariant === undefined ? { uses: Object.values(mlpMatmulUses(planMlp(config), config.batch)), retune: command.retune } : null;
      const tuning = tuningEvents(command);
      // Started once tuning is done, as in Node (where the bar starts after autotune).
      let progress: ReturnType<ChromeCli['progressReporter']> | null = null;
      const result = await s.page.run({ kind: 'stress', config, matmulVariant: command.matmulVariant, dump: command.dump !== undefined, tune }, (e) => {
        tuning.onEvent(e);
        if (e.type === 'tuned') tuning.done(e.result);
        if (e.type === 'tuned' || e.type === 'step') progress ??= cli.progressReporter(config.steps, command.quiet);
        if (e.type === 'step') {
          const stats = e.stats as StepStats;
          steps.push(stats.step === 1 || stats.step === config.steps || (stats.step - 1) % keepEvery === 0 ? stats : { ...stats, layers: [] });
          lastWhole = stats;
          progress?.(e.done, e.total, stats);
        }
      });
      if (!result.ok) return engineStop(result.error, steps, partial, run);
      if (result.kind !== 'stress') throw new Error(`the runtime page answered ${result.kind} to stress (a bug)`);
      if (!run.claimFinalWrite()) return 1;
      const report = { ...result.report, adapter: chromeAdapter(result.report.adapter, s) };
      return finishStress(command, report, result.dump, formatStressSummary(report));
    },
    partial,
  );
}

/** Writes a partial report to `json` (when given) and says where. */
function partialWriter(json: string | undefined): (report: object) => void {
  return (report) => {
    if (!json) return;
    writeJsonAtomic(json, report);
    process.stderr.write(`partial report: ${json}\n`);
  };
}

/** The end of a stress run in Chrome, as in Node: the report and dump files, the summary, the exit code (1 when the page stopped it early). */
function finishStress(command: { json?: string; dump?: string }, report: { interruption?: Interruption }, dump: object | null, summary: string): number {
  if (command.json) writeJsonAtomic(command.json, report);
  if (command.dump && dump) writeJsonAtomic(command.dump, dump);
  process.stdout.write(summary + '\n');
  if (command.json) process.stderr.write(`report: ${command.json}\n`);
  return report.interruption ? interruptionExitCode(report.interruption.reason) : 0;
}

/** A lost device or failed kernel after the first step: the partial report; before it: the error, as in Node. */
function engineStop(error: { name: string; message: string }, steps: { length: number }, partial: (stop: { reason: InterruptionReason; message: string }) => number, run: ChromeRun): number {
  const reason = error.name === 'DeviceLostError' ? 'device-lost' : error.name === 'GpuKernelError' ? 'kernel-error' : null;
  if (reason && steps.length > 0) {
    process.stderr.write(`\ngradstorm: ${error.message}\n`);
    return run.claimFinalWrite() ? partial({ reason, message: error.message }) : 1;
  }
  throw engineError(error);
}

/** `stress --model rnn` in Chrome. */
export function chromeRnnStress(command: RnnStressCommand, flags: RuntimeFlags, cli: ChromeCli): Promise<number> {
  const { config } = command;
  return chromeRecurrentStress<RnnStepStats, RnnRunReport>(command, flags, cli, {
    plan: describeRnnStressPlan(config),
    uses: () => Object.values(rnnMatmulUses(planRnn(config), config)),
    page: (tune) => ({ kind: 'rnn-stress', config, variant: command.variant, matmulVariant: command.matmulVariant, dump: command.dump !== undefined, tune }),
    partialReport: (adapter, steps) => buildRnnRunReport(config, adapter, command.variant ?? defaultRnnVariant(adapter, config.batch, config.width), steps),
    result: (r) => (r.ok && r.kind === 'rnn-stress' ? r : null),
    summary: formatRnnStressSummary,
  });
}

/** `stress --model lstm` in Chrome. */
export function chromeLstmStress(command: LstmStressCommand, flags: RuntimeFlags, cli: ChromeCli): Promise<number> {
  const { config } = command;
  return chromeRecurrentStress<LstmStepStats, LstmRunReport>(command, flags, cli, {
    plan: describeLstmStressPlan(config),
    uses: () => Object.values(lstmMatmulUses(planLstm(config), config)),
    page: (tune) => ({ kind: 'lstm-stress', config, matmulVariant: command.matmulVariant, dump: command.dump !== undefined, tune }),
    partialReport: (adapter, steps) => buildLstmRunReport(config, adapter, steps),
    result: (r) => (r.ok && r.kind === 'lstm-stress' ? r : null),
    summary: formatLstmStressSummary,
  });
}

/** What {@link chromeRecurrentStress} needs of a recurrent model (the RNN, the LSTM). */
interface ChromeRecurrentModel<Stats, Report> {
  /** The plan line printed before the run. */
  plan: string;
  uses(): MatmulUse[];
  page(tune: PageTuning | null): PageCommand;
  /** The report of the steps streamed so far (a partial report's body). */
  partialReport(adapter: AdapterSummary, steps: Stats[]): Report;
  /** The page's result when it is this model's, else null. */
  result(r: PageResult): { report: Report; dump: object | null } | null;
  summary(report: Report): string;
}

/** `stress --model rnn|lstm` in Chrome: the page runs the model, Node prints and writes as the Node runtime does. */
async function chromeRecurrentStress<Stats extends StepStats | RnnStepStats | LstmStepStats, Report extends { adapter: object; interruption?: Interruption }>(
  command: { config: { steps: number; loss: string }; json?: string; dump?: string; matmulVariant?: MatmulVariant; retune: boolean; quiet: boolean; adapter?: string },
  flags: RuntimeFlags,
  cli: ChromeCli,
  model: ChromeRecurrentModel<Stats, Report>,
): Promise<number> {
  const { config } = command;
  const steps: Stats[] = [];
  let session: ChromeSession | null = null;
  const writePartial = partialWriter(command.json);
  const partial = (stop: { reason: InterruptionReason; message: string }) =>
    partialStop(
      steps,
      stop,
      (interruption) => {
        const report = model.partialReport(session!.adapter, steps);
        return { ...report, adapter: chromeAdapter(report.adapter, session!), interrupted: true as const, interruption };
      },
      writePartial,
    );
  return withChrome(
    flags,
    command.adapter,
    async (s, run) => {
      session = s;
      if (!command.quiet) process.stderr.write(`${model.plan}\n`);
      const note = probeTrainingNote(config, '--task adding (--loss mse)');
      if (note) process.stderr.write(`${note}\n`);
      const tune: PageTuning | null = command.matmulVariant === undefined ? { uses: model.uses(), retune: command.retune } : null;
      const tuning = tuningEvents(command);
      let progress: ReturnType<ChromeCli['progressReporter']> | null = null;
      const pageCommand = model.page(tune);
      const result = await s.page.run(pageCommand, (e) => {
        tuning.onEvent(e);
        if (e.type === 'tuned') tuning.done(e.result);
        if (e.type === 'tuned' || e.type === 'step') progress ??= cli.progressReporter(config.steps, command.quiet);
        if (e.type === 'step') {
          steps.push(e.stats as Stats);
          progress?.(e.done, e.total, e.stats);
        }
      });
      if (!result.ok) return engineStop(result.error, steps, partial, run);
      const own = model.result(result);
      if (!own) throw new Error(`the runtime page answered ${result.kind} to ${pageCommand.kind} (a bug)`);
      if (!run.claimFinalWrite()) return 1;
      const report = { ...own.report, adapter: chromeAdapter(own.report.adapter, s) };
      return finishStress(command, report, own.dump, model.summary(report));
    },
    partial,
  );
}

/** `bench` in Chrome: the suite in the page (TF.js's WebGPU backend loaded there for the baseline), cells streamed as they finish. */
export async function chromeBench(command: BenchCommand, flags: RuntimeFlags, finish: (report: BenchReport, command: BenchCommand) => number): Promise<number> {
  const { tuning, loadTfjs, ...rest } = command.plan;
  const plan: PageBenchPlan = { ...rest, tuning: tuning ? { retune: tuning.retune } : null, tfjs: loadTfjs !== null };
  return withChrome(
    flags,
    command.adapter,
    async (s) => {
      const result = await s.page.run({ kind: 'bench', plan }, (e) => {
        if (e.type === 'bench') process.stderr.write(progressLine(e.event) + '\n');
      });
      if (!result.ok) throw engineError(result.error);
      if (result.kind !== 'bench') throw new Error(`the runtime page answered ${result.kind} to bench (a bug)`);
      return finish({ ...result.report, adapter: chromeAdapter(result.report.adapter, s) }, command);
    },
    () => 1,
  );
}

/** `tune` in Chrome: Chrome's adapter has its own key, so its table sits beside Dawn's in the same cache folder. */
export async function chromeTune(command: TuneCommand, flags: RuntimeFlags, finish: (command: TuneCommand, table: TuningTable, tuned: readonly TunedEntry[]) => number): Promise<number> {
  return withChrome(
    flags,
    command.adapter,
    async (s) => {
      const tuning = tuningEvents(command);
      const result = await s.page.run({ kind: 'tune', tune: { uses: command.uses, retune: command.retune } }, (e) => {
        tuning.onEvent(e);
        if (e.type === 'tuned') tuning.done(e.result);
      });
      if (!result.ok) throw engineError(result.error);
      if (result.kind !== 'tune') throw new Error(`the runtime page answered ${result.kind} to tune (a bug)`);
      return finish(command, result.tuning.table, result.tuning.tuned);
    },
    () => 1,
  );
}
