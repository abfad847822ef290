/**
 * What the Node side (the CLI's `--runtime chrome`, src/puppeteer.ts) and the
 * runtime page (demo/runtime.ts) say to each other. Everything here crosses
 * puppeteer as JSON: configs and plans go in, events stream out step by step
 * (so Node holds every measured step even if the page dies), one result comes
 * back. Browser-safe: types only.
 */
import type { AdapterSummary } from '../gpu/context.ts';
import type { MatmulVariant } from '../kernels/matmul.ts';
import type { RnnVariant } from '../kernels/rnn.ts';
import type { MlpConfig } from '../models/config.ts';
import type { MatmulUse } from '../models/mlp.ts';
import type { RnnConfig, RnnDump } from '../models/rnn.ts';
import type { MlpDump } from '../models/dump.ts';
import type { ConformanceFamily, ConformanceResult } from '../conformance/index.ts';
import type { RunReport } from '../report/run-report.ts';
import type { RnnRunReport } from '../scheduler/rnn-run.ts';
import type { StepStats } from '../scheduler/mlp-trainer.ts';
import type { RnnStepStats } from '../scheduler/rnn-trainer.ts';
import type { LstmConfig, LstmDump } from '../models/lstm.ts';
import type { LstmRunReport, LstmStepStats } from '../scheduler/lstm-run.ts';
import type { EnsureTunedResult } from '../tune/tuner.ts';
import type { BenchPlan } from '../../bench/plan.ts';
import type { BenchEvent } from '../../bench/suite.ts';
import type { BenchReport } from '../../bench/report.ts';

/** Matmul uses to autotune before a run (the tables live in Node's file store). */
export interface PageTuning {
  uses: MatmulUse[];
  retune: boolean;
}

/** A bench plan without its functions: the page supplies the tuning store and TF.js loader. */
export type PageBenchPlan = Omit<BenchPlan, 'tuning' | 'loadTfjs'> & { tuning: { retune: boolean } | null; tfjs: boolean };

export type PageCommand =
  | { kind: 'stress'; config: MlpConfig; matmulVariant?: MatmulVariant; dump?: boolean; tune?: PageTuning | null }
  | { kind: 'rnn-stress'; config: RnnConfig; variant?: RnnVariant; matmulVariant?: MatmulVariant; dump?: boolean; tune?: PageTuning | null }
  | { kind: 'lstm-stress'; config: LstmConfig; matmulVariant?: MatmulVariant; dump?: boolean; tune?: PageTuning | null }
  | { kind: 'check'; families?: ConformanceFamily[] }
  | { kind: 'bench'; plan: PageBenchPlan }
  | { kind: 'tune'; tune: PageTuning };

export type PageEvent =
  | { type: 'tune-class'; shapeClass: string; index: number; total: number }
  /** The autotuner finished (before the run it tuned for starts). */
  | { type: 'tuned'; result: EnsureTunedResult }
  | { type: 'step'; done: number; total: number; stats: StepStats | RnnStepStats | LstmStepStats }
  | { type: 'case'; result: ConformanceResult; index: number; total: number }
  | { type: 'bench'; event: BenchEvent }
  /** The run's answer, the last event of a run: a long run is no long protocol call (puppeteer's protocolTimeout). */
  | { type: 'done'; result: PageResult };

/** The page's answer. An engine error comes back by name and message, and Node rethrows it as that class. */
export type PageResult =
  | { ok: true; kind: 'stress'; report: RunReport; dump: MlpDump | null; tuning: EnsureTunedResult | null }
  | { ok: true; kind: 'rnn-stress'; report: RnnRunReport; dump: RnnDump | null; tuning: EnsureTunedResult | null }
  | { ok: true; kind: 'lstm-stress'; report: LstmRunReport; dump: LstmDump | null; tuning: EnsureTunedResult | null }
  | { ok: true; kind: 'check'; results: ConformanceResult[] }
  | { ok: true; kind: 'bench'; report: BenchReport }
  | { ok: true; kind: 'tune'; tuning: EnsureTunedResult }
  | { ok: false; error: { name: string; message: string }; tuning?: EnsureTunedResult | null };

/** What the page puts on `window`. */
export interface RuntimePageApi {
  /** Acquires the page's GPU device (once) and describes its adapter. */
  open(): Promise<{ ok: true; adapter: AdapterSummary; userAgent: string } | { ok: false; error: { name: string; message: string } }>;
  /** Starts the command and returns at once; its result comes as the 'done' event. */
  run(command: PageCommand): void;
  /** Stops the run at the next step or cell (a stress run returns its partial report where the engine supports it). */
  abort(reason: string): void;
}

/** Names of the functions Node exposes to the page (puppeteer's exposeFunction). */
export const HOST_FUNCTIONS = {
  /** Takes a PageEvent as encodeJson text. */
  emit: '__gradstormEmit',
  tuningLoad: '__gradstormTuningLoad',
  tuningSave: '__gradstormTuningSave',
} as const;

/** The runtime page's file in the built demo folder. */
export const RUNTIME_PAGE = 'runtime.html';

/**
 * JSON that keeps NaN and ±Infinity (a diverged run's loss and norms): the
 * page sends text written with this, Node reads it with decodeJson, so the
 * Chrome runtime prints what the Node runtime prints ("NaN", not "null").
 * The report files are JSON.stringify'd either way, as in Node.
 */
const NONFINITE = '\u0000nonfinite:';
export function encodeJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? `${NONFINITE}${v}` : v));
}
export function decodeJson<T>(text: string): T {
  return JSON.parse(text, (_key, v: unknown) => (typeof v === 'string' && v.startsWith(NONFINITE) ? Number(v.slice(NONFINITE.length)) : v)) as T;
}
