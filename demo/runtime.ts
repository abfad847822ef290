/**
 * The runtime page: the engine in Chrome with no UI, for `gradstorm …
 * --runtime chrome` and gradstorm/puppeteer (src/runtime/page-driver.ts).
 * It imports the engine from engine.ts like the demo (one bundle, shared
 * chunks), runs the command it is given as the CLI does in Node, and streams
 * each step, case or bench cell to Node through functions Node exposed. The
 * tuning table is Node's file store, reached through those functions too: a
 * page's localStorage is per origin, and the runtime's port is new each time.
 */
import {
  LstmTrainer,
  MlpTrainer,
  RnnTrainer,
  acquireGpu,
  conformanceCases,
  ensureTuned,
  runBenchSuite,
  runConformance,
  runLstmStress,
  runRnnStress,
  runStress,
  tuningKey,
  type AdapterSummary,
  type BenchPlan,
  type EnsureTunedResult,
  type GpuContext,
  type LstmStepStats,
  type RnnStepStats,
  type StepStats,
  type TuningStore,
  type TuningTable,
} from './engine.ts';
import { loadTfjsInPage } from './tfjs.ts';
import { HOST_FUNCTIONS, encodeJson, type PageCommand, type PageEvent, type PageResult, type PageTuning, type RuntimePageApi } from '../src/runtime/protocol.ts';

type Host = {
  [HOST_FUNCTIONS.emit]?: (event: string) => Promise<void>;
  [HOST_FUNCTIONS.tuningLoad]?: (key: string) => Promise<{ table: unknown; where: string }>;
  [HOST_FUNCTIONS.tuningSave]?: (table: TuningTable) => Promise<boolean>;
};
const host = window as unknown as Host;

function emit(event: PageEvent): void {
  // Fire and forget: puppeteer delivers the calls in order, and the run must not wait on Node.
  void host[HOST_FUNCTIONS.emit]?.(encodeJson(event));
}

let context: Promise<GpuContext> | null = null;
let controller: AbortController | null = null;

function errorOf(error: unknown): { name: string; message: string } {
  return error instanceof Error ? { name: error.name, message: error.message } : { name: 'Error', message: String(error) };
}

/**
 * A TuningStore over Node's file store. Its interface is synchronous, so the
 * table for this adapter's key is fetched before the run and saves are
 * awaited before the result goes back (with Node's answer as `saved`).
 */
async function hostTuningStore(ctx: GpuContext): Promise<{ store: TuningStore | null; flush(): Promise<boolean | null> }> {
  const load = host[HOST_FUNCTIONS.tuningLoad];
  const save = host[HOST_FUNCTIONS.tuningSave];
  if (!load || !save) return { store: null, flush: async () => null };
  const key = tuningKey(ctx.summary);
  const stored = await load(key);
  let pending: Promise<boolean> | null = null;
  const store: TuningStore = {
    load: (k) => (k === key ? stored.table : null),
    save(table) {
      pending = save(JSON.parse(JSON.stringify(table)) as TuningTable);
      return true;
    },
    where: () => stored.where,
  };
  return {
    store,
    flush: async () => (pending ? await pending : null),
  };
}

async function tune(ctx: GpuContext, tuning: PageTuning, signal: AbortSignal): Promise<EnsureTunedResult> {
  const { store, flush } = await hostTuningStore(ctx);
  const result = await ensureTuned(ctx, tuning.uses, {
    store,
    retune: tuning.retune,
    signal,
    onClass: (shapeClass, index, total) => emit({ type: 'tune-class', shapeClass, index, total }),
  });
  const saved = await flush();
  if (saved !== null) result.saved = saved;
  emit({ type: 'tuned', result: JSON.parse(JSON.stringify(result)) as EnsureTunedResult });
  return result;
}

async function run(ctx: GpuContext, command: PageCommand, signal: AbortSignal): Promise<PageResult> {
  switch (command.kind) {
    case 'stress': {
      MlpTrainer.checkFits(ctx, command.config); // before tuning, as in Node
      const tuning = command.tune ? await tune(ctx, command.tune, signal) : null;
      // `signal` is part of the engine's run options where interruption is supported; a variable, not a literal, so either shape type-checks.
      const options = { matmulVariant: command.matmulVariant, dump: command.dump, signal, onStep: (done: number, total: number, stats: StepStats) => emit({ type: 'step', done, total, stats }) };
      const { report, dump } = await runStress(ctx, command.config, options);
      return { ok: true, kind: 'stress', report, dump, tuning };
    }
    case 'rnn-stress': {
      RnnTrainer.checkFits(ctx, command.config);
      const tuning = command.tune ? await tune(ctx, command.tune, signal) : null;
      const options = { variant: command.variant, matmulVariant: command.matmulVariant, dump: command.dump, signal, onStep: (done: number, total: number, stats: RnnStepStats) => emit({ type: 'step', done, total, stats }) };
      const { report, dump } = await runRnnStress(ctx, command.config, options);
      return { ok: true, kind: 'rnn-stress', report, dump, tuning };
    }
    case 'lstm-stress': {
      LstmTrainer.checkFits(ctx, command.config);
      const tuning = command.tune ? await tune(ctx, command.tune, signal) : null;
      const options = { matmulVariant: command.matmulVariant, dump: command.dump, signal, onStep: (done: number, total: number, stats: LstmStepStats) => emit({ type: 'step', done, total, stats }) };
      const { report, dump } = await runLstmStress(ctx, command.config, options);
      return { ok: true, kind: 'lstm-stress', report, dump, tuning };
    }
    case 'check': {
      const cases = conformanceCases(command.families, ctx);
      const results = await runConformance(ctx, cases, (result, index) => {
        emit({ type: 'case', result, index, total: cases.length });
        if (signal.aborted) throw signal.reason;
      });
      return { ok: true, kind: 'check', results };
    }
    case 'bench': {
      const { tuning, tfjs, ...rest } = command.plan;
      const hosted = tuning ? await hostTuningStore(ctx) : null;
      const plan: BenchPlan = { ...rest, tuning: tuning ? { store: hosted?.store ?? null, retune: tuning.retune } : null, loadTfjs: tfjs ? loadTfjsInPage : null };
      const report = await runBenchSuite(ctx, plan, (event) => emit({ type: 'bench', event }), { signal });
      await hosted?.flush();
      return { ok: true, kind: 'bench', report };
    }
    case 'tune':
      return { ok: true, kind: 'tune', tuning: await tune(ctx, command.tune, signal) };
  }
}

const api: RuntimePageApi = {
  async open() {
    try {
      context ??= acquireGpu();
      const ctx = await context;
      const adapter: AdapterSummary = { ...ctx.summary };
      return { ok: true, adapter, userAgent: navigator.userAgent };
    } catch (error) {
      context = null;
      return { ok: false, error: errorOf(error) };
    }
  },
  run(command) {
    const current = new AbortController();
    controller = current;
    void (async (): Promise<PageResult> => {
      if (!context) throw new Error('the runtime page has no GPU device yet: call open() first');
      return run(await context, command, current.signal);
    })()
      .catch((error: unknown): PageResult => ({ ok: false, error: errorOf(error) }))
      .then((result) => {
        if (controller === current) controller = null;
        emit({ type: 'done', result });
      });
  },
  abort(reason) {
    controller?.abort(reason);
  },
};

(window as unknown as { gradstormRuntime: RuntimePageApi }).gradstormRuntime = api;
document.getElementById('status')!.textContent = 'gradstorm runtime page: ready';
