/**
 * `gradstorm merge DIR`: puts the shard reports of a sweep (DIR/shard-<i>.json,
 * written by `gradstorm sweep --shard i/n`, e.g. as the tasks of a Slurm
 * array job) back together into the JSON and CSV that one process running the
 * whole grid writes.
 *
 * Every shard file is checked against the sweep schema and by its
 * fingerprint (the grid and base config: all shards must come from one
 * sweep). A shard of another sweep is refused (exit 2, nothing written).
 * Missing or duplicated points are named, the merge is still written, marked
 * `"incomplete": true` with the points in `merge.missing`/`merge.duplicated`,
 * and the exit code is 1; `gradstorm sweep … --slurm N --out DIR --resume`
 * (or `gradstorm sweep --shard i/n --json DIR/shard-i.json --resume` by hand)
 * runs what is missing.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { validateReport, type SweepReportJson } from '../report/schema.ts';
import type { MlpConfig } from '../models/config.ts';
import type { LstmConfig } from '../models/lstm.ts';
import { parseArgs } from 'node:util';
import { COMMON_OPTIONS, UsageError } from './flags.ts';
import { checkOutputPaths, writeJsonAtomic, writeTextAtomic } from './io.ts';
import { anyPointKey, anySweepGrid, canonical, sweepCsv, sweepFingerprint, sweepTable, type AnyGridPoint, type AnySweepGridSpec, type AnySweepPoint, type SweepPoint } from './sweep.ts';
import type { LstmGridPoint } from './lstm-sweep.ts';

export const MERGE_HELP = `  merge   Merge the shard reports of a sweep (DIR/shard-<i>.json, from sweep
          --shard i/n or sweep --slurm N) into the JSON and CSV one process
          running the whole grid writes:
            gradstorm merge DIR [--json FILE] [--csv FILE] [--fingerprint sha256:…]
            --json FILE  default DIR/sweep.json (the CSV beside it)
            --fingerprint  the sweep the shards must belong to (sweep --slurm
                         passes it); by default that of the lowest shard file
          Every shard is checked against the sweep schema and its fingerprint
          (grid and base flags); a shard of another sweep is refused (exit 2,
          nothing written). Missing or duplicated points are named, the
          merge is still written marked "incomplete": true, and the exit
          code is 1; sweep --slurm N --out DIR --resume runs the missing ones
`;

/** A grid point by its coordinates: an MLP's (no `model`) or an LSTM's. */
export type PointRef =
  | {
      model?: 'mlp';
      index: number;
      activation: SweepPoint['activation'];
      depth: number;
      gain: number;
    }
  | LstmGridPoint;

/** What a merge found and made. */
export interface MergeResult {
  /** The merged report (schema gradstorm.sweep/1, shard 0/1), as written. */
  document: SweepReportJson;
  /** The shard files merged (their names), in shard order. */
  shards: string[];
  missing: PointRef[];
  duplicated: (PointRef & { files: string[] })[];
  /** Shard files that failed the sweep schema: name and errors (their points count as missing). */
  invalid: { file: string; errors: string[] }[];
  /** How many points the grid has. */
  total: number;
}

/** A shard of another sweep (a different grid or base config): the merge is refused. */
export class ForeignShardError extends UsageError {
  override name = 'ForeignShardError';
}

const SHARD_FILE = /^shard-(\d+)\.json$/;

/** DIR/shard-<i>.json, in order of i. */
export function shardFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => ({ name, m: SHARD_FILE.exec(name) }))
    .filter((e): e is { name: string; m: RegExpExecArray } => e.m !== null)
    .sort((a, b) => Number(a.m[1]) - Number(b.m[1]))
    .map((e) => join(dir, e.name));
}

/** A shard's fingerprint: the one it stores, after checking that it is the one its grid and base give (older reports: computed). */
function fingerprintOf(report: SweepReportJson, file: string): string {
  const computed = sweepFingerprint(report.grid as AnySweepGridSpec, report.base as MlpConfig | LstmConfig);
  if (report.fingerprint !== undefined && report.fingerprint !== computed) {
    throw new ForeignShardError(`${file}: its fingerprint ${report.fingerprint} is not that of its own grid and base config (${computed}): the file was edited; run its shard again`);
  }
  return computed;
}

/** Where two shard reports differ: `grid.gains: file [1,2], sweep [1,1.5,2]`. */
function describeDifferences(theirs: SweepReportJson, ours: SweepReportJson): string {
  const out: string[] = [];
  const compare = (name: string, a: unknown, b: unknown) => {
    if (canonical(a) !== canonical(b)) out.push(`${name}: file ${canonical(a)}, sweep ${canonical(b)}`);
  };
  const theirGrid = theirs.grid as Record<string, unknown>;
  const ourGrid = ours.grid as Record<string, unknown>;
  compare('grid.model', theirGrid.model, ourGrid.model);
  for (const key of ['depths', 'gains', 'activations', 'residualPerSqrtDepth', 'seqLens', 'forgetBiases']) {
    if (key in theirGrid || key in ourGrid) compare(`grid.${key}`, theirGrid[key], ourGrid[key]);
  }
  const a = theirs.base as Record<string, unknown>;
  const b = ours.base as Record<string, unknown>;
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) compare(`base.${key}`, a[key], b[key]);
  return out.join('; ');
}

const ref = (p: PointRef): PointRef =>
  p.model === 'lstm' ? { model: 'lstm', index: p.index, seqLen: p.seqLen, forgetBias: p.forgetBias, gain: p.gain } : { index: p.index, activation: p.activation, depth: p.depth, gain: p.gain };

/** `relu depth 4 gain 1.5 (#3)`, `lstm T 8 forget bias 1 gain 0.5 (#3)` */
export function describePointRef(p: PointRef): string {
  return p.model === 'lstm' ? `lstm T ${p.seqLen} forget bias ${p.forgetBias} gain ${p.gain} (#${p.index})` : `${p.activation} depth ${p.depth} gain ${p.gain} (#${p.index})`;
}

/**
 * Reads and checks the shard files of `dir` (or the files given) and merges
 * them. Throws ForeignShardError when a shard belongs to another sweep (or to
 * none: `expectedFingerprint`), UsageError when there is nothing to merge.
 */
export function mergeShards(files: readonly string[], expectedFingerprint?: string): MergeResult {
  const valid: { file: string; report: SweepReportJson; fingerprint: string }[] = [];
  const invalid: MergeResult['invalid'] = [];
  for (const file of files) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      invalid.push({ file: basename(file), errors: [`not JSON: ${(error as Error).message}`] });
      continue;
    }
    const result = validateReport(json);
    if (!result.ok) invalid.push({ file: basename(file), errors: result.errors });
    else if (result.kind !== 'sweep') invalid.push({ file: basename(file), errors: [`schema: a ${result.kind} report, not a gradstorm.sweep/1 shard`] });
    else valid.push({ file: basename(file), report: result.report, fingerprint: fingerprintOf(result.report, file) });
  }
  if (valid.length === 0) {
    const why = invalid.length ? `: ${invalid.map((i) => `${i.file}: ${i.errors[0]}`).join('; ')}` : '';
    throw new UsageError(`no valid shard report to merge (${files.length} shard file(s))${why}`);
  }
  const reference = expectedFingerprint === undefined ? valid[0] : valid.find((v) => v.fingerprint === expectedFingerprint);
  const foreign = valid.filter((v) => v.fingerprint !== (expectedFingerprint ?? reference?.fingerprint));
  if (foreign.length) {
    const against = reference ?? null;
    const lines = foreign.map((f) => `${f.file} (${f.fingerprint}${against ? `; ${describeDifferences(f.report, against.report)}` : ''})`);
    const expected = expectedFingerprint ? `sweep ${expectedFingerprint}` : `the sweep of ${reference?.file} (${reference?.fingerprint})`;
    throw new ForeignShardError(
      `refusing to merge: ${foreign.length} shard file(s) belong to another sweep than ${expected}: ${lines.join('; ')}. ` +
        'Move them out of the folder (or run them again with this sweep\'s flags) and merge again',
    );
  }
  const { report: first } = valid[0];
  const grid = first.grid as AnySweepGridSpec;
  const all: AnyGridPoint[] = anySweepGrid({ ...grid, shard: { index: 0, count: 1 } });
  const byKey = new Map<string, { point: AnySweepPoint; files: string[] }>();
  for (const { file, report } of valid) {
    for (const p of report.points as AnySweepPoint[]) {
      const seen = byKey.get(anyPointKey(p));
      if (seen) seen.files.push(file);
      else byKey.set(anyPointKey(p), { point: p, files: [file] });
    }
  }
  const wanted = new Set(all.map(anyPointKey));
  const stray = [...byKey.values()].filter((e) => !wanted.has(anyPointKey(e.point)));
  if (stray.length) {
    throw new ForeignShardError(`refusing to merge: ${stray.map((s) => `${s.files[0]} holds ${describePointRef(s.point)}, which is not a point of its grid`).join('; ')}`);
  }
  const points = all.flatMap((g) => byKey.get(anyPointKey(g))?.point ?? []);
  const missing = all.filter((g) => !byKey.has(anyPointKey(g))).map(ref);
  const duplicated = all.flatMap((g) => {
    const e = byKey.get(anyPointKey(g));
    return e && e.files.length > 1 ? [{ ...ref(g), files: e.files }] : [];
  });
  // An unreadable shard file makes the merge incomplete even when its points happen to be elsewhere: the exit code says 1, so the file says so too.
  const incomplete = missing.length > 0 || duplicated.length > 0 || invalid.length > 0;
  const document: SweepReportJson = {
    schema: 'gradstorm.sweep/1',
    version: first.version,
    adapter: first.adapter,
    base: first.base,
    grid: first.grid,
    shard: { index: 0, count: 1 },
    points,
    fingerprint: valid[0].fingerprint,
    merge: { shards: valid.map((v) => v.file), missing, duplicated },
    ...(incomplete ? { incomplete: true as const } : {}),
  };
  return { document, shards: valid.map((v) => v.file), missing, duplicated, invalid, total: all.length };
}

/** `gradstorm merge DIR [--json FILE] [--csv FILE] [--fingerprint F]`: 0 complete, 1 incomplete (written all the same), 2 refused. */
export function commandMerge(args: string[], printHelp: () => number): number {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { ...COMMON_OPTIONS, json: { type: 'string' }, csv: { type: 'string' }, fingerprint: { type: 'string' }, quiet: { type: 'boolean' } },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}. Run 'gradstorm --help' for the flags.`);
  }
  const { values, positionals: positional } = parsed;
  if (values.help) return printHelp();
  if (positional.length !== 1) throw new UsageError(`merge takes one folder (the --out DIR of sweep --slurm, holding shard-<i>.json), got ${positional.length === 0 ? 'none' : positional.join(' ')}`);
  if (values.fingerprint !== undefined && !/^sha256:[0-9a-f]{64}$/.test(values.fingerprint)) throw new UsageError(`--fingerprint ${values.fingerprint}: expected sha256:<64 hex digits>, as a shard report's "fingerprint" field holds it`);
  const dir = resolve(positional[0]);
  const json = values.json ?? join(dir, 'sweep.json');
  const csv = values.csv ?? json.replace(/\.json$/i, '') + '.csv';
  checkOutputPaths([json, csv]);
  const files = shardFiles(dir);
  if (files.length === 0) throw new UsageError(`merge: no shard-<i>.json in ${dir}; a sweep's shards are written there by gradstorm sweep --slurm N --out ${positional[0]} (or --shard i/n --json ${positional[0]}/shard-i.json)`);
  const result = mergeShards(files, values.fingerprint);
  const { document, missing, duplicated, invalid, total } = result;
  writeJsonAtomic(json, document);
  writeTextAtomic(csv, sweepCsv(document.points as AnySweepPoint[]));
  if (!values.quiet) process.stdout.write(sweepTable(document.points as AnySweepPoint[]) + '\n');
  const adapters = new Set(files.map((f) => JSON.stringify(tryAdapter(f))).filter((a) => a !== 'null'));
  if (adapters.size > 1) process.stderr.write(`merge: note: the shards ran on ${adapters.size} different adapters; the merged report names the first one's\n`);
  for (const i of invalid) process.stderr.write(`merge: ${i.file} is not a valid sweep shard (its points count as missing): ${i.errors.join('; ')}\n`);
  if (missing.length) process.stderr.write(`merge: ${missing.length} of ${total} point(s) missing: ${missing.map(describePointRef).join(', ')}\n`);
  for (const d of duplicated) process.stderr.write(`merge: ${describePointRef(d)} is in ${d.files.length} shard files (${d.files.join(', ')}); the first one's is kept\n`);
  const summary = `${document.points.length} of ${total} point(s) from ${result.shards.length} shard file(s) → ${json}, ${csv}`;
  if (missing.length === 0 && duplicated.length === 0 && invalid.length === 0) {
    process.stderr.write(`merge: ${summary}\n`);
    return 0;
  }
  process.stderr.write(
    `merge: INCOMPLETE: ${summary} (written, marked "incomplete": true). Run the missing points with the sweep's command and --resume ` +
      '(gradstorm sweep … --slurm N --out DIR --resume), then merge again\n',
  );
  return 1;
}

function tryAdapter(file: string): unknown {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { adapter?: unknown }).adapter ?? null;
  } catch {
    return null;
  }
}
