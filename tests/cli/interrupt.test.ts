import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeTrainingNote } from '../../src/cli/stress.ts';
import { validateReport } from '../../src/report/schema.ts';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'gradstorm.js');
// The autotuner's tables go to a folder of this file's own; --variant register skips tuning anyway.
const cacheDir = mkdtempSync(join(tmpdir(), 'gradstorm-cache-'));

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI; once stderr matches `when`, sends `signal` (as a user's
 * Ctrl-C or a job scheduler's SIGTERM would).
 */
function gradstorm(args: string[], interrupt?: { when: RegExp; signal: NodeJS.Signals; again?: RegExp }): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, GRADSTORM_CACHE_DIR: cacheDir } });
    let stdout = '';
    let stderr = '';
    let sent = false;
    let sentAgain = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (interrupt && !sent && interrupt.when.test(stderr)) {
        sent = true;
        child.kill(interrupt.signal);
      }
      if (interrupt?.again && sent && !sentAgain && interrupt.again.test(stderr)) {
        sentAgain = true;
        child.kill(interrupt.signal);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const json = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

describe('gradstorm CLI: an interrupted run keeps its data', () => {
  it('SIGINT during stress (default probe loss, diverging): exit 130, a valid partial report, non-finite ‖g‖ never a number, the probe note once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradstorm-'));
    const out = join(dir, 'r.json');
    // Stopped once the progress shows the gradient gone non-finite (the probe loss diverges within a few dozen steps).
    const r = await gradstorm(['stress', '--depth', '3', '--width', '8', '--batch', '2', '--steps', '200000', '--variant', 'register', '--json', out], {
      when: /^step \d+\/200000 .*‖g‖ non-finite \(\d+ entries, first at layer \d\) /m,
      signal: 'SIGINT',
    });
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/SIGINT: stopping after the step in flight.*Ctrl-C again to exit at once, without a report/);
    expect(r.stderr).toMatch(/interrupted \(SIGINT\) after step \d+ of 200000; partial report \(\d+ step\(s\), "interrupted": true\) written to /);
    // Said once, on stderr, and not as an error.
    expect(r.stderr.match(/--loss probe \(the default\) is linear/g)).toHaveLength(1);
    expect(r.stderr).toMatch(/diverges by construction.*use --loss mse/);
    const report = json(out);
    expect(report.schema).toBe('gradstorm.run/1');
    expect(report.interrupted).toBe(true);
    expect(report.interruption.reason).toBe('SIGINT');
    expect(report.interruption.stepReached).toBe(report.steps.length);
    expect(report.steps.length).toBeGreaterThanOrEqual(1);
    expect(report.steps.length).toBeLessThan(200000);
    expect(report.steps.map((s: { step: number }) => s.step)).toEqual(report.steps.map((_: unknown, i: number) => i + 1));
    // A step with non-finite gradient entries has no ‖g‖ (null), only the norm of its finite part.
    const bad = report.steps.filter((s: { nonfinite: number }) => s.nonfinite > 0);
    expect(bad.length).toBeGreaterThan(0);
    for (const s of bad) {
      expect(s.gradNorm).toBeNull();
      expect(Number.isFinite(s.finiteGradNorm)).toBe(true);
    }
    expect(r.stdout).toMatch(/‖g‖ \S+ → non-finite \(\d+ entries, first at layer \d\)/);
    expect(r.stderr).not.toMatch(/‖g‖ (NaN|Infinity|[\d.]+e\+?\d+)/);
    expect(r.stdout).toMatch(/^INTERRUPTED: interrupted \(SIGINT\) after step \d+ of 200000/m);
  });

  it('SIGTERM during an RNN stress run: exit 143 and the partial report; --task adding gets no probe note', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradstorm-'));
    const out = join(dir, 'r.json');
    const r = await gradstorm(['stress', '--model', 'rnn', '--seq-len', '4', '--width', '6', '--batch', '3', '--task', 'adding', '--steps', '200000', '--variant', 'register', '--json', out], {
      when: /^step 1\/200000 /m,
      signal: 'SIGTERM',
    });
    expect(r.code).toBe(143);
    expect(r.stderr).not.toMatch(/--loss probe/);
    const report = json(out);
    expect(report.interrupted).toBe(true);
    expect(report.interruption).toMatchObject({ reason: 'SIGTERM', stepReached: report.steps.length });
    expect(report.steps[0].timesteps).toHaveLength(4);
    for (const s of report.steps) expect(s.gradNorm === null ? s.nonfinite > 0 : s.gradNorm === s.finiteGradNorm).toBe(true);
  });

  it('SIGINT during an LSTM stress run: exit 130, a partial report that validates as run-lstm', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradstorm-'));
    const out = join(dir, 'r.json');
    const r = await gradstorm(['stress', '--model', 'lstm', '--seq-len', '3', '--width', '5', '--batch', '3', '--task', 'adding', '--steps', '200000', '--variant', 'register', '--json', out], {
      when: /^step 1\/200000 /m,
      signal: 'SIGINT',
    });
    expect(r.code).toBe(130);
    expect(r.stdout).toMatch(/^INTERRUPTED: interrupted \(SIGINT\) after step \d+ of 200000/m);
    const report = json(out);
    const checked = validateReport(report);
    expect(checked.ok && checked.kind).toBe('run-lstm');
    expect(report.interruption).toMatchObject({ reason: 'SIGINT', stepReached: report.steps.length });
    expect(report.steps.length).toBeGreaterThanOrEqual(1);
    expect(report.steps[0].timesteps).toHaveLength(3);
  });

  it('a second Ctrl-C while stopping exits at once with 130 and writes no report', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradstorm-'));
    const out = join(dir, 'r.json');
    // Steps of ~2 s on SwiftShader (~5 GFLOP each): the second Ctrl-C, sent when the first one's message appears,
    // lands while the step in flight (at least one whole step: the GPU runs them in order) still runs, even on a
    // loaded machine (at ~0.3 s a step it sometimes landed after the report was written).
    const r = await gradstorm(['stress', '--depth', '3', '--width', '1024', '--batch', '256', '--loss', 'mse', '--steps', '100000', '--variant', 'register', '--json', out], {
      when: /^step 1\/100000 /m,
      signal: 'SIGINT',
      again: /SIGINT: stopping after the step in flight/,
    });
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/SIGINT again: exiting at once, without a report/);
    expect(existsSync(out)).toBe(false);
  });

  it('sweep: SIGINT keeps the finished points; --resume runs only the missing ones and gives the JSON of an uninterrupted sweep', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradstorm-'));
    const grid = ['sweep', '--depths', '2,3,4', '--gains', '1.5', '--width', '5', '--batch', '3', '--loss', 'mse', '--steps', '40', '--variant', 'register'];
    const stopped = await gradstorm([...grid, '--json', join(dir, 's.json')], { when: /\[1\/3\]/, signal: 'SIGINT' });
    expect(stopped.code).toBe(130);
    const partial = json(join(dir, 's.json'));
    expect(partial.interrupted).toBe(true);
    expect(partial.interruption.reason).toBe('SIGINT');
    const kept = partial.points.length;
    expect(kept).toBeGreaterThanOrEqual(1);
    expect(kept).toBeLessThan(3);
    expect(partial.interruption.stepReached).toBe(kept);
    expect(readFileSync(join(dir, 's.csv'), 'utf8').trim().split('\n')).toHaveLength(1 + kept);

    // A different grid is refused, naming what differs.
    const other = await gradstorm([...grid.map((a) => (a === '1.5' ? '2' : a)), '--json', join(dir, 's.json'), '--resume']);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/--resume: .*s\.json holds a different sweep \(grid\.gains: file \[1\.5\], this command \[2\]\)/);

    const resumed = await gradstorm([...grid, '--json', join(dir, 's.json'), '--resume']);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(new RegExp(`sweep --resume: ${kept} of 3 point\\(s\\) already in .*; running the other ${3 - kept}`));
    expect(resumed.stderr.match(/^ {2}\[\d\/3\]/gm)).toHaveLength(3 - kept);

    const fresh = await gradstorm([...grid, '--json', join(dir, 'fresh.json')]);
    expect(fresh.code).toBe(0);
    const withoutTimes = (doc: { points: { ms?: number }[] }) => ({ ...doc, points: doc.points.map(({ ms: _ms, ...p }) => p) });
    const done = json(join(dir, 's.json'));
    expect(done.interrupted).toBeUndefined();
    expect(withoutTimes(done)).toEqual(withoutTimes(json(join(dir, 'fresh.json'))));
  });
});

describe('the probe-training note', () => {
  it('is for training on the probe loss only: more than one step, loss probe', () => {
    expect(probeTrainingNote({ loss: 'probe', steps: 1 })).toBeNull();
    expect(probeTrainingNote({ loss: 'mse', steps: 400 })).toBeNull();
    expect(probeTrainingNote({ loss: 'probe', steps: 400 })).toMatch(/linear \(L = Σ g⊙y\) and unbounded below, so training on it for 400 steps diverges by construction.*use --loss mse/);
    expect(probeTrainingNote({ loss: 'probe', steps: 2 }, '--task adding (--loss mse)')).toMatch(/use --task adding \(--loss mse\)\.$/);
  });
});
