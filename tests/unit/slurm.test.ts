// Sweeps beyond one machine, without a cluster: the Slurm scripts and the
// Kubernetes manifest for a given grid (their text, and what a shell makes
// of them), the flag handling of sweep --slurm, the fingerprint, and the
// merge of shard reports (missing, duplicated, foreign, edited, invalid).
// tests/slurm/slurm.test.ts runs the same on a real one-node Slurm cluster.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  extractSlurmFlags,
  KUBERNETES_EXAMPLE,
  kubernetesIndexedJob,
  mergeSbatchScript,
  shellQuote,
  splitShellWords,
  sweepSbatchScript,
  withoutFlags,
  withoutGpuRequests,
  type SlurmSweepPlan,
} from '../../src/cli/slurm.ts';
import { ForeignShardError, mergeShards, shardFiles } from '../../src/cli/merge.ts';
import { parseSweep, readResumedPoints, sweepDocument, sweepFingerprint, sweepGrid, type SweepCommand, type SweepPoint } from '../../src/cli/sweep.ts';
import { validateReport } from '../../src/report/schema.ts';

const GRID = ['--depths', '3,4', '--gains', '1,1.5,2', '--width', '4', '--batch', '2', '--steps', '1'];

const plan: SlurmSweepPlan = {
  tasks: 3,
  dir: '/scratch/my sweep',
  json: '/scratch/my sweep/sweep.json',
  csv: '/scratch/my sweep/sweep.csv',
  node: '/usr/bin/node',
  bin: '/opt/gradstorm/bin/gradstorm.js',
  cwd: '/home/ada',
  sweepArgs: [...GRID, '--runtime', 'chrome', '--browser', "/opt/it's chrome"],
  fingerprint: `sha256:${'ab'.repeat(32)}`,
  points: 6,
};

function bash(script: string, env: Record<string, string> = {}) {
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('sweep --slurm: the array job script', () => {
  it('is the array 0-(N−1), each task running the same sweep on its shard into DIR/shard-<task>.json, by absolute paths', () => {
    expect(sweepSbatchScript(plan)).toBe(`#!/bin/bash
# gradstorm sweep as a Slurm array job, written by gradstorm sweep --slurm 3.
# Task i runs points i, i+3, i+6, … of the grid (6 points): gradstorm sweep --shard i/3,
# writing /scratch/my sweep/shard-i.json (and .csv) point by point; --resume makes a task run again
# (sbatch --array=<i,…>) do only the points its file lacks. The merge job (merge.sbatch) runs after all succeed.
# Sweep fingerprint (grid and base flags): sha256:${'ab'.repeat(32)}
#SBATCH --job-name=gradstorm-sweep
#SBATCH --array=0-2
#SBATCH --ntasks=1
#SBATCH --output=/scratch/my sweep/slurm-%A_%a.out
#SBATCH --chdir=/home/ada
set -eu
exec /usr/bin/node /opt/gradstorm/bin/gradstorm.js sweep --depths 3,4 --gains 1,1.5,2 --width 4 --batch 2 --steps 1 --runtime chrome --browser '/opt/it'\\''s chrome' \\
  --shard "$SLURM_ARRAY_TASK_ID/3" --json '/scratch/my sweep'"/shard-$SLURM_ARRAY_TASK_ID.json" --resume
`);
  });

  it('gives the task exactly these arguments when bash runs it (quoting survives)', () => {
    const printArgs = join(mkdtempSync(join(tmpdir(), 'gradstorm-slurm-unit-')), 'print-args');
    writeFileSync(printArgs, '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n');
    chmodSync(printArgs, 0o755);
    const r = bash(sweepSbatchScript({ ...plan, node: printArgs }), { SLURM_ARRAY_TASK_ID: '2' });
    expect(r.stderr).toBe('');
    expect(r.stdout.trimEnd().split('\n')).toEqual([
      plan.bin, 'sweep', ...plan.sweepArgs, '--shard', '2/3', '--json', '/scratch/my sweep/shard-2.json', '--resume',
    ]);
  });
});

describe('sweep --slurm: the merge job script', () => {
  it('merges DIR with the sweep\'s fingerprint and leaves its exit code in DIR/merge.exit', () => {
    const script = mergeSbatchScript(plan);
    expect(script).toContain('#SBATCH --job-name=gradstorm-merge\n');
    expect(script).toContain("\n/usr/bin/node /opt/gradstorm/bin/gradstorm.js merge '/scratch/my sweep' --json '/scratch/my sweep/sweep.json' --csv '/scratch/my sweep/sweep.csv' --fingerprint sha256:abab");
    for (const [node, code] of [['/bin/true', 0], ['/bin/false', 1]] as const) {
      const dir = mkdtempSync(join(tmpdir(), 'gradstorm-merge-script-'));
      const r = bash(mergeSbatchScript({ ...plan, dir, node }));
      expect(r.code).toBe(code);
      expect(readFileSync(join(dir, 'merge.exit'), 'utf8')).toBe(`${code}\n`);
    }
  });
});

describe('sweep --slurm: flags', () => {
  it('takes --slurm, --out, --slurm-args (its value as is), --wait and --dry-run out of sweep\'s flags', () => {
    const { slurm, rest } = extractSlurmFlags([...GRID, '--slurm', '3', '--out', 'runs/a', '--slurm-args', '--partition=gpu --gres=gpu:1 --job-name "my sweep"', '--wait', '--json', 'x.json']);
    expect(slurm).toEqual({ tasks: 3, out: 'runs/a', slurmArgs: ['--partition=gpu', '--gres=gpu:1', '--job-name', 'my sweep'], wait: true, dryRun: false });
    expect(rest).toEqual([...GRID, '--json', 'x.json']);
    expect(extractSlurmFlags([...GRID, '--shard', '1/2'])).toEqual({ slurm: null, rest: [...GRID, '--shard', '1/2'] });
  });

  it.each([
    [['--wait'], /--wait applies to sweep --slurm N --out DIR; add --slurm N or drop it/],
    [['--out', 'd', '--dry-run'], /--out, --dry-run apply to sweep --slurm N --out DIR/],
    [['--slurm', '3'], /--slurm N needs --out DIR/],
    [['--slurm', '0', '--out', 'd'], /--slurm: '0' is not an integer/],
    [['--slurm', '2', '--out', 'd', '--slurm-args', '--array=0-9%2'], /--slurm N sets the array .*drop --array/],
    [['--slurm', '2', '--out', 'd', '--slurm-args', '--comment "unfinished'], /--slurm-args: unterminated "/],
  ])('refuses %j', (args, message) => {
    expect(() => extractSlurmFlags(args)).toThrow(message);
  });

  it('splits --slurm-args as a shell does, and quotes words back', () => {
    expect(splitShellWords(` -p gpu  --comment='a b' --x="q\\"uote" c\\ d `, 'f')).toEqual(['-p', 'gpu', '--comment=a b', '--x=q"uote', 'c d']);
    for (const word of ['plain', 'a b', "it's", '$HOME', '']) expect(bash(`printf %s ${shellQuote(word)}`).stdout).toBe(word);
  });

  it('gives the merge job the --slurm-args without GPU requests', () => {
    expect(withoutGpuRequests(['--partition=gpu', '--gres=gpu:1', '--time=01:00:00', '--gpus', '2', '-G', '1', '--mem-per-gpu=8G', '-A', 'lab'])).toEqual(['--partition=gpu', '--time=01:00:00', '-A', 'lab']);
  });

  it('drops the outputs, --resume and --shard (and their values) from what each task gets', () => {
    expect(withoutFlags([...GRID, '--json', 'a.json', '--csv=a.csv', '--resume', '--shard', '0/2', '--quiet'], ['json', 'csv', 'resume', 'shard'])).toEqual([...GRID, '--quiet']);
  });
});

describe('the sweep fingerprint', () => {
  const command = parseSweep(GRID);
  it('depends on the grid and the base flags, not on the shard or the order of keys', () => {
    const f = sweepFingerprint(command, command.base);
    expect(f).toMatch(/^sha256:[0-9a-f]{64}$/);
    const reordered = Object.fromEntries(Object.entries(command.base).reverse()) as typeof command.base;
    expect(sweepFingerprint(command, reordered)).toBe(f);
    expect(sweepDocument({ ...command, shard: { index: 1, count: 3 } }, 'v', null, [], null).fingerprint).toBe(f);
    expect(sweepFingerprint({ ...command, gains: [1, 1.5] }, command.base)).not.toBe(f);
    expect(sweepFingerprint(command, { ...command.base, seed: 2 })).not.toBe(f);
    expect(sweepFingerprint(command, { ...command.base, width: 5 })).not.toBe(f);
  });
});

// ---------------------------------------------------------------------------
// Merging shard reports

const ADAPTER = { vendor: 'test', architecture: 'cpu', description: 'unit', device: 'd', software: true, backend: 'none' };

function fakePoint(g: { index: number; depth: number; gain: number; activation: SweepPoint['activation'] }): SweepPoint {
  return {
    ...g, status: 'stable', measuredGrowthPerLayer: 0.01 * g.index, predictedGrowthPerLayer: 0.02, totalChangeDecades: 0.1,
    measuredLog10Ratio: 0.03 * g.index, predictionMethod: 'he2015', finalLoss: 1 + g.index, ms: 3,
  };
}

/** Writes shard-<i>.json of `command` split `count` ways into `dir`, each with its points (or those `keep` lets through). */
function writeShards(dir: string, command: SweepCommand, count: number, keep: (p: SweepPoint) => boolean = () => true): void {
  mkdirSync(dir, { recursive: true });
  for (let index = 0; index < count; index++) {
    const shard = { ...command, shard: { index, count } };
    const points = sweepGrid(shard).map(fakePoint).filter(keep);
    writeFileSync(join(dir, `shard-${index}.json`), JSON.stringify(sweepDocument(shard, '0.2.0', ADAPTER, points, null)));
  }
}

describe('gradstorm merge (mergeShards)', () => {
  const command = parseSweep(GRID);
  const tmp = () => mkdtempSync(join(tmpdir(), 'gradstorm-merge-'));

  it('puts complete shards back into the one-process sweep: points in grid order, shard 0/1, the same fingerprint', () => {
    const dir = tmp();
    writeShards(dir, command, 3);
    const r = mergeShards(shardFiles(dir));
    const whole = sweepDocument(command, '0.2.0', ADAPTER, sweepGrid(command).map(fakePoint), null);
    expect({ ...r.document, merge: undefined }).toEqual({ ...whole, merge: undefined });
    expect(r.document.merge).toEqual({ shards: ['shard-0.json', 'shard-1.json', 'shard-2.json'], missing: [], duplicated: [] });
    expect(r.document.incomplete).toBeUndefined();
    expect(validateReport(JSON.parse(JSON.stringify(r.document))).ok).toBe(true);
  });

  it('names missing and duplicated points and marks the merge incomplete (still a valid sweep report)', () => {
    const dir = tmp();
    writeShards(dir, command, 3, (p) => p.index !== 4);
    // The same sweep split 2 ways as well: shard-0 of 2 (points 0, 2, 4) overlaps shard-0 and shard-2 of 3.
    const two = { ...command, shard: { index: 0, count: 2 } };
    writeFileSync(join(dir, 'shard-7.json'), JSON.stringify(sweepDocument(two, '0.2.0', ADAPTER, sweepGrid(two).map(fakePoint).filter((p) => p.index === 0), null)));
    const r = mergeShards(shardFiles(dir));
    expect(r.missing).toEqual([{ index: 4, activation: 'relu', depth: 3, gain: 2 }]);
    expect(r.duplicated).toEqual([{ index: 0, activation: 'relu', depth: 3, gain: 1, files: ['shard-0.json', 'shard-7.json'] }]);
    expect(r.document.incomplete).toBe(true);
    expect(r.document.points.map((p) => p.index)).toEqual([0, 1, 2, 3, 5]);
    const check = validateReport(JSON.parse(JSON.stringify(r.document)));
    expect(check.ok ? check.kind : check.errors).toBe('sweep');
  });

  it('refuses a shard of another grid, naming it and the difference', () => {
    const dir = tmp();
    writeShards(dir, command, 3);
    writeShards(join(dir, 'other'), parseSweep([...GRID.slice(0, 2), '--gains', '1,2', ...GRID.slice(4)]), 2);
    writeFileSync(join(dir, 'shard-3.json'), readFileSync(join(dir, 'other', 'shard-1.json')));
    expect(() => mergeShards(shardFiles(dir))).toThrow(ForeignShardError);
    expect(() => mergeShards(shardFiles(dir))).toThrow(/shard-3\.json \(sha256:[0-9a-f]+; grid\.gains: file \[1,2\], sweep \[1,1\.5,2\]\)/);
    // Told which sweep to expect (as the Slurm merge job is), every shard of another is refused.
    expect(() => mergeShards(shardFiles(join(dir, 'other')), sweepFingerprint(command, command.base))).toThrow(/2 shard file\(s\) belong to another sweep than sweep sha256:/);
  });

  it('refuses a shard whose fingerprint is not that of its own grid (an edited file)', () => {
    const dir = tmp();
    writeShards(dir, command, 2);
    const file = join(dir, 'shard-1.json');
    const report = JSON.parse(readFileSync(file, 'utf8'));
    report.base.seed = 7;
    writeFileSync(file, JSON.stringify(report));
    expect(() => mergeShards(shardFiles(dir))).toThrow(/shard-1\.json: its fingerprint sha256:\w+ is not that of its own grid and base config/);
  });

  it('counts the points of a shard that fails the sweep schema as missing, and says why', () => {
    const dir = tmp();
    writeShards(dir, command, 2);
    const file = join(dir, 'shard-1.json');
    const report = JSON.parse(readFileSync(file, 'utf8'));
    report.points[0].depth = 'three';
    writeFileSync(file, JSON.stringify(report));
    const r = mergeShards(shardFiles(dir));
    expect(r.invalid).toEqual([{ file: 'shard-1.json', errors: ['points[0].depth: expected number, got string "three"'] }]);
    expect(r.missing.map((p) => p.index)).toEqual([1, 3, 5]);
  });

  it('marks the merge incomplete when a shard file is invalid even though its points are found elsewhere (the exit code is 1 then)', () => {
    const dir = tmp();
    writeShards(dir, command, 2);
    // Every point is in shard-0 and shard-1; a third file that fails the schema is still a problem to report.
    writeFileSync(join(dir, 'shard-2.json'), JSON.stringify({ schema: 'gradstorm.sweep/1', points: 'none' }));
    const r = mergeShards(shardFiles(dir));
    expect(r.missing).toEqual([]);
    expect(r.invalid.map((i) => i.file)).toEqual(['shard-2.json']);
    expect(r.document.incomplete).toBe(true);
  });
});

describe('sweep --resume keeps finished points, never error points', () => {
  it('reads back the points of the same sweep except those recorded as errors, which run again', () => {
    const command = parseSweep([...GRID, '--json', 'unused.json']);
    const dir = mkdtempSync(join(tmpdir(), 'gradstorm-resume-'));
    const file = join(dir, 's.json');
    const points = sweepGrid(command).map(fakePoint).slice(0, 4);
    points[1] = { ...points[1], status: 'error', error: 'device lost (a busy GPU)', measuredGrowthPerLayer: null, predictedGrowthPerLayer: null };
    writeFileSync(file, JSON.stringify(sweepDocument(command, '0.2.0', ADAPTER, points, null)));
    expect(readResumedPoints(file, command).map((p) => p.index)).toEqual([0, 2, 3]);
  });
});

// ---------------------------------------------------------------------------
// Kubernetes

describe('the same pattern as a Kubernetes Indexed Job', () => {
  const manifest = kubernetesIndexedJob({ ...KUBERNETES_EXAMPLE, tasks: 3, sweepArgs: GRID, dir: '/data/sweep one' });

  it('is an Indexed Job of N pods, each running its shard (JOB_COMPLETION_INDEX → --shard) on the shared volume, with a GPU', () => {
    const sweep = manifest.sweep;
    for (const line of [
      'apiVersion: batch/v1', 'kind: Job', '  name: gradstorm-phase-sweep', '  completionMode: Indexed', '  completions: 3', '  parallelism: 3',
      '      restartPolicy: Never', '          image: "ghcr.io/you/gradstorm:0.2.0"', '              nvidia.com/gpu: 1',
      '              mountPath: "/data"', '            claimName: "sweeps"',
    ]) expect(sweep.split('\n')).toContain(line);
    // The pod's command, run by sh as a pod runs it (index 2): the shard's flags with the grid's.
    const command = /^ {10}command: (\[.*\])$/m.exec(sweep)?.[1];
    const [sh, c, script] = JSON.parse(command ?? 'null') as string[];
    expect([sh, c]).toEqual(['sh', '-c']);
    const bin = mkdtempSync(join(tmpdir(), 'gradstorm-k8s-'));
    writeFileSync(join(bin, 'gradstorm'), '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n');
    chmodSync(join(bin, 'gradstorm'), 0o755);
    const r = spawnSync('sh', ['-c', script], { encoding: 'utf8', env: { PATH: `${bin}:/usr/bin:/bin`, JOB_COMPLETION_INDEX: '2' } });
    expect(r.stdout.trimEnd().split('\n')).toEqual(['sweep', ...GRID, '--shard', '2/3', '--json', '/data/sweep one/shard-2.json', '--resume']);
  });

  it('merges with the same step as Slurm, without a GPU', () => {
    expect(manifest.merge).toContain('  name: gradstorm-phase-merge\n');
    expect(manifest.merge).toContain('          command: ["gradstorm", "merge", "/data/sweep one", "--json", "/data/sweep one/sweep.json", "--csv", "/data/sweep one/sweep.csv"]\n');
    expect(manifest.merge).not.toContain('nvidia.com/gpu');
  });

  it('is what the README shows', () => {
    const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
    const example = kubernetesIndexedJob(KUBERNETES_EXAMPLE);
    expect(readme).toContain(example.sweep);
    expect(readme).toContain(example.merge);
  });
});
