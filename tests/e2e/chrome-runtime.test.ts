/**
 * `--runtime chrome`: the CLI as a user runs it (child processes), with the
 * engine in a headless Chromium page on SwiftShader. The same seed gives the
 * same numbers as the Node runtime; flags are refused before a browser
 * starts; a missing browser says what to install; a crash or Ctrl-C writes a
 * partial report; and no Chrome process of ours outlives a test.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRuntimePage } from '../../src/runtime/page-build.ts';
import { USER_DATA_DIR_PREFIX } from '../../src/runtime/browser.ts';
import { parseRunReport } from '../../demo/report-file.ts';
import { extractRuntimeFlags } from '../../src/cli/chrome.ts';
import { validateReport } from '../../src/report/schema.ts';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'gradstorm.js');
// Everything of this file's runs lives here: the tuning cache, the reports, the page build, and (through TMPDIR) Chrome's profiles — the marker of our browsers in `ps`.
const scratch = mkdtempSync(join(tmpdir(), 'gradstorm-chrome-test-'));
const env = { ...process.env, GRADSTORM_CACHE_DIR: join(scratch, 'cache'), GRADSTORM_RUNTIME_PAGE_DIR: join(scratch, 'page'), TMPDIR: scratch };
const marker = join(scratch, USER_DATA_DIR_PREFIX);

function gradstorm(...args: string[]) {
  const started = performance.now();
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000, env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, seconds: (performance.now() - started) / 1000 };
}

/** Processes (pid, command line) of the Chrome instances this file started. */
function ourChromes(): { pid: number; args: string }[] {
  const lines = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).split('\n');
  return lines
    .map((l) => /^\s*(\d+)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null && m[2].includes(marker) && !m[2].startsWith('ps '))
    .map((m) => ({ pid: Number(m[1]), args: m[2] }));
}

/** Starts the CLI as a child; `stderr()`/`stdout()` are what it said so far, `exited` its exit code. */
function startGradstorm(...args: string[]) {
  const child = spawn(process.execPath, [bin, ...args], { env });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitFor = async (pattern: RegExp) => {
    while (!pattern.test(stderr)) {
      if (child.exitCode !== null) throw new Error(`the run ended before ${pattern}: ${stderr}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  return { child, exited, waitFor, stderr: () => stderr, stdout: () => stdout };
}

beforeAll(async () => {
  // One build for the file, in its own folder: the demo's e2e test rebuilds demo/dist meanwhile.
  await buildRuntimePage(join(scratch, 'page'));
}, 120_000);

afterEach(() => {
  expect(ourChromes()).toEqual([]);
});

afterAll(() => {
  for (const p of ourChromes()) process.kill(p.pid, 'SIGKILL');
  rmSync(scratch, { recursive: true, force: true });
});

describe('gradstorm --runtime chrome (headless Chromium, SwiftShader)', () => {
  it('--runtime, --browser and --headed are taken out of any command\'s flags, in both spellings', () => {
    expect(extractRuntimeFlags(['--depth', '5', '--runtime=chrome', '--browser', '/opt/chrome', '--headed', '--json', 'r.json'])).toEqual({
      flags: { runtime: 'chrome', browser: '/opt/chrome', headed: true },
      rest: ['--depth', '5', '--json', 'r.json'],
    });
    expect(extractRuntimeFlags(['--depth', '5']).flags).toEqual({ runtime: 'node', browser: undefined, headed: false });
    expect(() => extractRuntimeFlags(['--runtime'])).toThrow(/--runtime needs a value: node or chrome/);
    expect(() => extractRuntimeFlags(['--runtime', '--depth', '5'])).toThrow(/--runtime needs a value/);
    expect(() => extractRuntimeFlags(['--headed'])).toThrow(/--headed applies to --runtime chrome/);
  });

  it('refuses a bad flag with exit code 2 before starting a browser', () => {
    const bad = gradstorm('stress', '--runtime', 'chrome', '--depth', '0');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--depth: '0' is not an integer/);
    expect(bad.stderr).not.toMatch(/adapter:/);
    const runtime = gradstorm('check', '--runtime', 'safari');
    expect(runtime.code).toBe(2);
    expect(runtime.stderr).toMatch(/--runtime: unknown value 'safari'; choose from node, chrome/);
    expect(gradstorm('bench', '--browser', '/usr/bin/chromium').stderr).toMatch(/--browser applies to --runtime chrome/);
  });

  it('says what to install when the browser is missing (exit code 1)', () => {
    const r = gradstorm('check', '--runtime', 'chrome', '--browser', join(scratch, 'no-such-chrome'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no-such-chrome: no such file; install Chromium \(as root: apt-get install -y chromium\) or Google Chrome, or give its path with --browser PATH/);
  });

  it('stress: the same table, verdict and per-layer norms as the Node runtime for the same seed; the report validates and names the browser', () => {
    // One matmul variant in both (the autotuner is exercised by the puppeteer helper's test): the same kernels, so the same sums.
    const config = ['--depth', '5', '--width', '7', '--batch', '3', '--steps', '2', '--seed', '7', '--activation', 'tanh', '--loss', 'mse', '--variant', 'register'];
    const chromeJson = join(scratch, 'chrome.json');
    const nodeJson = join(scratch, 'node.json');
    const chrome = gradstorm('stress', ...config, '--runtime', 'chrome', '--json', chromeJson);
    expect(chrome.stderr).toMatch(/adapter: .*runtime chrome: Chrome\/[\d.]+, navigator\.gpu, SwiftShader\) — emulated/);
    expect(chrome.code, chrome.stderr).toBe(0);
    const node = gradstorm('stress', ...config, '--json', nodeJson);
    expect(node.code, node.stderr).toBe(0);
    const table = (out: string) => out.split('\n').filter((l) => !l.startsWith('median step time')).join('\n');
    expect(table(chrome.stdout)).toBe(table(node.stdout));

    const parsed = parseRunReport(readFileSync(chromeJson, 'utf8'), 'chrome.json');
    expect(parsed.ok, JSON.stringify(parsed)).toBe(true);
    const c = JSON.parse(readFileSync(chromeJson, 'utf8'));
    const n = JSON.parse(readFileSync(nodeJson, 'utf8'));
    expect(c.adapter).toMatchObject({ runtime: 'chrome', browser: expect.stringMatching(/Chrome\/\d+/) });
    expect(c.interrupted).toBeUndefined();
    expect(c.steps).toHaveLength(2);
    for (const [s, step] of c.steps.entries()) {
      expect(step.loss).toBeCloseTo(n.steps[s].loss, 5);
      for (const [l, layer] of step.layers.entries()) {
        for (const key of ['deltaNorm', 'weightGradNorm', 'biasGradNorm', 'activationNorm', 'weightNorm']) {
          const want = n.steps[s].layers[l][key];
          expect(Math.abs(layer[key] - want), `step ${s + 1} layer ${l + 1} ${key}`).toBeLessThanOrEqual(1e-4 * Math.abs(want) + 1e-30);
        }
      }
    }
  });

  it('stress --model lstm: the same table and theory line as the Node runtime for the same seed; the report and dump validate', () => {
    const config = ['--model', 'lstm', '--task', 'adding', '--seq-len', '9', '--width', '5', '--batch', '3', '--seed', '4', '--variant', 'register'];
    const chromeJson = join(scratch, 'lstm-chrome.json');
    const chromeDump = join(scratch, 'lstm-chrome-dump.json');
    const chrome = gradstorm('stress', ...config, '--runtime', 'chrome', '--json', chromeJson, '--dump', chromeDump);
    expect(chrome.code, chrome.stderr).toBe(0);
    const node = gradstorm('stress', ...config);
    expect(node.code, node.stderr).toBe(0);
    const table = (out: string) => out.split('\n').filter((l) => !l.startsWith('median step time')).join('\n');
    expect(table(chrome.stdout)).toBe(table(node.stdout));
    expect(chrome.stdout).toMatch(/^theory: cell path /m);
    const report = JSON.parse(readFileSync(chromeJson, 'utf8'));
    const checked = validateReport(report);
    expect(checked.ok ? checked.kind : checked.errors).toBe('run-lstm');
    expect(report.adapter).toMatchObject({ runtime: 'chrome', browser: expect.stringMatching(/Chrome\/\d+/) });
    const dump = validateReport(JSON.parse(readFileSync(chromeDump, 'utf8')));
    expect(dump.ok ? dump.kind : dump.errors).toBe('dump');
  });

  it('check --family elementwise passes in the page', () => {
    const json = join(scratch, 'check.json');
    const r = gradstorm('check', '--runtime', 'chrome', '--family', 'elementwise', '--json', json);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\n(\d+) passed, 0 failed \(\1 kernel cases/);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    const checked = validateReport(report);
    expect(checked.ok ? checked.kind : checked.errors).toBe('check');
    expect(report.adapter).toMatchObject({ runtime: 'chrome', software: true });
    expect(report.results.length).toBeGreaterThan(10);
    expect(report.results.every((x: { ok: boolean; family: string }) => x.ok && x.family === 'elementwise')).toBe(true);
  });

  it('sweep: the same points as the Node runtime, saved as a valid gradstorm.sweep/1 file', () => {
    const grid = ['sweep', '--depths', '3,4', '--gains', '1,2', '--width', '4', '--batch', '2', '--steps', '1', '--variant', 'register', '--quiet'];
    const chromeJson = join(scratch, 'sweep-chrome.json');
    const nodeJson = join(scratch, 'sweep-node.json');
    const c = gradstorm(...grid, '--runtime', 'chrome', '--json', chromeJson);
    expect(c.code, c.stderr).toBe(0);
    const n = gradstorm(...grid, '--json', nodeJson);
    expect(n.code, n.stderr).toBe(0);
    const chrome = JSON.parse(readFileSync(chromeJson, 'utf8'));
    const node = JSON.parse(readFileSync(nodeJson, 'utf8'));
    const checked = validateReport(chrome);
    expect(checked.ok ? checked.kind : checked.errors).toBe('sweep');
    expect(chrome.interrupted, 'a finished sweep is not marked interrupted').toBeUndefined();
    expect(chrome.adapter).toMatchObject({ runtime: 'chrome' });
    const coordinates = (doc: { points: { depth: number; gain: number; status: string; measuredGrowthPerLayer: number | null }[] }) =>
      doc.points.map((p) => [p.depth, p.gain, p.status, p.measuredGrowthPerLayer === null ? null : Number(p.measuredGrowthPerLayer.toFixed(4))]);
    expect(coordinates(chrome)).toEqual(coordinates(node));
  });

  it('a browser killed mid-run: says so with the step reached, writes a valid partial report, exits 1', async () => {
    const json = join(scratch, 'crash.json');
    const child = spawn(process.execPath, [bin, 'stress', '--runtime', 'chrome', '--depth', '4', '--width', '5', '--batch', '2', '--steps', '5000', '--loss', 'mse', '--variant', 'register', '--json', json], { env });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Off a terminal, progress is a line every 10% of the steps: at the first one, kill the browser (its main process: no --type=).
    while (!/step \d+\/5000/.test(stderr)) {
      if (child.exitCode !== null) throw new Error(`the run ended before the kill: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const main = ourChromes().find((p) => !p.args.includes('--type='));
    expect(main).toBeDefined();
    process.kill(main!.pid, 'SIGKILL');
    expect(await exited).toBe(1);
    expect(stderr).toMatch(/gradstorm: the browser (exited|died)/);
    const reached = /stopped at step (\d+) \(browser-crash\)/.exec(stderr);
    expect(reached, stderr).not.toBeNull();
    const report = JSON.parse(readFileSync(json, 'utf8'));
    expect(parseRunReport(JSON.stringify(report), 'crash.json').ok).toBe(true);
    expect(report.interrupted).toBe(true);
    expect(report.interruption).toMatchObject({ reason: 'browser-crash', stepReached: Number(reached![1]) });
    expect(report.steps).toHaveLength(Number(reached![1]));
    await new Promise((r) => setTimeout(r, 300)); // the rest of the process group goes with the kill
  });
  it('Ctrl-C in stress: the page\'s own partial report, written once (its last step whole), exit 130', async () => {
    const json = join(scratch, 'sigint.json');
    const run = startGradstorm('stress', '--runtime', 'chrome', '--depth', '4', '--width', '5', '--batch', '2', '--steps', '600', '--loss', 'mse', '--variant', 'register', '--json', json);
    await run.waitFor(/step \d+\/600/);
    run.child.kill('SIGINT');
    expect(await run.exited, run.stderr()).toBe(130);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    expect(parseRunReport(JSON.stringify(report), 'sigint.json').ok).toBe(true);
    expect(report.interruption).toMatchObject({ reason: 'SIGINT', stepReached: report.steps.length });
    // One writer: the page's result (no "partial report" of the streamed steps besides it).
    expect(run.stderr().match(/report: /g), run.stderr()).toHaveLength(1);
    expect(run.stderr()).not.toMatch(/partial report: /);
    expect(report.steps.at(-1).layers).toHaveLength(4);
  });

  it('a second Ctrl-C kills the browser and exits 130 at once', async () => {
    const run = startGradstorm('stress', '--runtime', 'chrome', '--depth', '4', '--width', '5', '--batch', '2', '--steps', '5000', '--loss', 'mse', '--variant', 'register');
    await run.waitFor(/adapter: /); // the page is open: the first Ctrl-C asks it to stop
    run.child.kill('SIGINT');
    await run.waitFor(/SIGINT: stopping/);
    run.child.kill('SIGINT');
    expect(await run.exited, run.stderr()).toBe(130);
    expect(run.stderr()).toMatch(/SIGINT again: killing the browser/);
    await new Promise((r) => setTimeout(r, 300)); // the process group goes with the kill
  });

  it('Ctrl-C in sweep: the file is marked interrupted by SIGINT with no error point, and --resume finishes it', async () => {
    const json = join(scratch, 'sweep-sigint.json');
    const grid = ['sweep', '--runtime', 'chrome', '--depths', '3,4', '--gains', '1', '--width', '4', '--batch', '2', '--steps', '150', '--loss', 'mse', '--variant', 'register', '--json', json];
    const run = startGradstorm(...grid);
    await run.waitFor(/\[1\/2\]/);
    run.child.kill('SIGINT');
    expect(await run.exited, run.stderr()).toBe(130);
    const cut = JSON.parse(readFileSync(json, 'utf8'));
    const checked = validateReport(cut);
    expect(checked.ok ? checked.kind : checked.errors).toBe('sweep');
    expect(cut.interrupted).toBe(true);
    expect(cut.interruption.reason).toBe('SIGINT');
    expect(cut.points.length).toBeLessThan(2);
    expect(cut.points.filter((p: { status: string }) => p.status === 'error')).toEqual([]);
    expect(run.stdout().match(/^activation/gm) ?? [], 'the table is printed once').toHaveLength(1);
    const resumed = gradstorm(...grid, '--resume');
    expect(resumed.code, resumed.stderr).toBe(0);
    const done = JSON.parse(readFileSync(json, 'utf8'));
    expect(done.interrupted).toBeUndefined();
    expect(done.points.map((p: { depth: number; status: string }) => [p.depth, p.status === 'error'])).toEqual([[3, false], [4, false]]);
  });
});
