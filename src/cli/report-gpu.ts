/**
 * `gradstorm report-gpu` (`npm run gpu-report`): one command for the day a
 * GPU is lent. On one device, in one process, it runs the conformance check,
 * the autotuner, the matmul bench at square sizes up to 4096 (with TF.js's
 * WebGPU backend and plain JS in the same run), an MLP stress at depth 1000,
 * width 1024, batch 128 and an RNN stress at T 10 000 — each within its share
 * of --max-seconds, shrunk where the adapter is too slow for the full size
 * (SwiftShader), and each saying which cap applied. It writes one JSON report
 * (gradstorm.gpu-report/1) and a Markdown table of GFLOP/s, with the percent
 * of the adapter's nominal f32 peak where the adapter is a known one.
 */
import { stopOnSignals, interruptionExitCode } from './signals.ts';
import { abortReason, interruptionFields, type Interruption } from '../scheduler/interruption.ts';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { AdapterSummary, GpuContext } from '../gpu/context.ts';
import { CONFORMANCE_FAMILIES, conformanceCases, runConformance, type ConformanceResult } from '../conformance/index.ts';
import { ensureTuned, squareMatmulUses } from '../tune/tuner.ts';
import { mlpMatmulUses, planMlp, type MatmulUse } from '../models/mlp.ts';
import { planRnn, rnnMatmulUses } from '../models/rnn.ts';
import { MlpTrainer } from '../scheduler/mlp-trainer.ts';
import { RnnTrainer } from '../scheduler/rnn-trainer.ts';
import { runRnnStress } from '../scheduler/rnn-run.ts';
import { parseStress, runStress } from './stress.ts';
import { parseRnnStress } from './rnn-flags.ts';
import { fileTuningStore } from './tuning.ts';
import { UsageError, numberFlag, parse } from './flags.ts';
import { checkOutputPaths, writeJsonAtomic, writeTextAtomic } from './io.ts';
import { defaultBenchPlan, TUNED_VARIANT } from '../../bench/plan.ts';
import { runBenchSuite } from '../../bench/suite.ts';
import type { BenchReport } from '../../bench/report.ts';
import { loadTfjsWebgpu, missingTfjsPackages } from '../../bench/tfjs-load.ts';
import { MATMUL_VARIANTS, type MatmulLayout } from '../kernels/matmul.ts';
import type { MlpConfig } from '../models/config.ts';
import type { RnnConfig } from '../models/rnn.ts';
import { GPU_REPORT_SCHEMA_NAME, type GpuReportInput } from '../report/schema.ts';

export const REPORT_GPU_HELP = `  report-gpu  One-shot GPU report: check, tune, the matmul bench at square
          sizes up to 4096 (against TF.js WebGPU and plain JS), an MLP stress
          (depth 1000, width 1024, batch 128) and an RNN stress (T 10 000),
          each within its share of the time budget (sizes shrink on slow
          adapters such as SwiftShader; the report says which cap applied).
          Writes gpu-report.json (schema gradstorm.gpu-report/1) and
          gpu-report.md (GFLOP/s, and % of the nominal f32 peak of known GPUs).
            --out DIR            where to write them (default: .)
            --max-seconds 900    the whole run's time budget
            --no-baseline        leave TF.js and plain JS out of the bench
`;

/** The full-size targets of the report (the issue's): shrunk only when the budget or the device cannot hold them. */
export const REPORT_TARGETS = {
  squares: [128, 256, 512, 1024, 2048, 4096],
  mlp: { depth: 1000, width: 1024, batch: 128, steps: 3 },
  rnn: { seqLen: 10_000, steps: 2 },
} as const;

export const REPORT_SECTIONS = ['check', 'tune', 'bench', 'mlp', 'rnn'] as const;
export type ReportSection = (typeof REPORT_SECTIONS)[number];
/** Each section's share of the budget (time a section leaves unused carries over to the later ones, in these proportions). */
const SHARES: Record<ReportSection, number> = { check: 0.15, tune: 0.15, bench: 0.4, mlp: 0.15, rnn: 0.15 };

/**
 * Nominal single-precision (FP32, non-tensor-core) peaks in GFLOP/s, from the
 * vendors' datasheets at boost clock: what "% of peak" is measured against.
 * Nominal, not attainable: WebGPU has no tensor cores or TF32, and the
 * clock under load may be lower. Matched against the adapter's description
 * (and vendor), most specific first.
 */
export const NOMINAL_F32_PEAKS: readonly { pattern: RegExp; name: string; gflops: number }[] = [
  { pattern: /h200/i, name: 'NVIDIA H200 (SXM)', gflops: 67_000 },
  { pattern: /h100.*pcie/i, name: 'NVIDIA H100 PCIe', gflops: 51_200 },
  { pattern: /h100/i, name: 'NVIDIA H100 SXM', gflops: 67_000 },
  { pattern: /a100/i, name: 'NVIDIA A100', gflops: 19_500 },
  { pattern: /l40s/i, name: 'NVIDIA L40S', gflops: 91_600 },
  { pattern: /\bl4\b/i, name: 'NVIDIA L4', gflops: 30_300 },
  { pattern: /\ba10\b/i, name: 'NVIDIA A10', gflops: 31_200 },
  { pattern: /v100/i, name: 'NVIDIA V100 (SXM2)', gflops: 15_700 },
  { pattern: /\bt4\b/i, name: 'NVIDIA T4', gflops: 8_100 },
  { pattern: /rtx 4090/i, name: 'NVIDIA GeForce RTX 4090', gflops: 82_600 },
];

/** The adapter's nominal f32 peak when it is a known GPU, else null (SwiftShader, unknown adapters). */
export function nominalPeak(adapter: Pick<AdapterSummary, 'vendor' | 'description' | 'device' | 'software'>): { name: string; gflops: number } | null {
  if (adapter.software) return null;
  const text = `${adapter.vendor} ${adapter.description} ${adapter.device}`;
  const found = NOMINAL_F32_PEAKS.find((p) => p.pattern.test(text));
  return found ? { name: found.name, gflops: found.gflops } : null;
}

/** FLOPs of one MLP training step: forward, input gradient and weight gradient, 2·B·in·out each per layer (elementwise work left out). */
export function mlpStepFlops(c: Pick<MlpConfig, 'depth' | 'width' | 'batch' | 'input' | 'output'>): number {
  const layerFlops = (fanIn: number, fanOut: number) => 6 * c.batch * fanIn * fanOut;
  if (c.depth === 1) return layerFlops(c.input, c.output);
  return layerFlops(c.input, c.width) + (c.depth - 2) * layerFlops(c.width, c.width) + layerFlops(c.width, c.output);
}

/** FLOPs of one RNN BPTT step: per timestep the input and recurrent products, forward and both backward products. */
export function rnnStepFlops(c: Pick<RnnConfig, 'seqLen' | 'width' | 'batch' | 'input'>): number {
  return 6 * c.seqLen * c.batch * c.width * (c.width + c.input);
}

/**
 * The largest MLP at most the requested size whose `steps` fit `allowanceMs`
 * at `gflops`, and that the device can hold (`fits`): depth shrinks first
 * (down to 2), then width halves. Returns the size and the cap that applied.
 */
export function fitMlp(
  requested: { depth: number; width: number; batch: number },
  gflops: number,
  allowanceMs: number,
  steps: number,
  fits: (size: { depth: number; width: number; batch: number }) => boolean = () => true,
): { depth: number; width: number; batch: number; cap: string | null } {
  const stepMs = (s: { depth: number; width: number; batch: number }) => mlpStepFlops({ ...s, input: s.width, output: s.width }) / (gflops * 1e6);
  const ok = (s: { depth: number; width: number; batch: number }) => stepMs(s) * steps <= allowanceMs && fits(s);
  let width = requested.width;
  for (;;) {
    const size = { depth: requested.depth, width, batch: requested.batch };
    if (ok(size)) {
      if (width === requested.width) return { ...size, cap: null };
      return { ...size, cap: capText(requested, size, gflops, allowanceMs, steps, fits) };
    }
    // The deepest model at this width that fits (binary search: time and memory grow with depth).
    let lo = 2;
    let hi = requested.depth;
    if (ok({ ...size, depth: lo })) {
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if (ok({ ...size, depth: mid })) lo = mid;
        else hi = mid - 1;
      }
      const fitted = { ...size, depth: lo };
      return { ...fitted, cap: capText(requested, fitted, gflops, allowanceMs, steps, fits) };
    }
    if (width <= 16) return { depth: 2, width, batch: requested.batch, cap: capText(requested, { depth: 2, width, batch: requested.batch }, gflops, allowanceMs, steps, fits) };
    width = Math.max(16, width >> 1);
  }
}

function capText(
  requested: { depth: number; width: number; batch: number },
  ran: { depth: number; width: number; batch: number },
  gflops: number,
  allowanceMs: number,
  steps: number,
  fits: (size: { depth: number; width: number; batch: number }) => boolean,
): string {
  const what = [ran.depth !== requested.depth ? `depth ${requested.depth} → ${ran.depth}` : '', ran.width !== requested.width ? `width ${requested.width} → ${ran.width}` : ''].filter(Boolean).join(', ');
  const predictedMs = (mlpStepFlops({ ...requested, input: requested.width, output: requested.width }) / (gflops * 1e6)) * steps;
  const reasons: string[] = [];
  if (!fits(requested)) reasons.push("device memory: the full model exceeds the adapter's buffer limits");
  if (predictedMs > allowanceMs) reasons.push(`time budget: the full size would take ~${(predictedMs / 1000).toPrecision(2)} s for ${steps} steps at ${gflops.toPrecision(3)} GFLOP/s, ${(allowanceMs / 1000).toFixed(0)} s allowed`);
  return `${reasons.join('; ')}: ${what}`;
}

/** The longest sequence at most `requested` whose `steps` fit `allowanceMs` at `msPerTimestep` (measured by a short probe). */
export function fitSeqLen(requested: number, msPerTimestep: number, allowanceMs: number, steps: number): { seqLen: number; cap: string | null } {
  const most = Math.floor(allowanceMs / Math.max(msPerTimestep * steps, 1e-9));
  if (most >= requested) return { seqLen: requested, cap: null };
  const seqLen = Math.max(10, most);
  return {
    seqLen,
    cap: `time budget: T ${requested} → ${seqLen} (a probe ran ${msPerTimestep.toPrecision(3)} ms per timestep per step; the full T would take ~${((requested * msPerTimestep * steps) / 1000).toPrecision(2)} s for ${steps} steps, ${(allowanceMs / 1000).toFixed(0)} s allowed)`,
  };
}

type SectionRecord = GpuReportInput['sections'][number];
type Row = GpuReportInput['rows'][number];

/** The Markdown page: the adapter, the budget, one table of what ran (GFLOP/s, × TF.js, % of nominal peak) and the caps. */
export function gpuReportMarkdown(report: GpuReportInput): string {
  const fmt = (v: number | null | undefined, digits = 3) => (v === null || v === undefined ? '—' : v.toPrecision(digits));
  const a = report.adapter;
  const lines = [
    `# gradstorm GPU report`,
    '',
    `- adapter: ${a.vendor} ${a.architecture} — ${a.description || '(no description)'} (${a.backend}${a.software ? ', emulated on the CPU' : ''})`,
    `- engine ${report.version}, ${report.created}; budget ${report.maxSeconds} s, took ${report.elapsedSeconds.toFixed(0)} s`,
    `- nominal f32 peak: ${report.peak ? `${report.peak.name}, ${report.peak.gflops} GFLOP/s (vendor datasheet, boost clock, no tensor cores: nominal, not attainable)` : 'unknown for this adapter (no % of peak)'}`,
    ...(report.interruption ? [`- **partial**: ${report.interruption.message}`] : []),
    '',
    '| section | what | shape | ms | GFLOP/s | TF.js GFLOP/s | × TF.js | plain JS GFLOP/s | % of peak | note |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...report.rows.map((r) =>
      `| ${r.section} | ${r.what} | ${r.shape} | ${fmt(r.ms, 4)} | ${fmt(r.gflops)} | ${fmt(r.tfjsGflops)} | ${r.gflops !== null && r.tfjsGflops ? `${(r.gflops / r.tfjsGflops).toFixed(1)}×` : '—'} | ${fmt(r.plainJsGflops)} | ${r.percentOfPeak === null ? '—' : `${r.percentOfPeak.toFixed(1)} %`} | ${r.note.replace(/\|/g, '\\|')} |`,
    ),
    '',
    '## Sections',
    '',
    '| section | status | seconds (allowed) | cap | summary |',
    '|---|---|---|---|---|',
    ...report.sections.map((s) => `| ${s.name} | ${s.status} | ${s.seconds.toFixed(1)} (${s.allowanceSeconds.toFixed(0)}) | ${(s.cap ?? 'none').replace(/\|/g, '\\|')} | ${(s.error ? `${s.summary}: ${s.error}` : s.summary).replace(/\|/g, '\\|')} |`),
    '',
  ];
  return lines.join('\n');
}

/** The best gradstorm GFLOP/s per layout and size in a bench report, next to its baselines. */
export function benchRows(bench: BenchReport, peakGflops: number | null): Row[] {
  const rows: Row[] = [];
  const shapes = [...new Set(bench.entries.filter((e) => e.kernel.startsWith('matmul.')).map((e) => e.shape))];
  for (const shape of shapes) {
    for (const layout of ['nt', 'nn', 'tn'] as MatmulLayout[]) {
      const kernel = `matmul.${layout}`;
      const entries = bench.entries.filter((e) => e.kernel === kernel && e.shape === shape && e.gflops !== undefined);
      if (entries.length === 0) continue;
      const best = entries.reduce((x, y) => ((y.gflops ?? 0) > (x.gflops ?? 0) ? y : x));
      const baseline = (variant: string) => bench.baselines.find((b) => b.kernel === kernel && b.shape === shape && b.variant === variant)?.gflops ?? null;
      const gflops = best.gflops ?? null;
      rows.push({
        section: 'bench',
        what: `matmul ${layout}`,
        shape,
        ms: best.ms,
        gflops,
        tfjsGflops: baseline('tfjs-webgpu'),
        plainJsGflops: baseline('plain-js'),
        percentOfPeak: peakGflops && gflops !== null ? (100 * gflops) / peakGflops : null,
        note: `best of ${entries.map((e) => e.variant).join(', ')}: ${best.variant}${best.note ? ` (${best.note})` : ''}`,
      });
    }
  }
  return rows;
}

interface ReportGpuContext {
  version: string;
  openGpu(adapterFlag: string | undefined): Promise<GpuContext>;
  printHelp(): number;
}

export async function commandReportGpu(args: string[], cli: ReportGpuContext): Promise<number> {
  const { values } = parse(args, { out: { type: 'string' }, 'max-seconds': { type: 'string' }, 'no-baseline': { type: 'boolean' } });
  if (values.help) return cli.printHelp();
  const maxSeconds = values['max-seconds'] === undefined ? 900 : numberFlag('max-seconds', values['max-seconds'], 1, 86_400);
  const out = values.out ?? '.';
  mkdirSync(out, { recursive: true });
  const jsonPath = join(out, 'gpu-report.json');
  const mdPath = join(out, 'gpu-report.md');
  checkOutputPaths([jsonPath, mdPath]);
  if (!Number.isFinite(maxSeconds)) throw new UsageError('--max-seconds must be a number of seconds');

  const ctx = await cli.openGpu(values.adapter);
  const stop = stopOnSignals(`the sections finished so far to ${jsonPath}`);
  const save = (report: GpuReportInput) => {
    writeJsonAtomic(jsonPath, report);
    writeTextAtomic(mdPath, gpuReportMarkdown(report));
  };
  const latest: { report: GpuReportInput | null } = { report: null };
  try {
    const report = await runGpuReport(ctx, {
      version: cli.version,
      maxSeconds,
      baselines: !values['no-baseline'],
      log: (m) => process.stderr.write(`${m}\n`),
      signal: stop.signal,
      // Every finished section is saved at once, marked interrupted until the last: a run killed outright leaves a file that says so.
      onSection: (partial) => {
        latest.report = partial;
        save({ ...partial, interrupted: true, interruption: { reason: 'aborted', stepReached: partial.sections.length, message: `report-gpu running, or stopped without a word (a crash): ${partial.sections.length} of ${REPORT_SECTIONS.length} section(s) finished` } });
      },
    });
    save(report);
    process.stdout.write(gpuReportMarkdown(report));
    process.stderr.write(`report: ${jsonPath}, ${mdPath}\n`);
    if (report.interruption) {
      process.stderr.write(`gradstorm: ${report.interruption.message}; the finished sections are kept in ${jsonPath}\n`);
      return interruptionExitCode(report.interruption.reason);
    }
    const failed = report.sections.some((s) => s.status === 'failed');
    return failed ? 1 : 0;
  } catch (error) {
    // A lost device ends the report: the sections finished before it are kept, marked device-lost.
    const partial = latest.report;
    if (ctx.lostError && partial) {
      save({ ...partial, interrupted: true, interruption: { reason: 'device-lost', stepReached: partial.sections.length, message: `device lost after ${partial.sections.length} section(s): ${ctx.lostError.message}` } });
      process.stderr.write(`gradstorm: ${ctx.lostError.message}; the ${partial.sections.length} finished section(s) are kept in ${jsonPath}\n`);
      return 1;
    }
    throw error;
  } finally {
    stop.dispose();
    ctx.destroy();
  }
}

/**
 * The least a stress section is given before it is stopped, whatever is left
 * of the budget: enough for the smallest model's first step, so that a
 * section after an overrun still reports a number.
 */
const MIN_STRESS_MS = 5000;

/**
 * A stress section's time budget: its signal aborts once `ms` have passed AND
 * at least one step has been recorded (a run stopped before its first step has
 * nothing to report; on a loaded machine tuning and compiling alone can take
 * longer than the budget). Pass `onStep` to the run.
 */
export function stressBudget(ms: number): { signal: AbortSignal; onStep: () => void; dispose: () => void } {
  const controller = new AbortController();
  let stepsSeen = 0;
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    if (stepsSeen > 0) controller.abort('aborted');
  }, Math.round(ms));
  return {
    signal: controller.signal,
    onStep: () => {
      stepsSeen += 1;
      if (expired && !controller.signal.aborted) controller.abort('aborted');
    },
    dispose: () => clearTimeout(timer),
  };
}

/** Runs the five sections within `maxSeconds` and assembles the report. */
export async function runGpuReport(
  ctx: GpuContext,
  options: {
    version: string;
    maxSeconds: number;
    baselines?: boolean;
    log: (message: string) => void;
    /** After each section: the report so far (what to save, so that a stop or a crash keeps the finished sections). */
    onSection?: (soFar: GpuReportInput) => void;
    /** Stops between sections; the report of the sections done comes back with the interruption. */
    signal?: AbortSignal;
  },
): Promise<GpuReportInput> {
  const { log } = options;
  const started = performance.now();
  const budgetMs = options.maxSeconds * 1000;
  const software = ctx.summary.software;
  const peak = nominalPeak(ctx.summary);
  const sections: SectionRecord[] = [];
  const rows: Row[] = [];
  const store = fileTuningStore();
  /** The report of the sections finished so far (the whole report once all have run), with the interruption if one stopped it. */
  const assemble = (): GpuReportInput => {
    const { vendor, architecture, description, device, backend } = ctx.summary;
    return {
      schema: GPU_REPORT_SCHEMA_NAME,
      version: options.version,
      created: new Date().toISOString(),
      adapter: { vendor, architecture, description, device, software, backend },
      maxSeconds: options.maxSeconds,
      elapsedSeconds: (performance.now() - started) / 1000,
      peak: peak ? { ...peak, note: 'nominal FP32 (non-tensor) peak from the vendor datasheet at boost clock' } : null,
      sections: [...sections],
      rows: [...rows],
      ...interruptionFields(interruption),
    };
  };
  /** This section's allowance: what is left of the budget, split over the sections still to run by their shares. */
  const allowance = (section: ReportSection): number => {
    const left = Math.max(0, budgetMs - (performance.now() - started));
    const rest = REPORT_SECTIONS.slice(REPORT_SECTIONS.indexOf(section));
    return (left * SHARES[section]) / rest.reduce((s, name) => s + SHARES[name], 0);
  };
  let interruption: Interruption | null = null;
  const runSection = async (name: ReportSection, body: (allowanceMs: number) => Promise<Omit<SectionRecord, 'name' | 'seconds' | 'allowanceSeconds' | 'status'> & { status?: SectionRecord['status'] }>) => {
    if (interruption) return;
    if (options.signal?.aborted) {
      const reason = abortReason(options.signal);
      interruption = { reason, stepReached: sections.length, message: `stopped (${reason}) before the ${name} section: ${sections.length} of ${REPORT_SECTIONS.length} section(s) finished` };
      return;
    }
    const allowanceMs = allowance(name);
    const t0 = performance.now();
    log(`report-gpu: ${name} (${(allowanceMs / 1000).toFixed(0)} s allowed)…`);
    let record: SectionRecord;
    try {
      const r = await body(allowanceMs);
      record = { name, status: r.status ?? (r.cap ? 'capped' : 'ok'), seconds: 0, allowanceSeconds: allowanceMs / 1000, cap: r.cap, summary: r.summary };
    } catch (error) {
      if (ctx.lostError) throw ctx.lostError;
      record = { name, status: 'failed', seconds: 0, allowanceSeconds: allowanceMs / 1000, cap: null, summary: `${name} failed`, error: (error as Error).message };
    }
    record.seconds = (performance.now() - t0) / 1000;
    log(`report-gpu: ${name}: ${record.status}${record.cap ? ` (${record.cap})` : ''} — ${record.summary}`);
    sections.push(record);
    options.onSection?.(assemble());
  };

  // 1. check: the conformance suite, case by case until the allowance is spent (at least one case).
  await runSection('check', async (allowanceMs) => {
    const cases = conformanceCases(CONFORMANCE_FAMILIES, ctx);
    const deadline = performance.now() + allowanceMs;
    const results: ConformanceResult[] = [];
    for (const c of cases) {
      if (results.length > 0 && performance.now() > deadline) break;
      results.push(...(await runConformance(ctx, [c])));
    }
    const failed = results.filter((r) => !r.ok);
    const cap = results.length < cases.length ? `time budget: ${results.length} of ${cases.length} cases run (in suite order: matmul first)` : null;
    const summary = `${results.length - failed.length} passed, ${failed.length} failed${failed.length ? ` (first: ${failed[0].kernel} ${failed[0].shape}: ${failed[0].detail})` : ''}`;
    return { status: failed.length ? 'failed' : cap ? 'capped' : 'ok', cap, summary };
  });

  const mlpRequested = REPORT_TARGETS.mlp;
  const mlpFull = parseStress(['--depth', String(mlpRequested.depth), '--width', String(mlpRequested.width), '--batch', String(mlpRequested.batch), '--steps', String(mlpRequested.steps)]).config;
  const rnnFull = parseRnnStress(['--model', 'rnn', '--seq-len', String(REPORT_TARGETS.rnn.seqLen), '--steps', String(REPORT_TARGETS.rnn.steps)]).config;

  // 2. tune: the classes of the squares, the MLP and the RNN (kept in the tuning cache, as bench and stress keep them).
  await runSection('tune', async (allowanceMs) => {
    const uses: MatmulUse[] = [
      ...REPORT_TARGETS.squares.flatMap((n) => squareMatmulUses(n)),
      ...Object.values(mlpMatmulUses(planMlp(mlpFull), mlpFull.batch)),
      ...Object.values(rnnMatmulUses(planRnn(rnnFull), rnnFull)),
    ];
    const signal = AbortSignal.timeout(Math.max(1, Math.round(allowanceMs)));
    let measured = 0;
    try {
      const result = await ensureTuned(ctx, uses, { store, signal, onClass: () => measured++ });
      const classes = Object.values(result.table.entries);
      return { cap: null, summary: `${result.tuned.length} class(es) measured, ${classes.length} known: ${classes.map((e) => `${e.shapeClass} → ${e.variant}`).join(', ')}` };
    } catch (error) {
      if (!signal.aborted) throw error;
      return { cap: `time budget: stopped in class ${measured}; the classes measured before are kept, the others run the default tiling`, summary: 'partly tuned' };
    }
  });

  // 3. bench: matmul at the squares within the allowance (its own budget skips the sizes it predicts will not fit).
  let bestGflops: number | null = null;
  await runSection('bench', async (allowanceMs) => {
    const baselines = options.baselines ?? true;
    const missing = baselines ? await missingTfjsPackages() : [];
    const plan = {
      ...defaultBenchPlan(options.version),
      kernels: ['matmul'] as const,
      sizes: REPORT_TARGETS.squares,
      shapes: [],
      variants: [...MATMUL_VARIANTS, TUNED_VARIANT],
      tuning: { store, retune: false },
      runs: software ? 3 : 5,
      maxSeconds: Math.max(1, allowanceMs / 1000),
      loadTfjs: baselines && missing.length === 0 ? loadTfjsWebgpu : null,
      plainJs: baselines,
    };
    const bench = await runBenchSuite(ctx, plan, (event) => {
      if (event.type === 'entry' && event.entry.gflops !== undefined) log(`  ${event.entry.kernel} ${event.entry.shape} ${event.entry.variant}: ${event.entry.gflops.toPrecision(3)} GFLOP/s`);
    });
    const matmulRows = benchRows(bench, peak?.gflops ?? null);
    rows.push(...matmulRows);
    // The step sizes below are predicted from the tuned kernels' throughput at the largest size measured.
    const tuned = bench.entries.filter((e) => e.variant === TUNED_VARIANT && e.gflops !== undefined);
    const largest = tuned.length ? tuned.reduce((x, y) => (Number(y.shape.split('×')[0]) >= Number(x.shape.split('×')[0]) ? y : x)).shape : null;
    const atLargest = tuned.filter((e) => e.shape === largest).map((e) => e.gflops as number);
    bestGflops = atLargest.length ? Math.min(...atLargest) : null;
    const sizesRun = [...new Set(bench.entries.map((e) => e.shape))];
    const overBudget = bench.skipped.filter((s) => s.reason.startsWith('over the time budget'));
    const cap = overBudget.length ? `time budget: ran ${sizesRun.join(', ')}; skipped ${[...new Set(overBudget.map((s) => s.shape))].join(', ')} (predicted past the ${(allowanceMs / 1000).toFixed(0)} s allowed)` : null;
    const noTfjs = !baselines ? '; no baselines (--no-baseline)' : missing.length ? `; TF.js baseline not installed (${missing.join(', ')})` : '';
    return { cap, summary: `${bench.entries.length} timings, ${bench.baselines.length} baselines${noTfjs}` };
  });
  const gflopsForSizing = bestGflops ?? (software ? 1 : 1000);

  // 4. MLP stress: the requested size, shrunk to the allowance (predicted from the bench) and the device's limits.
  await runSection('mlp', async (allowanceMs) => {
    const fits = (s: { depth: number; width: number; batch: number }) => {
      try {
        MlpTrainer.checkFits(ctx, { ...mlpFull, ...s, input: s.width, output: s.width });
        return true;
      } catch {
        return false;
      }
    };
    // Tuning and setup take time too: plan the steps into 70 % of the allowance.
    const size = fitMlp(mlpRequested, gflopsForSizing, 0.7 * allowanceMs, mlpRequested.steps, fits);
    const config: MlpConfig = { ...mlpFull, depth: size.depth, width: size.width, batch: size.batch, input: size.width, output: size.width };
    const budget = stressBudget(Math.max(MIN_STRESS_MS, allowanceMs));
    const { report } = await runStress(ctx, config, { signal: budget.signal, onStep: budget.onStep }).finally(budget.dispose);
    const ms = report.timing?.medianStepMs ?? null;
    const flops = mlpStepFlops(config);
    const gflops = ms ? flops / (ms * 1e6) : null;
    const shape = `depth ${config.depth}, width ${config.width}, batch ${config.batch}`;
    rows.push({ section: 'mlp', what: 'MLP training step (median)', shape, ms, gflops, tfjsGflops: null, plainJsGflops: null, percentOfPeak: peak && gflops !== null ? (100 * gflops) / peak.gflops : null, note: `${report.steps.length} step(s); ${report.verdict.status}; FLOPs = matmuls only` });
    const cut = report.interruption ? `; stopped after ${report.interruption.stepReached} step(s): ${report.interruption.message}` : '';
    return { cap: size.cap ?? (report.interruption ? 'time budget: interrupted' : null), summary: `${shape}: ${ms === null ? 'no step timed' : `${ms.toPrecision(4)} ms per step`}${cut}` };
  });

  // 5. RNN stress: a short probe measures the cost of a timestep; T is the longest that fits the allowance.
  await runSection('rnn', async (allowanceMs) => {
    const probeT = 20;
    const probe = await runRnnStress(ctx, { ...rnnFull, seqLen: probeT, steps: 2 });
    const probeMs = probe.report.timing?.medianStepMs ?? allowanceMs;
    RnnTrainer.checkFits(ctx, rnnFull);
    const spent = performance.now();
    const { seqLen, cap } = fitSeqLen(rnnFull.seqLen, probeMs / probeT, 0.7 * allowanceMs, rnnFull.steps);
    const config: RnnConfig = { ...rnnFull, seqLen };
    const budget = stressBudget(Math.max(MIN_STRESS_MS, allowanceMs - (performance.now() - spent)));
    const { report } = await runRnnStress(ctx, config, { signal: budget.signal, onStep: budget.onStep }).finally(budget.dispose);
    const ms = report.timing?.medianStepMs ?? null;
    const gflops = ms ? rnnStepFlops(config) / (ms * 1e6) : null;
    const shape = `T ${config.seqLen}, width ${config.width}, batch ${config.batch}`;
    rows.push({ section: 'rnn', what: 'RNN BPTT step (median)', shape, ms, gflops, tfjsGflops: null, plainJsGflops: null, percentOfPeak: peak && gflops !== null ? (100 * gflops) / peak.gflops : null, note: `${report.steps.length} step(s); ${report.verdict.status}; ${ms === null ? '—' : (ms / config.seqLen).toPrecision(3)} ms per timestep` });
    return { cap: cap ?? (report.interruption ? 'time budget: interrupted' : null), summary: `${shape}: ${ms === null ? 'no step timed' : `${ms.toPrecision(4)} ms per step`}` };
  });

  return assemble();
}
