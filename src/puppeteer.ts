/**
 * gradstorm/puppeteer: the engine's stress runs, conformance suite and
 * benchmarks inside a Chrome page YOU launched (your flags, your GPU, your
 * CI), returning the same report objects the CLI writes.
 *
 *   const browser = await puppeteer.launch({ args: ['--enable-unsafe-webgpu'] });
 *   const { report } = await runInPage(await browser.newPage(), { kind: 'stress', config: { depth: 20, width: 64 } });
 *
 * The page is navigated to gradstorm's runtime page, served from the package
 * on 127.0.0.1 (a free port) for the length of the call; the report's adapter
 * says `runtime: 'chrome'` and the browser version. See the README.
 */
import type { Page } from 'puppeteer';
import type { ConformanceFamily, ConformanceResult } from './conformance/index.ts';
import type { AdapterSummary } from './gpu/context.ts';
import type { MatmulVariant } from './kernels/matmul.ts';
import { MLP_DEFAULTS, validateMlpConfig, type MlpConfig } from './models/config.ts';
import { mlpMatmulUses, planMlp, type MatmulUse } from './models/mlp.ts';
import { RNN_DEFAULTS, planRnn, rnnMatmulUses, validateRnnConfig, type RnnConfig, type RnnDump } from './models/rnn.ts';
import type { MlpDump } from './models/dump.ts';
import type { RunReport } from './report/run-report.ts';
import type { RnnRunReport } from './scheduler/rnn-run.ts';
import type { StepStats } from './scheduler/mlp-trainer.ts';
import type { RnnStepStats } from './scheduler/rnn-trainer.ts';
import { LSTM_DEFAULTS, lstmMatmulUses, planLstm, validateLstmConfig, type LstmConfig, type LstmDump } from './models/lstm.ts';
import type { LstmRunReport, LstmStepStats } from './scheduler/lstm-run.ts';
import type { TuningStore } from './tune/tuner.ts';
import { defaultBenchPlan, type BenchPlan } from '../bench/plan.ts';
import type { BenchEvent } from '../bench/suite.ts';
import type { BenchReport } from '../bench/report.ts';
import { ENGINE_VERSION } from './version.ts';
import { RunInterruptedError, abortReason } from './scheduler/interruption.ts';
import { engineError, openRuntimePage, RuntimeCrashError } from './runtime/page-driver.ts';
import type { PageCommand, PageEvent, PageResult } from './runtime/protocol.ts';

export { RuntimeCrashError };
export { launchChrome, findBrowser, CHROME_FLAGS, SWIFTSHADER_FLAG, type ChromeLaunchOptions, type LaunchedChrome } from './runtime/browser.ts';

interface Common {
  /** The built demo folder to serve (default: the package's). */
  pageDir?: string;
  /** Stops the run at the next step or cell. */
  signal?: AbortSignal;
}

/** A stress run in the page: an MLP, RNN or LSTM config (missing fields take `gradstorm stress`'s defaults). */
export type StressInPage = Common & {
  kind: 'stress';
  /** An MLP (defaults: gradstorm stress's) or, with model 'rnn' or 'lstm', an RNN or an LSTM; missing fields take the defaults. */
  config: (Partial<MlpConfig> & { model?: 'mlp' }) | (Partial<RnnConfig> & { model: 'rnn' }) | (Partial<LstmConfig> & { model: 'lstm' });
  dump?: boolean;
  /** One matmul variant everywhere; by default the tuned choice when `tuningStore` is given, else the family default. */
  matmulVariant?: MatmulVariant;
  /** Autotune the model's matmuls first, keeping the table here (e.g. the CLI's fileTuningStore()). */
  tuningStore?: TuningStore;
  onStep?: (done: number, total: number, stats: StepStats | RnnStepStats | LstmStepStats) => void;
};
/** The kernel conformance suite in the page (all families, or those named), each case reported as it finishes. */
export type CheckInPage = Common & { kind: 'check'; families?: ConformanceFamily[]; onCase?: (result: ConformanceResult, index: number, total: number) => void };
/** A benchmark in the page: `gradstorm bench`'s plan, with any fields overridden. */
export type BenchInPage = Common & {
  kind: 'bench';
  /** Overrides of the default plan (gradstorm bench's); no tuning unless `tuningStore` is given, no TF.js unless `tfjs`. */
  plan?: Partial<Omit<BenchPlan, 'tuning' | 'loadTfjs'>>;
  tuningStore?: TuningStore;
  tfjs?: boolean;
  onEvent?: (event: BenchEvent) => void;
};
/** What {@link runInPage} runs: a stress run, the conformance suite or a bench. */
export type RunInPageOptions = StressInPage | CheckInPage | BenchInPage;

type Browserish = { runtime: 'chrome'; browser: string };
/** The run report (and dump, when asked) of a stress run in the page; the adapter names the runtime and the browser. */
export type StressInPageResult =
  | { kind: 'stress'; report: RunReport & { adapter: Browserish }; dump: MlpDump | null }
  | { kind: 'rnn-stress'; report: RnnRunReport & { adapter: Browserish }; dump: RnnDump | null }
  | { kind: 'lstm-stress'; report: LstmRunReport & { adapter: Browserish }; dump: LstmDump | null };
/** The conformance results in the page, with the page's adapter and the counts. */
export interface CheckInPageResult {
  kind: 'check';
  adapter: AdapterSummary & Browserish;
  results: ConformanceResult[];
  passed: number;
  failed: number;
}
/** The benchmark report (gradstorm.bench/1) of a bench run in the page. */
export type BenchInPageResult = { kind: 'bench'; report: BenchReport };

/** Runs a stress config, the conformance suite or a bench on the WebGPU adapter of a puppeteer `Page` you launched
 * (with your flags), through gradstorm's runtime page served on 127.0.0.1, and returns the same report objects as
 * the CLI and the library. A bad config throws before the page is touched; an engine error in the page is thrown
 * as the class Node would throw; `signal` stops a stress run after the step in flight (partial report), and one
 * already aborted throws RunInterruptedError with its reason (`abortReason`) before the page is touched. */
export function runInPage(page: Page, options: StressInPage): Promise<StressInPageResult>;
export function runInPage(page: Page, options: CheckInPage): Promise<CheckInPageResult>;
export function runInPage(page: Page, options: BenchInPage): Promise<BenchInPageResult>;
export async function runInPage(page: Page, options: RunInPageOptions): Promise<StressInPageResult | CheckInPageResult | BenchInPageResult> {
  const command = toCommand(options); // a bad config throws before the page is touched
  const { signal } = options;
  // As the library: a signal aborted before the run throws, with the signal's reason.
  if (signal?.aborted) throw new RunInterruptedError(abortReason(signal));
  const runtime = await openRuntimePage(page, { pageDir: options.pageDir, tuningStore: 'tuningStore' in options ? (options.tuningStore ?? null) : null });
  const onAbort = () => void runtime.abort(abortReason(signal));
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (signal?.aborted) throw new RunInterruptedError(abortReason(signal)); // aborted while the page opened
    const browser = { runtime: 'chrome' as const, browser: await page.browser().version() };
    const onEvent = (e: PageEvent) => {
      if (e.type === 'step' && options.kind === 'stress') options.onStep?.(e.done, e.total, e.stats);
      if (e.type === 'case' && options.kind === 'check') options.onCase?.(e.result, e.index, e.total);
      if (e.type === 'bench' && options.kind === 'bench') options.onEvent?.(e.event);
    };
    const result: PageResult = await runtime.run(command, onEvent);
    if (!result.ok) throw engineError(result.error);
    switch (result.kind) {
      case 'stress':
        return { kind: 'stress', report: { ...result.report, adapter: { ...result.report.adapter, ...browser } }, dump: result.dump };
      case 'rnn-stress':
        return { kind: 'rnn-stress', report: { ...result.report, adapter: { ...result.report.adapter, ...browser } }, dump: result.dump };
      case 'lstm-stress':
        return { kind: 'lstm-stress', report: { ...result.report, adapter: { ...result.report.adapter, ...browser } }, dump: result.dump };
      case 'check': {
        const failed = result.results.filter((r) => !r.ok).length;
        return { kind: 'check', adapter: { ...runtime.adapter, ...browser }, results: result.results, passed: result.results.length - failed, failed };
      }
      case 'bench':
        return { kind: 'bench', report: { ...result.report, adapter: { ...result.report.adapter, ...browser } } };
      default:
        throw new Error(`runInPage: unexpected ${result.kind} result (a bug)`);
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await runtime.close();
  }
}

function toCommand(options: RunInPageOptions): PageCommand {
  switch (options.kind) {
    case 'stress': {
      const tune = (uses: MatmulUse[]) =>
        options.tuningStore && options.matmulVariant === undefined ? { uses, retune: false } : null;
      if (options.config.model === 'lstm') {
        const width = options.config.width ?? 64;
        const adding = options.config.task === 'adding';
        const config = validateLstmConfig({ ...LSTM_DEFAULTS, seqLen: 50, input: adding ? 2 : width, output: adding ? 1 : width, loss: adding ? 'mse' : 'probe', ...options.config, width } as LstmConfig);
        return { kind: 'lstm-stress', config, matmulVariant: options.matmulVariant, dump: options.dump, tune: tune(Object.values(lstmMatmulUses(planLstm(config), config))) };
      }
      if (options.config.model === 'rnn') {
        const width = options.config.width ?? 64;
        const config = validateRnnConfig({ ...RNN_DEFAULTS, seqLen: 50, input: width, output: width, ...options.config, width } as RnnConfig);
        return { kind: 'rnn-stress', config, matmulVariant: options.matmulVariant, dump: options.dump, tune: tune(Object.values(rnnMatmulUses(planRnn(config), config))) };
      }
      const width = options.config.width ?? 256;
      const config = validateMlpConfig({ ...MLP_DEFAULTS, depth: 50, input: width, output: width, ...options.config, width, model: 'mlp' } as MlpConfig);
      return { kind: 'stress', config, matmulVariant: options.matmulVariant, dump: options.dump, tune: tune(Object.values(mlpMatmulUses(planMlp(config), config.batch))) };
    }
    case 'check':
      return { kind: 'check', families: options.families };
    case 'bench': {
      const { tuning: _tuning, loadTfjs: _loadTfjs, ...defaults } = defaultBenchPlan(ENGINE_VERSION);
      return { kind: 'bench', plan: { ...defaults, ...options.plan, tuning: options.tuningStore ? { retune: false } : null, tfjs: options.tfjs ?? false } };
    }
  }
}
