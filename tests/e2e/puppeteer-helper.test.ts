/**
 * gradstorm/puppeteer as a user's CI test would use it: launch Chromium with
 * your own flags, hand runInPage the page, get the CLI's report objects back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import puppeteer, { type Browser } from 'puppeteer';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInPage } from '../../src/puppeteer.ts';
import { RunInterruptedError } from '../../src/scheduler/interruption.ts';
import { buildRuntimePage } from '../../src/runtime/page-build.ts';
import type { TuningStore, TuningTable } from '../../src/tune/tuner.ts';
import { validateBenchReport } from '../../bench/report.ts';
import { parseRunReport } from '../../demo/report-file.ts';

const scratch = mkdtempSync(join(tmpdir(), 'gradstorm-puppeteer-test-'));
const pageDir = join(scratch, 'page');
let browser: Browser;

beforeAll(async () => {
  await buildRuntimePage(pageDir); // a user's installed package ships it built; this checkout builds its own copy
  browser = await puppeteer.launch({
    executablePath: process.env.PUPPETEER_EXECUTABLE_PATH ?? '/usr/bin/chromium',
    args: ['--headless=new', '--no-sandbox', '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-webgpu-adapter=swiftshader', `--user-data-dir=${join(scratch, 'profile')}`],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('gradstorm/puppeteer runInPage (a page the user launched)', () => {
  it('stress: the run report (validating, every step streamed), autotuned through the given store', async () => {
    const saved: TuningTable[] = [];
    const store: TuningStore = { load: () => null, save: (t) => (saved.push(t), true), where: () => 'memory' };
    const streamed: number[] = [];
    const { kind, report } = await runInPage(await browser.newPage(), {
      kind: 'stress',
      config: { depth: 6, width: 9, batch: 2, steps: 3, activation: 'relu', init: 'he' },
      tuningStore: store,
      onStep: (done) => streamed.push(done),
      pageDir,
    });
    expect(kind).toBe('stress');
    expect(parseRunReport(JSON.stringify(report), 'report').ok).toBe(true);
    expect(report.adapter).toMatchObject({ runtime: 'chrome', browser: expect.stringMatching(/Chrome\/\d+/) });
    expect(report.steps.map((s) => s.step)).toEqual([1, 2, 3]);
    expect(streamed).toEqual([1, 2, 3]);
    expect(report.steps[0].layers).toHaveLength(6);
    expect(report.steps[0].layers.every((l) => Number.isFinite(l.deltaNorm) && l.deltaNorm > 0)).toBe(true);
    // The page's autotuner reached Node's store: one table with this model's shape classes.
    expect(saved).toHaveLength(1);
    expect(Object.keys(saved[0].entries).length).toBeGreaterThan(0);
  });

  it('check: a conformance family passes, with the results and counts', async () => {
    const result = await runInPage(await browser.newPage(), { kind: 'check', families: ['loss'], pageDir });
    expect(result.results.length).toBeGreaterThan(0);
    expect(result.failed).toBe(0);
    expect(result.passed).toBe(result.results.length);
    expect(result.adapter).toMatchObject({ software: true, runtime: 'chrome' });
  });

  it('bench: a tiny plan gives a valid gradstorm.bench/1 report', async () => {
    const { report } = await runInPage(await browser.newPage(), {
      kind: 'bench',
      plan: { kernels: ['relu'], elementCounts: [1000], runs: 1, sizes: [], shapes: [], plainJs: false },
      pageDir,
    });
    expect(validateBenchReport(JSON.parse(JSON.stringify(report)))).toBeNull();
    expect(report.entries.length).toBeGreaterThan(0);
    expect(report.entries.every((e) => e.kernel.startsWith('relu'))).toBe(true);
  });

  it('a signal already aborted throws RunInterruptedError with its reason, before the page is touched', async () => {
    const page = await browser.newPage();
    const controller = new AbortController();
    controller.abort('SIGTERM');
    const run = runInPage(page, { kind: 'stress', config: { depth: 3, width: 4, steps: 1 }, signal: controller.signal, pageDir });
    await expect(run).rejects.toBeInstanceOf(RunInterruptedError);
    await expect(run).rejects.toMatchObject({ reason: 'SIGTERM' });
    expect(page.url()).toBe('about:blank');
    const other = new AbortController();
    other.abort(new Error('user gave up'));
    await expect(runInPage(page, { kind: 'check', families: ['loss'], signal: other.signal, pageDir })).rejects.toMatchObject({ name: 'RunInterruptedError', reason: 'aborted' });
  });

  it('a bad config throws before the page is touched', async () => {
    const page = await browser.newPage();
    await expect(runInPage(page, { kind: 'stress', config: { depth: 0 }, pageDir })).rejects.toThrow(/depth/);
    expect(page.url()).toBe('about:blank');
  });
});
