/**
 * `gradstorm sweep … --slurm N --out DIR`: a sweep as a Slurm array job.
 * Task i of the array runs `gradstorm sweep --shard i/N --json
 * DIR/shard-i.json --resume` with the same grid and flags; a merge job
 * (`gradstorm merge DIR`), submitted with `--dependency=afterok:<array>`,
 * puts the shards back together into the JSON and CSV of a one-process sweep.
 *
 * The node binary and bin/gradstorm.js are named by absolute path, so a
 * compute node that sees the same file system (a cluster's shared home or
 * project folder) runs the same engine; DIR must be on that shared file
 * system too (the tasks write there, the merge and `--wait` read there).
 *
 * The same pattern as a Kubernetes Indexed Job (`JOB_COMPLETION_INDEX` →
 * `--shard`) is {@link kubernetesIndexedJob}.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { RuntimeFlags } from './chrome.ts';
import { COMMON_OPTIONS, UsageError, intFlag, parse } from './flags.ts';
import { ensureRuntimePage } from '../runtime/page-build.ts';
import { checkOutputPaths, writeTextAtomic } from './io.ts';
import { ANY_SWEEP_OPTIONS, anySweepGrid, parseSweepCommand, sweepFingerprint, sweepGridSpec, type AnySweepCommand, type AnySweepGridSpec } from './sweep.ts';
import type { MlpConfig } from '../models/config.ts';
import type { LstmConfig } from '../models/lstm.ts';
import { validateReport } from '../report/schema.ts';
import { shardFiles } from './merge.ts';

export const SLURM_HELP = `          On a cluster: --slurm N --out DIR submits the sweep as a Slurm array
          job of N tasks (task i runs --shard i/N, writing DIR/shard-i.json;
          DIR/sweep.sbatch) and a merge job after it (afterok; DIR/merge.sbatch,
          gradstorm merge DIR: DIR/sweep.json and .csv, or --json/--csv); it
          prints both job ids and how to watch them.
            --slurm-args "…"     passed to sbatch as given (partition, time,
                                 --gres=gpu:1; the merge job gets them without
                                 the GPU requests)
            --wait               show points finished/total until the merge
                                 ends; exit with the merge's status
            --dry-run            print the scripts and sbatch commands; submit nothing
            --resume             resubmit only the shards whose points are missing
          Without sbatch on PATH: exit 1, saying to install Slurm or use --dry-run.
`;

/** The flags that make a sweep a Slurm job, taken out before the sweep's own flags are parsed. */
export interface SlurmFlags {
  /** --slurm N: tasks in the array (shards). */
  tasks: number;
  /** --out DIR, as given. */
  out: string;
  /** --slurm-args, split into words as a shell would. */
  slurmArgs: string[];
  wait: boolean;
  dryRun: boolean;
}

/** sbatch (or squeue) is not on PATH: exit 1 with what to install. */
export class SlurmUnavailableError extends Error {
  override name = 'SlurmUnavailableError';
}

/**
 * Takes --slurm, --out, --slurm-args, --wait and --dry-run out of sweep's
 * arguments (--slurm-args's value is taken as is, even when it starts with
 * `--`). Without --slurm, the others are refused.
 */
export function extractSlurmFlags(args: readonly string[]): { slurm: SlurmFlags | null; rest: string[] } {
  const rest: string[] = [];
  const values: Record<string, string> = {};
  let wait = false;
  let dryRun = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const m = /^--(slurm|out|slurm-args)(?:=([\s\S]*))?$/.exec(arg);
    if (m) {
      const value = m[2] ?? args[++i];
      if (value === undefined || (m[1] !== 'slurm-args' && m[2] === undefined && value.startsWith('--'))) {
        throw new UsageError(`--${m[1]} needs a value${m[1] === 'slurm' ? ': the number of array tasks (shards)' : m[1] === 'out' ? ': the folder for the shards, scripts and logs' : ': the sbatch options, quoted, e.g. --slurm-args "--partition=gpu --gres=gpu:1"'}`);
      }
      values[m[1]] = value;
    } else if (arg === '--wait') wait = true;
    else if (arg === '--dry-run') dryRun = true;
    else rest.push(arg);
  }
  if (values.slurm === undefined) {
    const stray = ['out', 'slurm-args'].filter((k) => values[k] !== undefined).map((k) => `--${k}`).concat(wait ? ['--wait'] : [], dryRun ? ['--dry-run'] : []);
    if (stray.length) throw new UsageError(`${stray.join(', ')} appl${stray.length > 1 ? 'y' : 'ies'} to sweep --slurm N --out DIR; add --slurm N or drop ${stray.length > 1 ? 'them' : 'it'}`);
    return { slurm: null, rest };
  }
  if (values.out === undefined) throw new UsageError('--slurm N needs --out DIR: the folder (on a file system the compute nodes share) for the shards, scripts, logs and the merged sweep');
  const slurmArgs = splitShellWords(values['slurm-args'] ?? '', '--slurm-args');
  const array = slurmArgs.find((a) => /^(--array|-a)(=|$)/.test(a));
  if (array) throw new UsageError(`--slurm-args ${array}: --slurm N sets the array (0-(N−1)); drop --array from --slurm-args`);
  return { slurm: { tasks: intFlag('slurm', values.slurm, 1, 100_000), out: values.out, slurmArgs, wait, dryRun }, rest };
}

/** Words as a POSIX shell splits them: blanks separate, '…' and "…" quote, \ escapes. */
export function splitShellWords(text: string, flag: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (/\s/.test(c)) {
      if (word !== null) words.push(word);
      word = null;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new UsageError(`${flag}: unterminated ' in ${text}`);
      word = (word ?? '') + text.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      let quoted = '';
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === '\\' && j + 1 < text.length && '"\\$`'.includes(text[j + 1])) quoted += text[++j];
        else quoted += text[j];
      }
      if (j >= text.length) throw new UsageError(`${flag}: unterminated " in ${text}`);
      word = (word ?? '') + quoted;
      i = j;
    } else if (c === '\\' && i + 1 < text.length) {
      word = (word ?? '') + text[++i];
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== null) words.push(word);
  return words;
}

/** A word quoted for a POSIX shell (left bare when it is safe). */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_\/.,:=+@%^-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Options that ask for GPUs: the merge job needs none, so it is submitted without them. */
const GPU_OPTIONS = /^(--gres|--gpus|--gpus-per-node|--gpus-per-task|--gpus-per-socket|--gpu-bind|--gpu-freq|--cpus-per-gpu|--mem-per-gpu|-G)(=|$)/;

/** --slurm-args without its GPU requests (an option's separate value goes with it). */
export function withoutGpuRequests(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const m = GPU_OPTIONS.exec(args[i]);
    if (!m) out.push(args[i]);
    else if (m[2] === '' && i + 1 < args.length && !args[i + 1].startsWith('-')) i++;
  }
  return out;
}

/** `args` without the named sweep flags (and their values), as parseArgs reads them. */
export function withoutFlags(args: readonly string[], names: readonly string[]): string[] {
  const { tokens } = parseArgs({ args: [...args], options: { ...ANY_SWEEP_OPTIONS, ...COMMON_OPTIONS }, strict: false, allowPositionals: true, tokens: true });
  const drop = new Set<number>();
  for (const t of tokens) {
    if (t.kind !== 'option' || !names.includes(t.name)) continue;
    drop.add(t.index);
    if (t.value !== undefined && !t.inlineValue) drop.add(t.index + 1);
  }
  return args.filter((_, i) => !drop.has(i));
}

/** Everything the scripts say: paths absolute, the sweep's own flags as given. */
export interface SlurmSweepPlan {
  /** Tasks in the array (shards). */
  tasks: number;
  /** The shards' folder (absolute). */
  dir: string;
  /** The merged report and CSV (absolute). */
  json: string;
  csv: string;
  /** The node binary and bin/gradstorm.js (absolute), as the compute nodes will run them. */
  node: string;
  bin: string;
  /** The working folder of the jobs (where relative paths in the flags point). */
  cwd: string;
  /** The sweep's grid and stress flags, and --runtime etc.: what every task passes to gradstorm sweep. */
  sweepArgs: string[];
  /** The grid's fingerprint: the merge refuses shards of another sweep. */
  fingerprint: string;
  /** Points in the grid. */
  points: number;
}

/** DIR/sweep.sbatch: the array job. */
export function sweepSbatchScript(plan: SlurmSweepPlan): string {
  const q = shellQuote;
  const sweep = [plan.node, plan.bin, 'sweep', ...plan.sweepArgs].map(q).join(' ');
  return [
    '#!/bin/bash',
    `# gradstorm sweep as a Slurm array job, written by gradstorm sweep --slurm ${plan.tasks}.`,
    `# Task i runs points i, i+${plan.tasks}, i+${2 * plan.tasks}, … of the grid (${plan.points} points): gradstorm sweep --shard i/${plan.tasks},`,
    `# writing ${join(plan.dir, 'shard-i.json')} (and .csv) point by point; --resume makes a task run again`,
    '# (sbatch --array=<i,…>) do only the points its file lacks. The merge job (merge.sbatch) runs after all succeed.',
    `# Sweep fingerprint (grid and base flags): ${plan.fingerprint}`,
    '#SBATCH --job-name=gradstorm-sweep',
    `#SBATCH --array=0-${plan.tasks - 1}`,
    '#SBATCH --ntasks=1',
    `#SBATCH --output=${join(plan.dir, 'slurm-%A_%a.out')}`,
    `#SBATCH --chdir=${plan.cwd}`,
    'set -eu',
    `exec ${sweep} \\`,
    `  --shard "$SLURM_ARRAY_TASK_ID/${plan.tasks}" --json ${q(plan.dir)}"/shard-$SLURM_ARRAY_TASK_ID.json" --resume`,
    '',
  ].join('\n');
}

/** DIR/merge.sbatch: the merge job; it leaves its exit code in DIR/merge.exit for --wait. */
export function mergeSbatchScript(plan: SlurmSweepPlan): string {
  const q = shellQuote;
  const merge = [plan.node, plan.bin, 'merge', plan.dir, '--json', plan.json, '--csv', plan.csv, '--fingerprint', plan.fingerprint].map(q).join(' ');
  const exit = join(plan.dir, 'merge.exit');
  return [
    '#!/bin/bash',
    '# Merges the shards of the gradstorm sweep array job (submitted with --dependency=afterok:<array job>)',
    `# into ${plan.json} and ${plan.csv}: the files one process running the whole grid writes.`,
    '#SBATCH --job-name=gradstorm-merge',
    '#SBATCH --ntasks=1',
    `#SBATCH --output=${join(plan.dir, 'slurm-merge-%j.out')}`,
    `#SBATCH --chdir=${plan.cwd}`,
    `${merge} && code=0 || code=$?`,
    `echo "$code" > ${q(exit + '.tmp')} && mv ${q(exit + '.tmp')} ${q(exit)}`,
    'exit "$code"',
    '',
  ].join('\n');
}

/** What to run a Kubernetes Indexed Job with. */
export interface KubernetesJobOptions {
  /** The container image that has node and gradstorm (`npm install -g gradstorm`) on its PATH. */
  image: string;
  /** Pods (shards). */
  tasks: number;
  /** The sweep's grid and stress flags. */
  sweepArgs: string[];
  /** Where the shared volume is mounted in the pods, and the sweep's folder in it. */
  mountPath: string;
  dir: string;
  /** The PersistentVolumeClaim (ReadWriteMany) all pods mount. */
  claim: string;
  /** GPUs per pod (nvidia.com/gpu); 0 for none. */
  gpus: number;
  /** Job name prefix: the Jobs are <name>-sweep and <name>-merge. */
  name: string;
}

/**
 * The same pattern on Kubernetes: an Indexed Job of N pods, pod i running
 * `gradstorm sweep --shard $JOB_COMPLETION_INDEX/N --json DIR/shard-i.json
 * --resume` on a shared volume (a retried pod resumes its shard), and a
 * merge Job to apply once the first has completed (Jobs have no
 * dependencies: `kubectl wait` in between). Two YAML documents.
 */
export function kubernetesIndexedJob(o: KubernetesJobOptions): { sweep: string; merge: string } {
  const sweep = ['gradstorm', 'sweep', ...o.sweepArgs].map(shellQuote).join(' ');
  const shell = `exec ${sweep} --shard "$JOB_COMPLETION_INDEX/${o.tasks}" --json ${shellQuote(o.dir)}"/shard-$JOB_COMPLETION_INDEX.json" --resume`;
  const merge = ['gradstorm', 'merge', o.dir, '--json', `${o.dir}/sweep.json`, '--csv', `${o.dir}/sweep.csv`];
  const s = JSON.stringify;
  const pod = (container: string, command: string[], gpus: number) => [
    '  template:',
    '    spec:',
    '      restartPolicy: Never',
    '      containers:',
    `        - name: ${container}`,
    `          image: ${s(o.image)}`,
    `          command: [${command.map((c) => s(c)).join(', ')}]`,
    ...(gpus > 0 ? ['          resources:', '            limits:', `              nvidia.com/gpu: ${gpus}`] : []),
    '          volumeMounts:',
    '            - name: sweep',
    `              mountPath: ${s(o.mountPath)}`,
    '      volumes:',
    '        - name: sweep',
    '          persistentVolumeClaim:',
    `            claimName: ${s(o.claim)}`,
  ];
  return {
    sweep: [
      `# gradstorm sweep as a Kubernetes Indexed Job: pod i (JOB_COMPLETION_INDEX) runs shard i/${o.tasks}`,
      `# (points i, i+${o.tasks}, i+${2 * o.tasks}, …), writing ${o.dir}/shard-i.json on a shared (ReadWriteMany) volume.`,
      `#   kubectl apply -f sweep.yaml && kubectl wait --for=condition=complete job/${o.name}-sweep --timeout=24h`,
      'apiVersion: batch/v1',
      'kind: Job',
      'metadata:',
      `  name: ${o.name}-sweep`,
      'spec:',
      '  completionMode: Indexed',
      `  completions: ${o.tasks}`,
      `  parallelism: ${o.tasks}`,
      `  backoffLimit: ${2 * o.tasks}`,
      ...pod('sweep', ['sh', '-c', shell], o.gpus),
      '',
    ].join('\n'),
    merge: [
      '# The merge, the same step as on Slurm: apply once the sweep Job is complete.',
      `#   kubectl apply -f merge.yaml && kubectl wait --for=condition=complete job/${o.name}-merge`,
      'apiVersion: batch/v1',
      'kind: Job',
      'metadata:',
      `  name: ${o.name}-merge`,
      'spec:',
      '  backoffLimit: 0',
      ...pod('merge', merge, 0),
      '',
    ].join('\n'),
  };
}

/** The README's example (section "Sweeps on a cluster"); a unit test keeps the README equal to what it makes. */
export const KUBERNETES_EXAMPLE: KubernetesJobOptions = {
  image: 'ghcr.io/you/gradstorm:0.2.0',
  tasks: 4,
  sweepArgs: ['--depths', '10,50,100,200', '--gains', '0.8:2.0:0.1', '--activations', 'relu,tanh', '--width', '256', '--batch', '32'],
  mountPath: '/data',
  dir: '/data/sweeps/phase',
  claim: 'sweeps',
  gpus: 1,
  name: 'gradstorm-phase',
};

/** The package's bin/gradstorm.js, found from this module (src/cli in a checkout, dist/src/cli when built). */
export function gradstormBin(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const bin = join(dir, 'bin', 'gradstorm.js');
    if (existsSync(bin) && existsSync(join(dir, 'package.json'))) return bin;
    if (dirname(dir) === dir) throw new Error(`bin/gradstorm.js not found above ${fileURLToPath(import.meta.url)} (a bug)`);
    dir = dirname(dir);
  }
}

/** Where `name` is on PATH, or null. */
function which(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return null;
}

/** The runtime flags main() took out, given back to the tasks (--headed refused: compute nodes have no display). */
function runtimeArgs(runtime: RuntimeFlags): string[] {
  if (runtime.headed) throw new UsageError('--headed with --slurm: the tasks run on compute nodes without a display; leave --headed out (Chrome runs headless there)');
  if (runtime.runtime !== 'chrome') return [];
  return ['--runtime', 'chrome', ...(runtime.browser !== undefined ? ['--browser', isAbsolute(runtime.browser) ? runtime.browser : resolve(runtime.browser)] : [])];
}

/** What DIR holds for each shard: its points, or why it cannot be resumed. */
interface ShardState {
  index: number;
  expected: number;
  done: number;
}

/**
 * The shard files already in DIR, checked against this sweep: the same
 * fingerprint and task count, else refused (UsageError, exit 2).
 */
function existingShards(plan: SlurmSweepPlan, command: AnySweepCommand, resume: boolean): ShardState[] {
  const how = resume ? 'resume with the flags it was started with' : 'use the flags it was started with (and --resume)';
  const found = new Map<number, number>();
  for (const file of shardFiles(plan.dir)) {
    const index = Number(/shard-(\d+)\.json$/.exec(file)?.[1]);
    // A file its task would refuse to resume: said now, not in a job log.
    const refuse = (why: string) => new UsageError(`${file} is not a sweep shard report (${why}): delete it to run that shard again, or choose another --out`);
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw refuse(`not JSON: ${(error as Error).message}`);
    }
    const result = validateReport(json);
    if (!result.ok || result.kind !== 'sweep') throw refuse(result.ok ? `a ${result.kind} report` : result.errors.join('; '));
    const report = result.report;
    const theirs = report.fingerprint ?? sweepFingerprint(report.grid as AnySweepGridSpec, report.base as MlpConfig | LstmConfig);
    if (theirs !== plan.fingerprint) {
      throw new UsageError(`${plan.dir} holds ${file}, a shard of another sweep (fingerprint ${theirs}, this command's ${plan.fingerprint}): ${how}, or choose another --out`);
    }
    if (report.shard.count !== plan.tasks || report.shard.index !== index) {
      throw new UsageError(`${file} is shard ${report.shard.index}/${report.shard.count}, but this command makes ${plan.tasks} shards: run it with --slurm ${report.shard.count}, or choose another --out`);
    }
    // Error points count as missing: the task reruns them (sweep --resume does).
    found.set(index, report.points.filter((p) => p.status !== 'error').length);
  }
  return Array.from({ length: plan.tasks }, (_, index) => ({
    index,
    expected: anySweepGrid({ ...command, shard: { index, count: plan.tasks } }).length,
    done: found.get(index) ?? 0,
  }));
}

/** Points finished so far, over every shard file in DIR (what --wait shows). */
export function pointsFinished(dir: string): number {
  let done = 0;
  for (const file of shardFiles(dir)) {
    try {
      const points = (JSON.parse(readFileSync(file, 'utf8')) as { points?: unknown }).points;
      if (Array.isArray(points)) done += points.length;
    } catch {
      // being replaced (writes are atomic renames, so this is rare): counted next time
    }
  }
  return done;
}

function sbatch(args: string[]): string {
  const r = spawnSync('sbatch', args, { encoding: 'utf8' });
  if (r.error) throw new SlurmUnavailableError(`sbatch: ${r.error.message}`);
  if (r.status !== 0) throw new SlurmUnavailableError(`sbatch ${args.join(' ')} failed (exit ${r.status}): ${r.stderr.trim() || r.stdout.trim()}`);
  // --parsable prints "<job id>" or "<job id>;<cluster>".
  const id = r.stdout.trim().split(';')[0];
  if (!/^\d+$/.test(id)) throw new SlurmUnavailableError(`sbatch --parsable printed '${r.stdout.trim()}', not a job id`);
  return id;
}

/**
 * `gradstorm sweep … --slurm N --out DIR`: writes the scripts, submits the
 * array and the merge (or prints them with --dry-run), and with --wait
 * follows them to the end. Exit code: 0 submitted (or, with --wait, the
 * merge's exit code), 1 Slurm missing or a job failed, 2 bad flags.
 */
export async function commandSlurmSweep(slurm: SlurmFlags, args: string[], runtime: RuntimeFlags, printHelp: () => number): Promise<number> {
  const { values } = parse(args, ANY_SWEEP_OPTIONS);
  if (values.help) return printHelp();
  if (values.shard !== undefined) throw new UsageError(`--shard applies to one shard; --slurm ${slurm.tasks} makes the shards (task i runs --shard i/${slurm.tasks})`);
  const sweepArgs = withoutFlags(args, ['json', 'csv', 'resume', 'shard']);
  const command = parseSweepCommand(sweepArgs);
  const points = anySweepGrid({ ...command, shard: { index: 0, count: 1 } }).length;
  if (slurm.tasks > points) throw new UsageError(`--slurm ${slurm.tasks}: the grid has ${points} point(s), so at most ${points} tasks`);
  const dir = resolve(slurm.out);
  const json = resolve(values.json ?? join(dir, 'sweep.json'));
  const csv = resolve(values.csv ?? json.replace(/\.json$/i, '') + '.csv');
  const plan: SlurmSweepPlan = {
    tasks: slurm.tasks, dir, json, csv, node: process.execPath, bin: gradstormBin(), cwd: process.cwd(),
    sweepArgs: [...sweepArgs, ...runtimeArgs(runtime)], fingerprint: sweepFingerprint(sweepGridSpec(command), command.base), points,
  };
  const shards = existingShards(plan, command, values.resume ?? false);
  const started = shards.filter((s) => s.done > 0 || existsSync(join(dir, `shard-${s.index}.json`)));
  if (!values.resume && started.length) {
    throw new UsageError(`${dir} already holds ${started.length} shard file(s) of this sweep: add --resume to run only the missing points, or choose another --out`);
  }
  const todo = shards.filter((s) => s.done < s.expected).map((s) => s.index);
  const arrayOverride = values.resume && todo.length < slurm.tasks ? [`--array=${todo.join(',') || '0'}`] : [];
  const sweepScript = join(dir, 'sweep.sbatch');
  const mergeScript = join(dir, 'merge.sbatch');
  const mergeArgs = withoutGpuRequests(slurm.slurmArgs);
  const arrayCommand = ['sbatch', '--parsable', ...arrayOverride, ...slurm.slurmArgs, sweepScript];
  const mergeCommand = (dependency: string | null) => ['sbatch', '--parsable', ...(dependency ? [`--dependency=afterok:${dependency}`] : []), ...mergeArgs, mergeScript];
  if (slurm.dryRun) {
    process.stdout.write(`# ${sweepScript}\n${sweepSbatchScript(plan)}\n# ${mergeScript}\n${mergeSbatchScript(plan)}\n`);
    if (todo.length) process.stdout.write(`# submit (not done: --dry-run)\n${arrayCommand.map(shellQuote).join(' ')}\n${mergeCommand('<array job id>').map(shellQuote).join(' ')}\n`);
    else process.stdout.write(`# every shard is complete: only the merge\n${mergeCommand(null).map(shellQuote).join(' ')}\n`);
    return 0;
  }
  if (!which('sbatch')) {
    throw new SlurmUnavailableError(
      'sweep --slurm: sbatch is not on PATH. Run this on a Slurm cluster\'s login node, or install Slurm (Debian/Ubuntu: apt-get install slurm-wlm munge; ' +
        'a one-node test cluster: scripts/slurm-local.sh up in a gradstorm checkout), or add --dry-run to print the scripts without submitting',
    );
  }
  checkOutputPaths([sweepScript, json, csv]);
  // Chrome tasks serve the runtime page: build it here, once, rather than N tasks rebuilding one folder at the same time.
  if (runtime.runtime === 'chrome') await ensureRuntimePage({ say: (text) => process.stderr.write(text) });
  mkdirSync(dir, { recursive: true });
  writeTextAtomic(sweepScript, sweepSbatchScript(plan));
  writeTextAtomic(mergeScript, mergeSbatchScript(plan));
  rmSync(join(dir, 'merge.exit'), { force: true });
  let arrayId: string | null = null;
  if (todo.length) {
    arrayId = sbatch(arrayCommand.slice(1));
    process.stderr.write(`submitted array job ${arrayId}: ${todo.length} task(s) (shard${todo.length > 1 ? 's' : ''} ${todo.join(',')} of ${slurm.tasks}) over ${points} point(s)${values.resume ? `, ${shards.reduce((n, s) => n + s.done, 0)} already done` : ''}\n`);
  } else {
    process.stderr.write(`every shard in ${dir} is complete: submitting only the merge\n`);
  }
  let mergeId: string;
  try {
    mergeId = sbatch(mergeCommand(arrayId).slice(1));
  } catch (error) {
    throw new SlurmUnavailableError(`${(error as Error).message}; the array job ${arrayId} is queued: merge by hand when it ends (gradstorm merge ${dir})`);
  }
  const ids = [arrayId, mergeId].filter((id) => id !== null).join(',');
  process.stderr.write(
    `submitted merge job ${mergeId}${arrayId ? ` (runs when array job ${arrayId} has succeeded)` : ''} → ${json}, ${csv}\n` +
      `watch: squeue -j ${ids}    after: sacct -j ${ids} --format=JobID,JobName,State,ExitCode,Elapsed\n` +
      `logs: ${join(dir, arrayId ? `slurm-${arrayId}_<task>.out` : 'slurm-<job>_<task>.out')}, ${join(dir, `slurm-merge-${mergeId}.out`)}\n`,
  );
  process.stdout.write(`${arrayId ?? '-'} ${mergeId}\n`);
  if (!slurm.wait) return 0;
  return waitForMerge(plan, arrayId, mergeId);
}

/** squeue's view of a job: state and reason, or null once it has left the queue. */
function queueState(id: string): { state: string; reason: string } | null {
  const r = spawnSync('squeue', ['-h', '-j', id, '-o', '%T|%r'], { encoding: 'utf8' });
  if (r.error) throw new SlurmUnavailableError(`squeue: ${r.error.message}`);
  const line = r.stdout.trim().split('\n')[0] ?? '';
  if (r.status !== 0 || line === '') return null;
  const [state, reason] = line.split('|');
  return { state, reason: reason ?? '' };
}

/** sacct's word on a finished job (where accounting is on): its state and exit code. */
function accountedExit(id: string): { state: string; code: number } | null {
  const r = spawnSync('sacct', ['-n', '-X', '-P', '-j', id, '-o', 'State,ExitCode'], { encoding: 'utf8' });
  const line = r.status === 0 ? r.stdout.trim().split('\n')[0] : '';
  const m = /^([A-Z_]+)[^|]*\|(\d+):(\d+)$/.exec(line ?? '');
  return m ? { state: m[1], code: Number(m[2]) || (m[1] === 'COMPLETED' ? 0 : 1) } : null;
}

/**
 * --wait: points finished / total from the shard files until the merge job
 * ends; its exit code (from DIR/merge.exit, else sacct). A shard that fails
 * leaves the merge pending forever (DependencyNeverSatisfied): it is
 * cancelled, the failed shards' logs named, and the exit code is 1.
 */
async function waitForMerge(plan: SlurmSweepPlan, arrayId: string | null, mergeId: string): Promise<number> {
  const exitFile = join(plan.dir, 'merge.exit');
  const started = performance.now();
  let lastDone = -1;
  let goneSince: number | null = null;
  let failedSince: number | null = null;
  let stop = false;
  const onSignal = () => {
    stop = true;
  };
  process.once('SIGINT', onSignal);
  try {
    for (;;) {
      const elapsed = (performance.now() - started) / 1000;
      const done = pointsFinished(plan.dir);
      if (done !== lastDone || process.stderr.isTTY) {
        const width = 24;
        const filled = Math.round((Math.min(done, plan.points) / plan.points) * width);
        const text = `${done}/${plan.points} point(s)  ${elapsed.toFixed(0)} s`;
        if (process.stderr.isTTY) process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}\x1b[K`);
        else if (done !== lastDone) process.stderr.write(`  ${text}\n`);
        lastDone = done;
      }
      if (existsSync(exitFile)) {
        if (process.stderr.isTTY) process.stderr.write('\n');
        const code = Number(readFileSync(exitFile, 'utf8').trim());
        const log = join(plan.dir, `slurm-merge-${mergeId}.out`);
        if (existsSync(log)) process.stdout.write(readFileSync(log, 'utf8'));
        process.stderr.write(`merge job ${mergeId} exited ${code} after ${elapsed.toFixed(1)} s${code === 0 ? `: ${plan.json}, ${plan.csv}` : ''}\n`);
        return Number.isInteger(code) ? code : 1;
      }
      if (stop) {
        process.stderr.write(`\nstopped waiting; the jobs go on (squeue -j ${[arrayId, mergeId].filter(Boolean).join(',')})\n`);
        return 130;
      }
      const merge = queueState(mergeId);
      // A failed task: Slurm marks the merge DependencyNeverSatisfied, but only on its next scheduling pass;
      // the array gone from the queue while shard files lack points says the same sooner (after a grace
      // period for a shared file system to show the last writes).
      const arrayFailed = arrayId !== null && merge?.state === 'PENDING' && queueState(arrayId) === null && shardFilesMissingPoints(plan).length > 0;
      failedSince = arrayFailed ? (failedSince ?? performance.now()) : null;
      if (merge?.reason === 'DependencyNeverSatisfied' || (failedSince !== null && performance.now() - failedSince > 2000)) {
        spawnSync('scancel', [mergeId]);
        const failed = shardFilesMissingPoints(plan);
        process.stderr.write(
          `\na task of array job ${arrayId} failed, so merge job ${mergeId} could never run (cancelled). Shards without all their points: ${failed.join(', ') || 'none'}; ` +
            `logs: ${join(plan.dir, `slurm-${arrayId}_<task>.out`)}. Fix the cause, then run the same command with --resume\n`,
        );
        return 1;
      }
      if (merge === null) {
        goneSince ??= performance.now();
        // The exit file is written just before the job ends; give a shared file system a moment to show it.
        if (performance.now() - goneSince > 5000) {
          const acct = accountedExit(mergeId);
          process.stderr.write(`\nmerge job ${mergeId} left the queue without writing ${exitFile}${acct ? ` (sacct: ${acct.state}, exit ${acct.code})` : ' (cancelled, or it failed to start)'}\n`);
          return acct && acct.code !== 0 ? acct.code : 1;
        }
      } else goneSince = null;
      // Poll gently: every 0.5 s at first, at most every 10 s on a long sweep (squeue queries the controller).
      await new Promise((r) => setTimeout(r, Math.min(10_000, 500 + elapsed * 20)));
    }
  } finally {
    process.off('SIGINT', onSignal);
  }
}

function shardFilesMissingPoints(plan: SlurmSweepPlan): string[] {
  const out: string[] = [];
  for (let index = 0; index < plan.tasks; index++) {
    const file = join(plan.dir, `shard-${index}.json`);
    let have = 0;
    try {
      const points = (JSON.parse(readFileSync(file, 'utf8')) as { points?: unknown[] }).points;
      have = Array.isArray(points) ? points.length : 0;
    } catch {
      have = 0;
    }
    const expected = Math.ceil((plan.points - index) / plan.tasks);
    if (have < expected) out.push(`shard ${index} (${have}/${expected})`);
  }
  return out;
}
