/**
 * The autotuner: for each matmul shape class a model uses, compile every
 * tiling of the search space (MATMUL_TILINGS) that fits the class, check each
 * against the float64 reference, time the ones that pass (median of `runs`,
 * GPU timestamps where the adapter has them), and keep the fastest. Choices
 * live in a TuningTable per adapter and engine version; a TuningStore (a file
 * in Node, localStorage in the browser) keeps them between runs, and
 * ctx.tunedVariants makes prepareMatmul use them. Browser-safe.
 */
import { releaseDispatches, type AdapterSummary, type Dispatch, type GpuContext } from '../gpu/context.ts';
import { timeDispatches, type Timing } from '../gpu/timer.ts';
import {
  MATMUL_LAYOUTS,
  MATMUL_TILINGS,
  defaultMatmulTiling,
  matmulReference,
  matmulShaderOptions,
  matmulSpec,
  matmulShapeClass,
  matmulTilingFits,
  matmulTilingAvailable,
  matmulTilingName,
  parseMatmulVariant,
  prepareMatmul,
  type MatmulDims,
  type MatmulLayout,
} from '../kernels/matmul.ts';
import { matmulTolerance } from '../conformance/matmul.ts';
import { compareClose, describeReport } from '../conformance/compare.ts';
import { uniformData } from '../conformance/data.ts';
import type { MatmulUse } from '../models/mlp.ts';
import { ENGINE_VERSION } from '../version.ts';

/** The schema name of autotuning tables. */
export const TUNING_SCHEMA = 'gradstorm.tuning/1';

/** One tiling tried for a shape class: its time at the proxy shape and its error against float64. */
export interface TunedCandidate {
  variant: string;
  /** Median ms at the proxy shape; null when the candidate failed. */
  ms: number | null;
  maxError: number | null;
  /** Timed samples behind `ms`: fewer than the class's runs when the first two were both over twice the best so far (then it cannot win). */
  runs?: number;
  /** How `ms` was measured (every sample by GPU timestamps, or not). */
  timing?: 'gpu-timestamps' | 'wall-clock';
  /** Why the candidate was rejected (wrong result, compile or limit error). */
  error?: string;
}

/** The autotuner's choice for one shape class, with every candidate it measured. */
export interface TunedEntry {
  kernel: 'matmul';
  layout: MatmulLayout;
  shapeClass: string;
  /** The sizes measured: the class's largest requested shape, large dimensions capped (see proxyDims). */
  proxy: MatmulDims;
  /** The winner. */
  variant: string;
  ms: number;
  candidates: TunedCandidate[];
  timing: 'gpu-timestamps' | 'wall-clock';
  /**
   * The close call settled at the real shape: when the proxy's runner-up
   * (or the adapter's default tiling) was within the noise of its winner,
   * those were timed again, interleaved, at `dims`, and `variant` is the
   * fastest there. Absent when the proxy's winner stood clear.
   */
  retimed?: RetimeResult;
  /**
   * A later run's re-check of this stored choice against the untuned
   * default at the real shape (ensureTuned's `recheck`): `variant` is the
   * faster of the two there. Absent when not re-checked.
   */
  rechecked?: RetimeResult & { at: string };
}

/** The re-timing of a close call at the real shape (see {@link planRetime}). */
export interface RetimeResult {
  /** The shape re-timed at (the class's largest requested shape, not capped). */
  dims: MatmulDims;
  /** Why these candidates were re-timed. */
  reason: string;
  /** Each re-timed candidate at `dims`, fastest first: its fastest sample (ms, what ranks them) and its median. */
  candidates: { variant: string; ms: number; medianMs: number; runs: number }[];
}

/** An adapter's autotuning table (`gradstorm.tuning/1`), keyed by adapter, engine version and kernel code. */
export interface TuningTable {
  schema: typeof TUNING_SCHEMA;
  key: string;
  engineVersion: string;
  adapter: AdapterSummary;
  updated: string;
  entries: Record<string, TunedEntry>;
}

/** Where tables are kept between runs: a file per adapter in Node, localStorage in the browser. */
export interface TuningStore {
  load(key: string): unknown;
  /** Keeps the table; false when it could not (the choices then hold for this process only). */
  save(table: TuningTable): boolean;
  /** Where the table for `key` lives, for messages. */
  where(key: string): string;
}

/** A short stable hash (FNV-1a) for keys and file names. */
export function shortHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

let spaceHash: string | null = null;

/**
 * The search space's fingerprint: every tiling's WGSL in every layout, so a
 * change to a kernel's code (not only to the list of tilings) retunes.
 */
function searchSpaceHash(): string {
  spaceHash ??= shortHash(
    MATMUL_TILINGS.flatMap((tiling) => MATMUL_LAYOUTS.map((layout) => `${matmulTilingName(tiling)}\n${matmulSpec(matmulShaderOptions({ layout }, tiling)).body}`)).join('\n'),
  );
  return spaceHash;
}

/**
 * The table's identity: adapter vendor, architecture, device and description,
 * the backend, the engine version, and the search space itself (a table
 * measured over other kernels, or other code for them, is stale).
 */
export function tuningKey(adapter: AdapterSummary): string {
  const space = searchSpaceHash();
  const who = [adapter.vendor, adapter.architecture, adapter.device, adapter.description, adapter.backend].map((s) => s || '-').join('|');
  return `${who}|engine ${ENGINE_VERSION}|space ${space}`;
}

export function emptyTable(ctx: GpuContext): TuningTable {
  return { schema: TUNING_SCHEMA, key: tuningKey(ctx.summary), engineVersion: ENGINE_VERSION, adapter: { ...ctx.summary }, updated: new Date().toISOString(), entries: {} };
}

/**
 * A stored table, checked: right schema, this adapter's key, and winners that
 * still exist. Returns the reason when it cannot be used (the caller retunes).
 */
export function parseTuningTable(json: unknown, key: string): TuningTable | { problem: string } {
  if (typeof json !== 'object' || json === null) return { problem: 'not a JSON object' };
  const t = json as Partial<TuningTable>;
  if (t.schema !== TUNING_SCHEMA) return { problem: `schema is ${JSON.stringify(t.schema)}, expected ${TUNING_SCHEMA}` };
  if (t.key !== key) return { problem: 'measured on another adapter or engine version' };
  if (typeof t.entries !== 'object' || t.entries === null) return { problem: 'no entries' };
  const names = new Set(MATMUL_TILINGS.map(matmulTilingName));
  for (const [shapeClass, entry] of Object.entries(t.entries)) {
    if (typeof entry !== 'object' || entry === null || entry.shapeClass !== shapeClass || !names.has(entry.variant) || !(entry.ms > 0)) {
      return { problem: `entry ${shapeClass} is malformed` };
    }
  }
  return t as TuningTable;
}

/** Makes prepareMatmul use the table's choices on this context. */
export function applyTuning(ctx: GpuContext, table: TuningTable): void {
  for (const entry of Object.values(table.entries)) ctx.tunedVariants.set(entry.shapeClass, entry.variant);
}

/**
 * The sizes a class is measured at: the requested ones with large
 * dimensions capped (256 on software adapters, where a 4096³ matmul takes
 * minutes; 1024 on GPUs, where small sizes measure launch overhead). The cap
 * keeps the class: large stays > 64, and multiples of 4 stay multiples of 4.
 */
export function proxyDims(dims: MatmulDims, software: boolean): MatmulDims {
  const cap = software ? 256 : 1024;
  const clamp = (v: number) => (v <= cap ? v : cap + (v % 4 === 0 ? 0 : 1));
  return { m: clamp(dims.m), n: clamp(dims.n), k: clamp(dims.k) };
}

/**
 * Two proxy medians closer than this (relative) are a tie: the machine's
 * noise between runs (a shared 2-core runner sees ±10–15 %) is as large.
 */
export const RETIME_NOISE = 0.15;
/**
 * The adapter's default tiling is re-timed against the winner when its proxy
 * median is within this of the winner's (1: within 2×). Wide, because a
 * burst of load during one candidate's three samples moves its median that
 * far: measured on a shared 2-core machine, the SwiftShader default
 * `subgroup-32x8-wg4x1-v4` at 1.63× a scalar winner at the proxy
 * (64×256×256 nn), which it beats at that shape when timed interleaved.
 * The re-timing costs up to RETIME_MAX_MS per class (a few samples of two
 * tilings at the real shape; under a second at the MLP step's shapes).
 */
export const RETIME_DEFAULT_BAND = 1;
/** A re-timing predicted (from the proxy's throughput) to take longer than this in all is not run; the proxy's winner stands. */
export const RETIME_MAX_MS = 20_000;

/** What to re-time at the real shape, or null when the proxy's winner stands clear. */
export interface RetimePlan {
  variants: string[];
  reason: string;
}

/**
 * The decision to re-time, from the proxy's medians alone: when the runner-up
 * is within `noise` of the winner, the top two are re-timed at the real
 * shape, and with them the adapter's default tiling when it passed and is
 * within `defaultBand` — so the tuned choice is never one the default beats
 * at the size it is used at.
 */
export function planRetime(
  candidates: readonly Pick<TunedCandidate, 'variant' | 'ms'>[],
  defaultVariant: string | null,
  options: { noise?: number; defaultBand?: number } = {},
): RetimePlan | null {
  const noise = options.noise ?? RETIME_NOISE;
  const band = options.defaultBand ?? RETIME_DEFAULT_BAND;
  const ranked = candidates.filter((c): c is { variant: string; ms: number } => c.ms !== null && c.ms > 0).sort((x, y) => x.ms - y.ms);
  if (ranked.length < 2) return null;
  const [winner, runnerUp] = ranked;
  const gap = (c: { ms: number }) => c.ms / winner.ms - 1;
  const variants: string[] = [];
  const reasons: string[] = [];
  if (gap(runnerUp) <= noise) {
    variants.push(winner.variant, runnerUp.variant);
    reasons.push(`runner-up ${runnerUp.variant} within ${(100 * gap(runnerUp)).toFixed(0)} % of ${winner.variant} at the proxy (noise ${(100 * noise).toFixed(0)} %)`);
  }
  const fallback = defaultVariant === null ? undefined : ranked.find((c) => c.variant === defaultVariant);
  if (fallback && fallback !== winner && gap(fallback) <= band && !variants.includes(fallback.variant)) {
    if (variants.length === 0) variants.push(winner.variant);
    variants.push(fallback.variant);
    reasons.push(`the default ${fallback.variant} within ${(100 * gap(fallback)).toFixed(0)} % of the winner`);
  }
  return variants.length >= 2 ? { variants, reason: reasons.join('; ') } : null;
}

/**
 * Times `variants` in interleaved rounds (so a burst of load on a shared
 * machine hits all of them alike) and ranks them by their fastest sample:
 * contention only ever adds time, so the fastest sample is the least
 * disturbed one (the median is kept beside it). `sample` times one variant
 * once (ms); injected by tests.
 */
export async function retimeCandidates(variants: readonly string[], sample: (variant: string) => Promise<number>, runs: number): Promise<RetimeResult['candidates']> {
  const times = new Map<string, number[]>(variants.map((v) => [v, []]));
  for (let r = 0; r < runs; r++) for (const v of variants) times.get(v)!.push(await sample(v));
  return variants.map((variant) => ({ variant, ms: Math.min(...times.get(variant)!), medianMs: median(times.get(variant)!), runs })).sort((x, y) => x.ms - y.ms);
}

/** `; re-timed at 512×512×512: A 20.1 ms, B 22.3 ms` for an entry whose close call was re-timed, else ''. */
export function describeRetime(entry: Pick<TunedEntry, 'retimed'>): string {
  const r = entry.retimed;
  if (!r) return '';
  return `; re-timed at ${r.dims.m}×${r.dims.n}×${r.dims.k}: ${r.candidates.map((c) => `${c.variant} ${c.ms.toPrecision(3)} ms`).join(', ')}`;
}

/** The tiling an untuned run uses at these sizes (defaultMatmulTiling), by name, where it can read them; else null. */
function defaultTilingName(ctx: GpuContext, layout: MatmulLayout, dims: MatmulDims): string | null {
  const tiling = defaultMatmulTiling(ctx.summary, layout, dims, ctx);
  return matmulTilingFits(tiling, layout, dims) ? matmulTilingName(tiling) : null;
}

/**
 * What to re-check of a stored choice: the stored winner against the tiling
 * an untuned run would use at the real shape, or null when they are the
 * same (or the default cannot read these sizes). A table measured on a busy
 * machine can hold a winner that the default beats; the re-check settles it
 * in this run, at the size the choice is used at.
 */
export function planRecheck(storedVariant: string, defaultVariant: string | null): RetimePlan | null {
  if (defaultVariant === null || defaultVariant === storedVariant) return null;
  return { variants: [storedVariant, defaultVariant], reason: `stored winner ${storedVariant} re-checked against the default ${defaultVariant}` };
}

/**
 * The choice after a re-check: the fastest re-timed candidate (by its
 * fastest sample, as retimeCandidates ranks them), so the tuned choice is
 * never one the default beat in this run; the stored winner when the
 * re-check did not run.
 */
export function settleRecheck(storedVariant: string, result: Pick<RetimeResult, 'candidates'> | null): string {
  return result?.candidates[0]?.variant ?? storedVariant;
}

/** A candidate whose first timed run is this many times the best median so far is not timed again. */
const ABANDON_FACTOR = 2;

export interface TuneProgress {
  shapeClass: string;
  candidate: string;
  done: number;
  total: number;
}

/** Measures every tiling that fits one shape class; throws when none passes its check. */
export async function tuneMatmulClass(
  ctx: GpuContext,
  layout: MatmulLayout,
  dims: MatmulDims,
  options: { runs?: number; onCandidate?: (p: TuneProgress) => void; signal?: AbortSignal } = {},
): Promise<TunedEntry> {
  const runs = options.runs ?? 3;
  const shapeClass = matmulShapeClass(layout, dims);
  const proxy = proxyDims(dims, ctx.summary.software);
  const { m, n, k } = proxy;
  const a = uniformData(m * k, 17 + m);
  const b = uniformData(k * n, 29 + n);
  const ref = matmulReference(layout, proxy, a, b);
  const tolerance = matmulTolerance(k);
  const buffers = { a: ctx.upload('tune.a', a), b: ctx.upload('tune.b', b), c: ctx.createStorage('tune.c', m * n * 4) };
  const tilings = MATMUL_TILINGS.filter((t) => matmulTilingFits(t, layout, proxy) && matmulTilingAvailable(t, ctx));
  const candidates: TunedCandidate[] = [];
  // C is poisoned before each check: a candidate that leaves elements unwritten must fail, not inherit its predecessor's answer.
  const poison = new Float32Array(m * n).fill(Number.NaN);
  /** The best median so far. */
  let best: number | null = null;
  try {
    for (const [i, tiling] of tilings.entries()) {
      const variant = matmulTilingName(tiling);
      options.signal?.throwIfAborted();
      options.onCandidate?.({ shapeClass, candidate: variant, done: i, total: tilings.length });
      try {
        const kernel = await prepareMatmul(ctx, { layout, variant });
        const dispatch = kernel.bind(proxy, buffers);
        try {
          ctx.device.queue.writeBuffer(buffers.c, 0, poison);
          // The first run pays for compilation and first touch; its result is the check.
          await ctx.run([dispatch]);
          const check = compareClose(await ctx.readF32(buffers.c, m * n), ref.c, tolerance, ref.magnitude);
          if (!check.ok) {
            candidates.push({ variant, ms: null, maxError: check.maxAbsError, error: `wrong result: ${describeReport(check)}` });
            continue;
          }
          // Tiny shapes repeat inside one pass so that each sample lasts long enough to time (the estimate from one dispatch).
          const estimate = await timeDispatches(ctx, [dispatch]);
          const repeat = Math.min(64, Math.max(1, Math.ceil(0.5 / Math.max(estimate.ms, 1e-3))));
          const samples: Timing[] = [];
          for (let r = 0; r < runs; r++) {
            samples.push(await timeDispatches(ctx, [dispatch], repeat));
            // Hopeless (tiled kernels on SwiftShader take 5–10× longer): two samples past the limit say enough.
            const slow = best !== null && samples.length === Math.min(2, runs) && samples.every((t) => t.ms > ABANDON_FACTOR * best!);
            if (slow) break;
          }
          const ms = median(samples.map((t) => t.ms));
          const source = samples.every((t) => t.source === 'gpu-timestamps') ? 'gpu-timestamps' : 'wall-clock';
          if (samples.length === runs) best = best === null ? ms : Math.min(best, ms);
          candidates.push({ variant, ms, maxError: check.maxAbsError, runs: samples.length, timing: source });
        } finally {
          releaseDispatches([dispatch]);
        }
      } catch (error) {
        if (ctx.lostError) throw ctx.lostError;
        if (options.signal?.aborted) throw options.signal.reason;
        candidates.push({ variant, ms: null, maxError: null, error: (error as Error).message });
      }
    }
  } finally {
    for (const buffer of Object.values(buffers)) buffer.destroy();
  }
  const passed = candidates.filter((c): c is TunedCandidate & { ms: number } => c.ms !== null && c.runs === runs);
  if (passed.length === 0) {
    throw new Error(
      `autotuner: no matmul tiling passed its float64 check for ${shapeClass} at ${m}×${n}×${k}: ${candidates.map((c) => `${c.variant}: ${c.error}`).join('; ')}. ` +
        'Run gradstorm check --family matmul to see which kernels fail on this adapter; --variant NAME runs one tiling without autotuning.',
    );
  }
  const winner = passed.reduce((x, y) => (y.ms < x.ms ? y : x));
  const entry: TunedEntry = { kernel: 'matmul', layout, shapeClass, proxy, variant: winner.variant, ms: winner.ms, candidates, timing: winner.timing ?? 'wall-clock' };
  const plan = planRetime(passed, defaultTilingName(ctx, layout, dims));
  if (plan) {
    const retimed = await retimeAtShape(ctx, layout, dims, proxy, winner.ms, plan, runs, options.signal);
    if (retimed) {
      const chosen = passed.find((c) => c.variant === retimed.candidates[0].variant) ?? winner;
      Object.assign(entry, { retimed, variant: chosen.variant, ms: chosen.ms });
    }
  }
  return entry;
}

/**
 * Re-times a close call's candidates at the real shape (fresh operands, no
 * check: each passed its float64 check at the proxy). Returns null when the
 * prediction from the proxy's throughput is over RETIME_MAX_MS.
 */
async function retimeAtShape(
  ctx: GpuContext,
  layout: MatmulLayout,
  dims: MatmulDims,
  proxy: MatmulDims,
  proxyMs: number,
  plan: RetimePlan,
  runs: number,
  signal: AbortSignal | undefined,
): Promise<RetimeResult | null> {
  const work = (d: MatmulDims) => d.m * d.n * d.k;
  const onceMs = proxyMs * (work(dims) / work(proxy));
  // Tiny shapes repeat inside one pass so that each sample lasts long enough to time, as at the proxy.
  const repeat = Math.min(64, Math.max(1, Math.ceil(0.5 / Math.max(onceMs, 1e-3))));
  if (onceMs * repeat * plan.variants.length * (runs + 3) > RETIME_MAX_MS) return null;
  const { m, n, k } = dims;
  const buffers = { a: ctx.upload('retime.a', uniformData(m * k, 41 + m)), b: ctx.upload('retime.b', uniformData(k * n, 43 + n)), c: ctx.createStorage('retime.c', m * n * 4) };
  const dispatches = new Map<string, Dispatch>();
  try {
    for (const variant of plan.variants) {
      const dispatch = (await prepareMatmul(ctx, { layout, variant })).bind(dims, buffers);
      dispatches.set(variant, dispatch);
      await ctx.run([dispatch]); // warm-up: first touch of the buffers
    }
    const candidates = await retimeCandidates(
      plan.variants,
      async (variant) => {
        signal?.throwIfAborted();
        return (await timeDispatches(ctx, [dispatches.get(variant)!], repeat)).ms;
      },
      runs + 2,
    );
    return { dims: { ...dims }, reason: plan.reason, candidates };
  } finally {
    releaseDispatches([...dispatches.values()]);
    for (const buffer of Object.values(buffers)) buffer.destroy();
  }
}

function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * What a list of matmul uses needs tuned: its classes in first-seen order,
 * each measured at its largest shape (a class holds both a 1×N×B bias
 * gradient and a B×N×N input gradient; the bigger one costs the time).
 */
export function classesOf(uses: Iterable<MatmulUse>): { shapeClass: string; layout: MatmulLayout; dims: MatmulDims }[] {
  const seen = new Map<string, { shapeClass: string; layout: MatmulLayout; dims: MatmulDims }>();
  const work = (d: MatmulDims) => d.m * d.n * d.k;
  for (const use of uses) {
    for (const dims of use.shapes) {
      const shapeClass = matmulShapeClass(use.layout, dims);
      const known = seen.get(shapeClass);
      if (!known || work(dims) > work(known.dims)) seen.set(shapeClass, { shapeClass, layout: use.layout, dims });
    }
  }
  return [...seen.values()];
}

/** Options of {@link ensureTuned}: where tables are kept, whether to measure again, and progress. */
export interface EnsureTunedOptions {
  store?: TuningStore | null;
  /** Measure again even where the store has a choice. */
  retune?: boolean;
  runs?: number;
  onClass?: (shapeClass: string, index: number, total: number) => void;
  onCandidate?: (p: TuneProgress) => void;
  /** Stops between candidates (throwing the signal's reason); the store keeps its earlier table. */
  signal?: AbortSignal;
  /**
   * Re-check every stored choice that this call does not measure against
   * the untuned default at its real shape (planRecheck): a few interleaved
   * timings of the two, the faster one used (and kept in the store).
   */
  recheck?: boolean;
  /** After each re-check: the class's entry (its choice settled), and what was timed. */
  onRecheck?: (entry: TunedEntry, result: RetimeResult) => void;
}

/** What {@link ensureTuned} did: the table now applied, the classes it measured, and why a stored table was set aside. */
export interface EnsureTunedResult {
  table: TuningTable;
  /** Classes measured by this call. */
  tuned: TunedEntry[];
  /** Why a stored table was set aside, if it was. */
  storeProblem: string | null;
  /** Whether the store kept the measured table: null when nothing was measured or there is no store. */
  saved: boolean | null;
  /** Stored choices re-checked by this call (see EnsureTunedOptions.recheck). */
  rechecked: TunedEntry[];
}

/**
 * Loads this adapter's table from the store, measures the classes `uses`
 * need that it lacks (all of them with `retune`), saves the merged table and
 * applies it to ctx.
 */
export async function ensureTuned(ctx: GpuContext, uses: Iterable<MatmulUse>, options: EnsureTunedOptions = {}): Promise<EnsureTunedResult> {
  const key = tuningKey(ctx.summary);
  let table = emptyTable(ctx);
  let storeProblem: string | null = null;
  const stored = options.store?.load(key);
  if (stored !== null && stored !== undefined) {
    const parsed = parseTuningTable(stored, key);
    if ('problem' in parsed) storeProblem = parsed.problem;
    else table = parsed;
  }
  const classes = classesOf(uses);
  // A stored winner this device cannot run (a subgroup tiling, measured where the device had subgroups) is measured again.
  const runnable = (entry: TunedEntry | undefined) => entry !== undefined && matmulTilingAvailable(parseMatmulVariant(entry.variant), ctx);
  const wanted = classes.filter((c) => options.retune || !runnable(table.entries[c.shapeClass]));
  const tuned: TunedEntry[] = [];
  const rechecked: TunedEntry[] = [];
  let saved: boolean | null = null;
  try {
    for (const [i, c] of wanted.entries()) {
      options.onClass?.(c.shapeClass, i, wanted.length);
      const entry = await tuneMatmulClass(ctx, c.layout, c.dims, { runs: options.runs, onCandidate: options.onCandidate, signal: options.signal });
      tuned.push(entry);
      table.entries[c.shapeClass] = entry;
    }
    if (options.recheck) {
      for (const c of classes) {
        const entry = table.entries[c.shapeClass];
        if (!entry || tuned.includes(entry)) continue;
        const plan = planRecheck(entry.variant, defaultTilingName(ctx, c.layout, c.dims));
        if (!plan) continue;
        const result = await retimeAtShape(ctx, c.layout, c.dims, entry.proxy, entry.ms, plan, options.runs ?? 3, options.signal);
        if (!result) continue;
        const variant = settleRecheck(entry.variant, result);
        const proxyMs = entry.candidates.find((x) => x.variant === variant)?.ms;
        Object.assign(entry, { variant, rechecked: { ...result, at: new Date().toISOString() } }, proxyMs ? { ms: proxyMs } : {});
        rechecked.push(entry);
        options.onRecheck?.(entry, result);
      }
    }
  } finally {
    // Whatever was measured or re-checked is kept and used, even when a later class fails or the run is cancelled.
    if (tuned.length > 0 || rechecked.length > 0) {
      table.updated = new Date().toISOString();
      saved = options.store ? options.store.save(table) : null;
    }
    applyTuning(ctx, table);
  }
  return { table, tuned, storeProblem, saved, rechecked };
}

/** The browser's store: one localStorage item per adapter key. */
export function localStorageTuningStore(storage: Storage = globalThis.localStorage): TuningStore {
  const item = (key: string) => `gradstorm.tuning:${shortHash(key)}`;
  return {
    load(key) {
      const text = storage.getItem(item(key));
      if (text === null) return null;
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return { schema: 'unreadable' };
      }
    },
    save(table) {
      try {
        storage.setItem(item(table.key), JSON.stringify(table));
        return true;
      } catch {
        // Quota exceeded, or storage switched off: the choices hold for this page only.
        return false;
      }
    },
    where(key) {
      return `localStorage["${item(key)}"]`;
    },
  };
}

/** Large square products of every layout: the class `gradstorm bench` and big models use. */
export function squareMatmulUses(size = 512): MatmulUse[] {
  return (['nt', 'nn', 'tn'] as const).map((layout) => ({ layout, shapes: [{ m: size, n: size, k: size }] }));
}
