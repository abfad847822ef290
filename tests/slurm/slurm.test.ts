// gradstorm sweep --slurm on a real one-node Slurm cluster (Debian's slurm-wlm
// and munge, started by scripts/slurm-local.sh): a 2 depths × 3 gains grid of
// tiny nets as a 3-task array job with --wait, merged, against the one-process
// sweep of the same grid; a lost shard named by the merge and filled in by
// --resume; a shard of another grid refused; a failed task reported.
// Never skipped: without Slurm the suite fails, saying how to get it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPackage, REPO_ROOT, userEnv } from '../support/package.ts';
import { validateReport } from '../../src/report/schema.ts';
import { sweepFingerprint } from '../../src/cli/sweep.ts';

const script = join(REPO_ROOT, 'scripts', 'slurm-local.sh');
const bin = join(REPO_ROOT, 'bin', 'gradstorm.js');
const work = mkdtempSync(join(tmpdir(), 'gradstorm-slurm-e2e-'));
// The cluster's state, logs and slurm.conf: the script's default folder, so a cluster a user started is reused.
const slurmConf = join(process.env.GRADSTORM_SLURM_DIR ?? join(process.env.TMPDIR ?? '/tmp', 'gradstorm-slurm'), 'slurm.conf');
const env = userEnv({ GRADSTORM_CACHE_DIR: join(work, 'cache'), SLURM_CONF: slurmConf });

// Tiny nets, one probe step each, one fixed matmul variant (no autotuning races between shards).
const GRID = ['--depths', '3,4', '--gains', '1,1.5,2', '--width', '4', '--batch', '2', '--steps', '1', '--variant', 'register'];

let startedHere = false;

beforeAll(() => {
  buildPackage();
  const before = spawnSync(script, ['status'], { encoding: 'utf8', env });
  const up = spawnSync(script, ['up'], { encoding: 'utf8', env, timeout: 180_000 });
  if (up.status !== 0) {
    throw new Error(
      `the local Slurm cluster did not start (scripts/slurm-local.sh up, exit ${up.status}):\n${up.stderr}${up.stdout}\n` +
        'These tests need Slurm: as root, apt-get install -y slurm-wlm munge (npm test installs them with scripts/ensure-env.js), ' +
        'then scripts/slurm-local.sh up',
    );
  }
  startedHere = before.status !== 0;
}, 240_000);

afterAll(() => {
  // Only a cluster this file started is stopped (down stops only the daemons the script started, by pid).
  if (startedHere) spawnSync(script, ['down'], { encoding: 'utf8', env, timeout: 60_000 });
}, 60_000);

function gradstorm(args: string[], extraEnv: Record<string, string> = {}) {
  const started = performance.now();
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...env, ...extraEnv }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, seconds: (performance.now() - started) / 1000 };
}

interface Sweep {
  schema: string;
  fingerprint: string;
  shard: { index: number; count: number };
  grid: unknown;
  base: unknown;
  points: Record<string, unknown>[];
  incomplete?: boolean;
  merge?: { missing: unknown[]; duplicated: unknown[]; shards: string[] };
}
const readSweep = (path: string): Sweep => {
  const json: unknown = JSON.parse(readFileSync(path, 'utf8'));
  const check = validateReport(json);
  expect(check.ok ? check.kind : check.errors).toBe('sweep');
  return json as Sweep;
};

/** Equal to float32 round-off: every field but the time a point took. */
function expectSamePoints(actual: Record<string, unknown>[], expected: Record<string, unknown>[]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((p, i) => {
    const q = expected[i];
    expect(Object.keys(p).sort()).toEqual(Object.keys(q).sort());
    for (const key of Object.keys(q)) {
      if (key === 'ms') continue;
      const [a, b] = [p[key], q[key]];
      if (typeof b === 'number' && typeof a === 'number') expect(Math.abs(a - b), `point ${i} ${key}: ${a} vs ${b}`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(b)));
      else expect(a, `point ${i} ${key}`).toEqual(b);
    }
  });
}

/** CSV rows without the ms column, numbers to float32 round-off. */
function expectSameCsv(actual: string, expected: string): void {
  const rows = (text: string) => text.trim().split('\n').map((line) => line.split(','));
  const [a, b] = [rows(actual), rows(expected)];
  expect(a[0]).toEqual(b[0]);
  const ms = b[0].indexOf('ms');
  expect(a.length).toBe(b.length);
  a.slice(1).forEach((row, i) =>
    row.forEach((cell, j) => {
      if (j === ms) return;
      const other = b[i + 1][j];
      if (cell !== '' && !Number.isNaN(Number(cell)) && other !== '') expect(Math.abs(Number(cell) - Number(other))).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(Number(other))));
      else expect(cell).toBe(other);
    }),
  );
}

describe('gradstorm sweep --slurm on a one-node Slurm cluster', () => {
  const out = join(work, 'run');
  let oneProcess: Sweep;

  it('runs a 2 depths × 3 gains grid as a 3-task array job with --wait; the merge equals the one-process sweep (JSON and CSV)', () => {
    const array = gradstorm(['sweep', ...GRID, '--slurm', '3', '--out', out, '--wait']);
    expect(array.code, array.stderr).toBe(0);
    expect(array.stderr).toMatch(/submitted array job (\d+): 3 task\(s\) \(shards 0,1,2 of 3\) over 6 point\(s\)/);
    expect(array.stderr).toMatch(/submitted merge job \d+ \(runs when array job \d+ has succeeded\)/);
    expect(array.stderr).toMatch(/watch: squeue -j \d+,\d+ {4}after: sacct -j \d+,\d+/);
    expect(array.stderr).toMatch(/6\/6 point\(s\)/);
    expect(array.stderr).toMatch(/merge job \d+ exited 0 after/);

    const single = gradstorm(['sweep', ...GRID, '--json', join(work, 'one.json'), '--quiet']);
    expect(single.code, single.stderr).toBe(0);
    // The measurement the issue asks for: the 3-task array job against one process, same grid, this machine.
    process.stderr.write(`[slurm e2e] 3-task array job with --wait: ${array.seconds.toFixed(1)} s; one-process sweep: ${single.seconds.toFixed(1)} s\n`);

    oneProcess = readSweep(join(work, 'one.json'));
    const merged = readSweep(join(out, 'sweep.json'));
    expect(merged.fingerprint).toBe(oneProcess.fingerprint);
    expect(merged.shard).toEqual({ index: 0, count: 1 });
    expect([merged.grid, merged.base]).toEqual([oneProcess.grid, oneProcess.base]);
    expect(merged.incomplete).toBeUndefined();
    expect(merged.merge).toEqual({ shards: ['shard-0.json', 'shard-1.json', 'shard-2.json'], missing: [], duplicated: [] });
    expectSamePoints(merged.points, oneProcess.points);
    expectSameCsv(readFileSync(join(out, 'sweep.csv'), 'utf8'), readFileSync(join(work, 'one.csv'), 'utf8'));
    // Each shard ran its own points, and says which sweep it belongs to.
    const shard1 = readSweep(join(out, 'shard-1.json'));
    expect([shard1.shard, shard1.points.map((p) => p.index), shard1.fingerprint]).toEqual([{ index: 1, count: 3 }, [1, 4], oneProcess.fingerprint]);
  });

  it('a lost shard: merge names the missing points and exits 1 (the partial merge written, marked incomplete); --resume runs only that shard', () => {
    rmSync(join(out, 'shard-1.json'));
    const merge = gradstorm(['merge', out, '--json', join(work, 'partial.json')]);
    expect(merge.code).toBe(1);
    expect(merge.stderr).toContain('merge: 2 of 6 point(s) missing: relu depth 4 gain 1 (#1), relu depth 3 gain 2 (#4)');
    expect(merge.stderr).toMatch(/INCOMPLETE: 4 of 6 point\(s\) from 2 shard file\(s\)/);
    const partial = readSweep(join(work, 'partial.json'));
    expect(partial.incomplete).toBe(true);
    expect(partial.merge?.missing).toEqual([
      { index: 1, activation: 'relu', depth: 4, gain: 1 },
      { index: 4, activation: 'relu', depth: 3, gain: 2 },
    ]);
    expect(partial.points.map((p) => p.index)).toEqual([0, 2, 3, 5]);

    // Without --resume, a folder that holds shards is not overwritten.
    const again = gradstorm(['sweep', ...GRID, '--slurm', '3', '--out', out]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already holds 2 shard file\(s\) of this sweep: add --resume/);

    const resumed = gradstorm(['sweep', ...GRID, '--slurm', '3', '--out', out, '--resume', '--wait']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/submitted array job \d+: 1 task\(s\) \(shard 1 of 3\) over 6 point\(s\), 4 already done/);
    const merged = readSweep(join(out, 'sweep.json'));
    expect(merged.incomplete).toBeUndefined();
    expectSamePoints(merged.points, oneProcess.points);
  });

  it('refuses a shard from another grid: merge exits 2 naming it and the difference, and writes nothing; so does --resume', () => {
    // A shard of the same sweep but for gains 1,1.5 (its points and fingerprint made consistent, as such a sweep writes them).
    const foreign = JSON.parse(readFileSync(join(out, 'shard-0.json'), 'utf8'));
    foreign.grid.gains = [1, 1.5];
    foreign.fingerprint = sweepFingerprint(foreign.grid, foreign.base);
    expect(foreign.fingerprint).not.toBe(oneProcess.fingerprint);
    writeFileSync(join(out, 'shard-3.json'), JSON.stringify(foreign));
    const before = readFileSync(join(out, 'sweep.json'), 'utf8');
    const merge = gradstorm(['merge', out]);
    expect(merge.code).toBe(2);
    expect(merge.stderr).toMatch(/refusing to merge: 1 shard file\(s\) belong to another sweep than the sweep of shard-0\.json .*shard-3\.json \(sha256:[0-9a-f]{64}; grid\.gains: file \[1,1\.5\], sweep \[1,1\.5,2\]\)/);
    expect(readFileSync(join(out, 'sweep.json'), 'utf8')).toBe(before);
    const resume = gradstorm(['sweep', ...GRID, '--slurm', '3', '--out', out, '--resume', '--dry-run']);
    expect(resume.code).toBe(2);
    expect(resume.stderr).toMatch(/holds .*shard-3\.json, a shard of another sweep/);
    // A file that is no shard at all: --resume says so before submitting (its task would refuse it).
    writeFileSync(join(out, 'shard-3.json'), '{"schema": "gradstorm.sweep/1", "points": [');
    const garbled = gradstorm(['sweep', ...GRID, '--slurm', '3', '--out', out, '--resume', '--dry-run']);
    expect(garbled.code).toBe(2);
    expect(garbled.stderr).toMatch(/shard-3\.json is not a sweep shard report \(not JSON: .*\): delete it to run that shard again/);
    rmSync(join(out, 'shard-3.json'));
  });

  it('a failed task: --wait says which shards lack points, cancels the merge (which could never run) and exits 1', () => {
    // Every task fails at once: node cannot load a module it is told to preload.
    const failing = gradstorm(['sweep', ...GRID, '--slurm', '2', '--out', join(work, 'failing'), '--slurm-args', '--export=ALL,NODE_OPTIONS=--require=/nonexistent/gradstorm-test.js', '--wait']);
    expect(failing.code).toBe(1);
    expect(failing.stderr).toMatch(/a task of array job (\d+) failed, so merge job (\d+) could never run \(cancelled\)\. Shards without all their points: shard 0 \(0\/3\), shard 1 \(0\/3\)/);
    const merge = /merge job (\d+) could never run/.exec(failing.stderr)?.[1] ?? '';
    const queue = spawnSync('squeue', ['-h', '-j', merge, '-o', '%T'], { encoding: 'utf8', env });
    expect(queue.stdout.trim()).not.toBe('PENDING');
  });
});

describe('gradstorm sweep --slurm without a cluster', () => {
  it('--dry-run prints both scripts and the sbatch commands, and submits nothing', () => {
    const dir = join(work, 'dry');
    const r = gradstorm(['sweep', ...GRID, '--slurm', '3', '--out', dir, '--slurm-args', '--partition=gpu --gres=gpu:1 --time=01:00:00', '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('#SBATCH --array=0-2\n');
    expect(r.stdout).toContain(`exec ${process.execPath} ${bin} sweep ${GRID.join(' ')} \\\n  --shard "$SLURM_ARRAY_TASK_ID/3" --json ${dir}"/shard-$SLURM_ARRAY_TASK_ID.json" --resume\n`);
    expect(r.stdout).toContain(`sbatch --parsable --partition=gpu --gres=gpu:1 --time=01:00:00 ${dir}/sweep.sbatch\n`);
    expect(r.stdout).toContain(`sbatch --parsable '--dependency=afterok:<array job id>' --partition=gpu --time=01:00:00 ${dir}/merge.sbatch\n`);
    expect(existsSync(dir)).toBe(false);
  });

  it('without sbatch on PATH: exit 1, saying to install Slurm or use --dry-run', () => {
    const r = gradstorm(['sweep', ...GRID, '--slurm', '3', '--out', join(work, 'nosbatch')], { PATH: '/nonexistent' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/sbatch is not on PATH\. .*install Slurm \(Debian\/Ubuntu: apt-get install slurm-wlm munge.*--dry-run/);
  });
});
