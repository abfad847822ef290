/**
 * `gradstorm tune`: run the autotuner for a model (given by the stress flags;
 * the default MLP otherwise) and large square matmuls, and print the choices
 * with every candidate's time. `stress`, `sweep` and `bench` tune on their
 * own; this command is for seeing (and refreshing) what they use.
 */
import type { GpuContext } from '../gpu/context.ts';
import { MATMUL_TILING_NAMES } from '../kernels/matmul.ts';
import { mlpMatmulUses, planMlp, type MatmulUse } from '../models/mlp.ts';
import { planRnn, rnnMatmulUses } from '../models/rnn.ts';
import { classesOf, squareMatmulUses, type TunedEntry, type TuningTable } from '../tune/tuner.ts';
import { UsageError, intFlag } from './flags.ts';
import { checkOutputPaths, formatTable, writeJsonAtomic } from './io.ts';
import { isRnnStress, parseRnnStress } from './rnn-flags.ts';
import { isLstmStress, parseLstmStress, refuseLstmFlagsElsewhere } from './lstm-flags.ts';
import { lstmMatmulUses, planLstm } from '../models/lstm.ts';
import { parseStress } from './stress.ts';
import { autotune, fileTuningStore, tuningCacheDir } from './tuning.ts';
import { chromeTune, type RuntimeFlags } from './chrome.ts';

/** The square products tuned beside the model by default: the classes large models and `bench` use. */
const DEFAULT_SQUARE_SIZE = 512;

export const TUNE_HELP = `  tune    Run the matmul autotuner on this adapter and show its choices: per
          shape class (layout; each of M, N, K small ≤ 64 or large; vec4-
          readable or not) every tiling that fits is checked against float64
          and timed, and the fastest is kept under
          ${tuningCacheDir().replace(/^\/(root|home\/[^/]+)/, '~')} (GRADSTORM_CACHE_DIR), keyed by adapter and engine
          version. stress, sweep and bench tune what they need on their own.
            [stress flags]       the model to tune for (default: the default
                                 MLP; --model rnn … for an RNN, --model
                                 lstm … for an LSTM)
            --squares N|none     also square N³ products of every layout
                                 (default ${DEFAULT_SQUARE_SIZE})
            --retune             measure again what is already kept
            --json FILE          write the tuning table (schema gradstorm.tuning/1)
          Tilings (tile M×N per thread, threads per workgroup, vec4 loads;
          tiled: workgroup memory with K steps of 8 or 16):
${wrapNames(MATMUL_TILING_NAMES, 12, 78)}
`;

/** Names in lines no wider than `width`, indented. */
function wrapNames(names: readonly string[], indent: number, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const name of names) {
    const next = line ? `${line}, ${name}` : name;
    if (indent + next.length + 1 > width && line) {
      lines.push(`${line},`);
      line = name;
    } else line = next;
  }
  if (line) lines.push(line);
  return lines.map((l) => ' '.repeat(indent) + l).join('\n');
}

export interface TuneCommandContext {
  openGpu(adapterFlag: string | undefined): Promise<GpuContext>;
  printHelp(): number;
  /** --runtime chrome: the autotuner runs in a Chrome page (Chrome's adapter has its own table). */
  runtime?: RuntimeFlags;
}

export interface TuneCommand {
  uses: MatmulUse[];
  retune: boolean;
  json: string | undefined;
  quiet: boolean;
  adapter: string | undefined;
  help: boolean;
}

export function parseTune(args: string[]): TuneCommand {
  // --squares is tune's own; the rest are the stress flags that describe the model.
  const at = args.findIndex((a) => a === '--squares' || a.startsWith('--squares='));
  let squares: number | null = DEFAULT_SQUARE_SIZE;
  if (at >= 0) {
    const inline = args[at].startsWith('--squares=');
    const value = inline ? args[at].slice('--squares='.length) : args[at + 1];
    squares = value === 'none' ? null : intFlag('squares', value ?? '', 1, 16384);
    args = [...args.slice(0, at), ...args.slice(at + (inline ? 1 : 2))];
  }
  let command;
  let model: MatmulUse[];
  refuseLstmFlagsElsewhere(args);
  if (isRnnStress(args)) {
    command = parseRnnStress(args);
    model = Object.values(rnnMatmulUses(planRnn(command.config), command.config));
  } else if (isLstmStress(args)) {
    command = parseLstmStress(args);
    model = Object.values(lstmMatmulUses(planLstm(command.config), command.config));
  } else {
    command = parseStress(args);
    model = Object.values(mlpMatmulUses(planMlp(command.config), command.config.batch));
  }
  if (command.matmulVariant !== undefined) throw new UsageError('--variant fixes one matmul variant; tune measures them all (drop --variant)');
  if (command.dump !== undefined) throw new UsageError('--dump belongs to gradstorm stress; tune trains nothing');
  return {
    uses: [...model, ...(squares === null ? [] : squareMatmulUses(squares))],
    retune: command.retune,
    json: command.json,
    quiet: command.quiet,
    adapter: command.adapter,
    help: command.help,
  };
}

/** One row per class: the winner, the runner-up and how much slower it was, and the candidates that failed. */
export function tuningRows(entries: readonly TunedEntry[], measured: ReadonlySet<string>): string[][] {
  return entries.map((e) => {
    // The runner-up among the fully timed candidates: one cut short after two slow samples is no contender.
    const runs = e.candidates.find((c) => c.variant === e.variant)?.runs;
    const timed = e.candidates.filter((c): c is typeof c & { ms: number } => c.ms !== null && c.runs === runs).sort((x, y) => x.ms - y.ms);
    const runnerUp = timed.find((c) => c.variant !== e.variant);
    const failed = e.candidates.filter((c) => c.error !== undefined).length;
    return [
      e.shapeClass,
      e.variant,
      e.ms.toPrecision(3),
      runnerUp ? `${runnerUp.variant} ×${(runnerUp.ms / e.ms).toFixed(2)}` : '—',
      `${e.candidates.length}${failed ? ` (${failed} failed)` : ''}`,
      `${e.proxy.m}×${e.proxy.n}×${e.proxy.k}`,
      measured.has(e.shapeClass) ? 'this run' : 'cached',
    ];
  });
}

export async function commandTune(args: string[], cli: TuneCommandContext): Promise<number> {
  const command = parseTune(args);
  if (command.help) return cli.printHelp();
  checkOutputPaths([command.json]);
  if (cli.runtime?.runtime === 'chrome') return chromeTune(command, cli.runtime, finishTune);
  const ctx = await cli.openGpu(command.adapter);
  try {
    const store = fileTuningStore();
    const { table, tuned } = await autotune(ctx, command.uses, { retune: command.retune, quiet: command.quiet, store });
    return finishTune(command, table, tuned);
  } finally {
    ctx.destroy();
  }
}

/** The table of choices and the tuning file: the same for both runtimes. */
export function finishTune(command: TuneCommand, table: TuningTable, tuned: readonly TunedEntry[]): number {
  const store = fileTuningStore();
  {
    const wanted = classesOf(command.uses).map((c) => table.entries[c.shapeClass]).filter((e): e is TunedEntry => e !== undefined);
    const measured = new Set(tuned.map((e) => e.shapeClass));
    process.stdout.write(formatTable(['shape class', 'chosen', 'ms', 'runner-up', 'candidates', 'measured at', 'measured'], tuningRows(wanted, measured)) + '\n');
    process.stdout.write(`\n${wanted.length} shape class(es); table ${store.where(table.key)}\n`);
    if (command.json) writeJsonAtomic(command.json, table satisfies TuningTable);
    return 0;
  }
}
