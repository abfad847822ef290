/**
 * The demo page, end to end: built with Vite, served on 127.0.0.1, driven by
 * puppeteer in headless Chromium on SwiftShader (DESIGN.md, "The machines we
 * build and test on"). The page publishes its results on `window`
 * (demo/publish.ts); the screenshots it takes go to docs/screenshots/.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import puppeteer, { type Browser, type ElementHandle, type Page } from 'puppeteer';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStatic, type StaticServer } from './server.ts';
import { CONFORMANCE_FAMILIES } from '../../src/conformance/index.ts';
import type { MlpConfig } from '../../src/models/config.ts';
import type { RnnRunReport } from '../../src/scheduler/rnn-run.ts';
import type { LstmRunReport } from '../../src/scheduler/lstm-run.ts';
import type { AnyRunReport } from '../../demo/run-view.ts';
import { validateBenchReport, type BenchReport } from '../../bench/report.ts';

const CHROMIUM = process.env.PUPPETEER_EXECUTABLE_PATH ?? '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless=new',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-webgpu-adapter=swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
const DIST = 'demo/dist';
const SCREENSHOTS = 'docs/screenshots';
const RUN_TIMEOUT = 90_000;
/**
 * How far the RNN preset's measured growth per step may sit from log10(gain),
 * in decades a step. The engine is exact to float32 rounding: each step
 * multiplies by f32(gain) within a few ulps (tests/gpu/rnn-theory.test.ts), so
 * over the 999 steps the slope is off by ~1e-7; 1e-5 a step is 0.01 decades
 * end to end, far below the 0.04-decade difference of a gain off by 0.0001.
 */
const GROWTH_TOLERANCE = 1e-5;
/** How far the theory's line may sit from the measured ‖∂L/∂h_t‖ anywhere on the chart, in decades. */
const THEORY_GAP_TOLERANCE = 0.01;

let server: StaticServer | null = null;
let browser: Browser | null = null;
let userDataDir = '';
let scratch = '';
/** Console errors and uncaught exceptions of every page, with the page's URL. */
const pageErrors: string[] = [];

async function openPage(): Promise<Page> {
  if (!browser) throw new Error('no browser');
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900, deviceScaleFactor: 1 });
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(`${page.url()}: console.error: ${message.text()}`);
  });
  page.on('pageerror', (error) => pageErrors.push(`${page.url()}: uncaught: ${(error as Error).message}`));
  return page;
}

function url(query = ''): string {
  if (!server) throw new Error('no server');
  return `${server.url}${query}`;
}

/** Waits for the page's run number `id` to finish; fails with the page's own error message. */
async function waitForRun(page: Page, id: number): Promise<void> {
  await page.waitForFunction((n: number) => window.__gradstormRun !== undefined && window.__gradstormRun.id >= n && window.__gradstormRun.status !== 'running', { timeout: RUN_TIMEOUT }, id);
  const run = await page.evaluate(() => window.__gradstormRun);
  expect(run?.error, 'the run failed').toBeUndefined();
  expect(run?.status).toBe('done');
}

/** A screenshot of one element, or (`fromTop`) of the page from its top down to the element's bottom edge. */
async function screenshot(page: Page, selector: string, name: string, fromTop = false): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const element = (await page.$(selector)) as ElementHandle<Element> | null;
  if (!element) throw new Error(`no ${selector} on the page`);
  const path = join(SCREENSHOTS, name) as `${string}.png`;
  if (!fromTop) {
    await element.screenshot({ path });
    return;
  }
  const bottom = await element.evaluate((el) => el.getBoundingClientRect().bottom + window.scrollY + 12);
  const width = await page.evaluate(() => document.documentElement.clientWidth);
  await page.screenshot({ path, clip: { x: 0, y: 0, width, height: Math.ceil(bottom) }, captureBeyondViewport: true });
}

/** A run report written by the CLI (the real `gradstorm stress --json`), made once. */
let cliReportPath: Promise<string> | null = null;
function cliReport(): Promise<string> {
  cliReportPath ??= (async () => {
    const path = join(scratch, 'run.json');
    await promisify(execFile)(process.execPath, ['bin/gradstorm.js', 'stress', '--depth', '5', '--width', '8', '--batch', '4', '--steps', '2', '--gain', '1.9', '--json', path], { timeout: 60_000 });
    return path;
  })();
  return cliReportPath;
}

/** A small RNN report written by the CLI (`gradstorm stress --model rnn --json`), made once: linear, orthogonal gain 0.9, T = 30. */
let cliRnnReportPath: Promise<string> | null = null;
function cliRnnReport(): Promise<string> {
  cliRnnReportPath ??= (async () => {
    const path = join(scratch, 'rnn.json');
    const args = ['stress', '--model', 'rnn', '--seq-len', '30', '--width', '8', '--batch', '2', '--steps', '2', '--activation', 'linear', '--init', 'orthogonal', '--gain', '0.9', '--json', path];
    await promisify(execFile)(process.execPath, ['bin/gradstorm.js', ...args], { timeout: 60_000 });
    return path;
  })();
  return cliRnnReportPath;
}

/** A tiny LSTM report written by the CLI (`gradstorm stress --model lstm --json`): adding task, T = 12, forget bias 2. */
function cliLstmReport(): Promise<string> {
  return (async () => {
    const path = join(scratch, 'lstm.json');
    const args = ['stress', '--model', 'lstm', '--seq-len', '12', '--width', '6', '--batch', '3', '--steps', '2', '--task', 'adding', '--forget-bias', '2', '--json', path];
    await promisify(execFile)(process.execPath, ['bin/gradstorm.js', ...args], { timeout: 60_000 });
    return path;
  })();
}

/** The config of an MLP report (and a failed expectation for an RNN one). */
function mlpConfig(report: AnyRunReport | null | undefined): MlpConfig {
  expect(report?.config.model).toBe('mlp');
  return report?.config as MlpConfig;
}

/** Growth per step from the raw norms, end to end: (log10 ‖∂L/∂h_1‖ − log10 ‖∂L/∂h_T‖) / (T − 1), independent of the engine's fit. */
function endToEndGrowth(report: RnnRunReport): number {
  const norms = report.steps[0].timesteps.map((t) => t.hiddenGradNorm);
  return (Math.log10(norms[0]) - Math.log10(norms[norms.length - 1])) / (norms.length - 1);
}

/** Waits for the Kernels view's benchmark run to finish; fails with the page's own error message. */
async function waitForBench(page: Page): Promise<void> {
  await page.waitForFunction(() => window.__gradstormBench !== undefined && window.__gradstormBench.state !== 'running', { timeout: RUN_TIMEOUT, polling: 200 });
  const bench = await page.evaluate(() => window.__gradstormBench);
  expect(bench?.error, 'the benchmark run failed').toBeUndefined();
  expect(bench?.state).toBe('done');
}

/** The Kernels view's published run, its tuning table and what its tables show. */
function benchState(page: Page) {
  return page.evaluate(() => {
    const table = (id: string) => {
      const el = document.getElementById(id);
      if (!el) return null;
      return {
        header: Array.from(el.querySelectorAll('thead th')).map((th) => th.textContent ?? ''),
        rows: Array.from(el.querySelectorAll('tbody tr')).map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent ?? '')),
      };
    };
    return {
      bench: window.__gradstormBench ?? null,
      tuning: window.__gradstormTuning ?? null,
      matmulTable: table('bench-table-matmul'),
      bandwidthTable: table('bench-table-bandwidth'),
      adapterTable: table('adapter-bench-matmul'),
      chosen: Array.from(document.querySelectorAll<HTMLElement>('#tuning-table tbody tr')).map((tr) => ({ shapeClass: tr.dataset.class, chosen: tr.querySelector('.chosen')?.textContent ?? '' })),
      downloadEnabled: !(document.getElementById('bench-download') as HTMLButtonElement).disabled,
      status: document.getElementById('bench-status')?.textContent ?? '',
    };
  });
}

function reportState(page: Page) {
  return page.evaluate(() => ({
    report: window.__gradstormLastReport ?? null,
    runs: window.__gradstormRuns ?? [],
    charts: window.__gradstormCharts ?? null,
    badge: document.getElementById('verdict-status')?.textContent ?? null,
  }));
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`install chromium: apt-get install -y chromium (no browser at ${CHROMIUM}; the e2e tests drive Debian's Chromium, whose SwiftShader gives WebGPU without a GPU)`);
  }
  await build({ configFile: 'demo/vite.config.ts', logLevel: 'warn' });
  server = await serveStatic(DIST);
  userDataDir = mkdtempSync(join(tmpdir(), 'gradstorm-e2e-profile-'));
  scratch = mkdtempSync(join(tmpdir(), 'gradstorm-e2e-'));
  browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_FLAGS, `--user-data-dir=${userDataDir}`] });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('demo page (built with vite, headless Chromium on SwiftShader)', () => {
  it('the bundle imports no Node modules', () => {
    const assets = join(DIST, 'assets');
    const scripts = readdirSync(assets).filter((f) => f.endsWith('.js'));
    expect(scripts.length).toBeGreaterThan(0);
    for (const file of scripts) {
      const code = readFileSync(join(assets, file), 'utf8');
      expect(code, `${file} imports a node: module`).not.toMatch(/(from|import)\s*\(?\s*["'`]node:/);
      expect(code, `${file} requires a module`).not.toMatch(/\brequire\(\s*["'`]/);
    }
  });

  describe('on the page’s WebGPU adapter', () => {
    let page: Page;
    let runs = 0;

    beforeAll(async () => {
      page = await openPage();
    });

    afterAll(async () => {
      await page?.close();
    });

    it('loads with no console errors, names the emulated adapter and lists its features and limits', async () => {
      await page.goto(url(), { waitUntil: 'load' });
      await page.waitForFunction(() => window.__gradstormGpu !== undefined, { timeout: 30_000 });
      const gpu = await page.evaluate(() => window.__gradstormGpu);
      expect(gpu?.available, gpu?.message).toBe(true);
      expect(gpu?.software).toBe(true);
      const banner = await page.$eval('#banner', (el) => el.textContent ?? '');
      expect(banner).toMatch(/Emulated GPU/);
      expect(banner.toLowerCase()).toContain('swiftshader');
      expect(banner).toMatch(/sizes? (models )?down/);
      const features = await page.$$eval('#adapter-features li', (els) => els.map((e) => e.textContent));
      expect(features).toContain('timestamp-query');
      const limits = await page.$eval('#adapter-limits', (el) => el.textContent ?? '');
      expect(limits).toContain('maxStorageBufferBindingSize');
      const rnn = await page.$eval('#model option[value="rnn"]', (el) => ({ disabled: (el as HTMLOptionElement).disabled, text: el.textContent }));
      expect(rnn).toEqual({ disabled: false, text: 'RNN' });
      expect(pageErrors).toEqual([]);
    });

    it('explode preset (from the URL): verdict exploding, every chart has data, sizes reduced and said so', async () => {
      await page.goto(url('?preset=explode'), { waitUntil: 'load' });
      await waitForRun(page, ++runs);
      const { report, charts, badge } = await reportState(page);
      expect(report?.verdict.status).toBe('exploding');
      expect(badge).toBe('exploding');
      expect(report?.config).toMatchObject({ activation: 'relu', init: 'gaussian', gain: 1.8, depth: 100, width: 128, batch: 16 });
      expect(report?.verdict.growthPerLayer).toBeGreaterThan(0.08);
      expect(charts?.profilePoints).toBe(mlpConfig(report).depth);
      expect(charts?.heatmapCells).toBe(mlpConfig(report).depth);
      expect(charts?.theoryPoints).toBe(mlpConfig(report).depth - 1);
      expect(charts?.trainingPoints).toBe(1);
      const notice = await page.$eval('#run-notice', (el) => el.textContent ?? '');
      expect(notice).toContain('depth 200 → 100');
      expect(await page.evaluate(() => location.search)).toBe('?preset=explode');
      await screenshot(page, '#fig-heatmap', 'explode.png', true);
      expect(pageErrors).toEqual([]);
    });

    it('He preset: verdict stable', async () => {
      await page.click('#presets button[data-preset="he"]');
      await waitForRun(page, ++runs);
      const { report, charts, badge } = await reportState(page);
      expect(mlpConfig(report).init).toBe('he');
      expect(report?.verdict.status).toBe('stable');
      expect(badge).toBe('stable');
      expect(charts?.profilePoints).toBe(mlpConfig(report).depth);
      expect(await page.evaluate(() => location.search)).toBe('?preset=he');
      await screenshot(page, '#fig-heatmap', 'he-stable.png', true);
      expect(pageErrors).toEqual([]);
    });

    it('gain 1.0 preset: verdict vanishing', async () => {
      await page.click('#presets button[data-preset="vanish"]');
      await waitForRun(page, ++runs);
      const { report, charts } = await reportState(page);
      expect(report?.config.gain).toBe(1);
      expect(report?.verdict.status).toBe('vanishing');
      expect(charts?.profilePoints).toBe(mlpConfig(report).depth);
      await screenshot(page, '#fig-heatmap', 'vanish.png', true);
      expect(pageErrors).toEqual([]);
    });

    it('clipping preset: the run without clipping goes non-finite, the clipped run stays finite and clips: "gradient at init: exploding — training: rescued by clipping"', async () => {
      await page.click('#presets button[data-preset="clip"]');
      await waitForRun(page, ++runs);
      const { report, runs: both, charts } = await reportState(page);
      expect(both.map((r) => r.report.config.clip.kind)).toEqual(['none', 'norm']);
      const unclipped = both[0].report;
      expect(unclipped.verdict.status).toBe('diverged');
      expect(unclipped.verdict.firstNonfiniteStep).not.toBeNull();
      expect(unclipped.verdict.init?.status).toBe('exploding');
      expect(unclipped.verdict.training).toMatchObject({ status: 'diverged', divergedAtStep: unclipped.verdict.firstNonfiniteStep, stepsClipped: 0 });
      expect(report?.config.clip).toEqual({ kind: 'norm', threshold: 1 });
      expect(report?.verdict.firstNonfiniteStep).toBeNull();
      expect(report?.verdict.status).not.toBe('diverged');
      // Two truths, two verdicts: the gradient at initialization explodes; clipping keeps training finite.
      expect(report?.verdict.init?.status).toBe('exploding');
      expect(report?.verdict.training).toMatchObject({ status: 'rescued-by-clipping', steps: 20, divergedAtStep: null, divergedAtLayer: null });
      expect(report?.verdict.training?.stepsClipped).toBeGreaterThan(0);
      expect(await page.$eval('#verdict-two', (el) => el.textContent ?? '')).toBe('gradient at init: exploding — training: rescued by clipping');
      const steps = report?.steps ?? [];
      expect(steps).toHaveLength(20);
      for (const s of steps) {
        expect(Number.isFinite(s.loss) && Number.isFinite(s.gradNorm), `step ${s.step}`).toBe(true);
        expect(s.nonfinite).toBe(0);
      }
      expect(steps.filter((s) => s.clipScale < 1).length).toBeGreaterThan(0);
      expect(steps[steps.length - 1].loss).toBeLessThan(steps[0].loss / 1000);
      expect(charts?.trainingPoints).toBe(20);
      expect(charts?.heatmapCells).toBeGreaterThan(0);
      const flags = await page.$eval('#verdict', (el) => el.textContent ?? '');
      expect(flags).toMatch(/without clipping.*non-finite from step \d+, layer \d+/);
      // The two runs start from the same network: the profile chart draws one, not a comparison.
      expect(charts?.comparePoints).toBe(0);
      await screenshot(page, '#fig-training', 'clipping.png', true);
      expect(pageErrors).toEqual([]);
    });

    it(`RNN preset, T = 1000: gain 1.05 explodes and 0.95 vanishes, each at log10(gain) a step within ${GROWTH_TOLERANCE}, on the theory's line within ${THEORY_GAP_TOLERANCE} decades`, async () => {
      await page.click('#presets button[data-preset="rnn"]');
      await waitForRun(page, ++runs);
      const { runs: both, charts, badge } = await reportState(page);
      expect(both.map((r) => r.label)).toEqual(['gain 0.95', 'gain 1.05']);
      const [vanishing, exploding] = both.map((r) => r.report as RnnRunReport);
      for (const r of [vanishing, exploding]) {
        // Sized for SwiftShader by the page's software caps (the preset's full size is width 128, batch 16).
        expect(r.config).toMatchObject({ model: 'rnn', seqLen: 1000, width: 32, batch: 4, activation: 'linear', init: 'orthogonal', task: 'probe', lossAt: 'last', bptt: 'full', steps: 1 });
        expect(r.steps[0].timesteps).toHaveLength(1000);
        expect(r.verdict.predictionMethod).toBe('exact-orthogonal');
        expect(r.verdict.predictedGrowthPerStep).toBe(Math.log10(r.config.gain));
        expect(Math.abs(endToEndGrowth(r) - Math.log10(r.config.gain)), `gain ${r.config.gain}: end-to-end growth ${endToEndGrowth(r)}`).toBeLessThan(GROWTH_TOLERANCE);
        expect(Math.abs(r.verdict.growthPerStep! - Math.log10(r.config.gain)), `gain ${r.config.gain}: fitted growth ${r.verdict.growthPerStep}`).toBeLessThan(GROWTH_TOLERANCE);
      }
      expect(exploding.config.gain).toBe(1.05);
      expect(exploding.verdict.status).toBe('exploding');
      expect(vanishing.config.gain).toBe(0.95);
      expect(vanishing.verdict.status).toBe('vanishing');
      expect(badge).toBe('exploding');
      expect(await page.$eval('#verdict-compare-status', (el) => el.textContent)).toBe('vanishing');
      // Both runs and both theory lines are on the per-timestep chart, one heatmap cell per timestep.
      expect(charts).toMatchObject({ profilePoints: 1000, comparePoints: 1000, theoryPoints: 1000, heatmapCells: 1000, trainingPoints: 1 });
      expect(charts?.theoryGapDecades).toBeLessThan(THEORY_GAP_TOLERANCE);
      const text = await page.evaluate(() => ({
        notice: document.getElementById('run-notice')?.textContent ?? '',
        title: document.getElementById('profile-title')?.textContent ?? '',
        theory: document.getElementById('profile-theory')?.textContent ?? '',
      }));
      expect(text.notice).toContain('width 128 → 32, batch 16 → 4');
      expect(text.title).toBe('Gradient norm per timestep');
      expect(text.theory).toContain('1.05^(T−t)');
      expect(await page.evaluate(() => location.search)).toBe('?preset=rnn');
      await screenshot(page, '#fig-heatmap', 'rnn.png', true);
      expect(pageErrors).toEqual([]);
    });

    it('LSTM preset, adding problem at T = 1000: the tanh RNN\'s gradient is exactly zero far from the end, the LSTM (forget bias 5) carries ‖∂L/∂c_t‖ across all 1000 steps; both series and the forget-gate theory line; an LSTM report file opens', async () => {
      const cliFile = cliLstmReport();
      await page.click('#presets button[data-preset="lstm"]');
      await waitForRun(page, ++runs);
      const { runs: both, charts, badge } = await reportState(page);
      expect(both.map((r) => r.label)).toEqual(['RNN tanh', 'LSTM forget bias 5']);
      const rnn = both[0].report as RnnRunReport;
      const lstm = both[1].report as LstmRunReport;
      // Sized for SwiftShader by the page's software caps (the preset's full size is width 64, batch 16).
      expect(rnn.config).toMatchObject({ model: 'rnn', seqLen: 1000, width: 32, batch: 4, activation: 'tanh', task: 'adding', steps: 1 });
      expect(lstm.config).toMatchObject({ model: 'lstm', seqLen: 1000, width: 32, batch: 4, forgetBias: 5, task: 'adding', input: 2, output: 1, steps: 1 });
      const rnnZeros = rnn.steps[0].timesteps.filter((t) => t.hiddenGradNorm === 0).length;
      expect(rnnZeros).toBeGreaterThan(400);
      expect(rnn.verdict.status).toBe('vanishing');
      const cells = lstm.steps[0].timesteps;
      expect(cells).toHaveLength(1000);
      expect(cells.every((t) => t.cellGradNorm > 0 && t.hiddenGradNorm > 0)).toBe(true);
      // The cell gradient at t = 1 is within a decade of t = T, and the forget gates' rate agrees with the fitted one.
      expect(Math.abs(Math.log10(cells[0].cellGradNorm / cells[999].cellGradNorm))).toBeLessThan(1);
      expect(lstm.verdict.fittedTimesteps).toEqual([1, 1000]);
      expect(lstm.verdict.cellTheory.agrees).toBe(true);
      expect(badge).toBe('stable');
      expect(await page.$eval('#verdict-compare-status', (el) => el.textContent)).toBe('vanishing');
      // ‖∂L/∂h_t‖ and ‖∂L/∂c_t‖ of the LSTM at every timestep; the RNN's exact zeros have no place on the log axis.
      expect(charts).toMatchObject({ profilePoints: 1000, cellPoints: 1000, comparePoints: 1000 - rnnZeros, theoryPoints: 0 });
      const text = await page.evaluate(() => ({
        notice: document.getElementById('run-notice')?.textContent ?? '',
        legend: document.getElementById('fig-profile')?.textContent ?? '',
        theory: document.getElementById('profile-theory')?.textContent ?? '',
        verdict: document.getElementById('verdict')?.textContent ?? '',
      }));
      expect(text.notice).toContain('width 64 → 32, batch 16 → 4');
      expect(text.legend).toContain('‖∂L/∂cₜ‖ cell');
      expect(text.theory).toMatch(/Theory \(forget gates\): cell path .* forget bias 5 \(σ\(b_f\) = 0\.993\)/);
      expect(text.verdict).toMatch(/theory \(forget gates\)cell path ∂c_\{t−1\} = f_t ⊙ ∂c_t: .* — agrees/);
      expect(text.verdict).toContain(`exactly zero at ${rnnZeros} timesteps`);
      expect(await page.evaluate(() => location.search)).toBe('?preset=lstm');
      // The form holds the LSTM: its forget bias shown, the fields an LSTM has not hidden.
      const form = await page.evaluate(() => ({
        model: (document.getElementById('model') as HTMLSelectElement).value,
        forgetBias: (document.getElementById('forgetBias') as HTMLInputElement).value,
        forgetBiasHidden: (document.getElementById('forgetBias')?.closest('label') as HTMLElement).hidden,
        activationHidden: (document.getElementById('activation')?.closest('label') as HTMLElement).hidden,
        bpttHidden: (document.getElementById('bptt')?.closest('label') as HTMLElement).hidden,
      }));
      expect(form).toEqual({ model: 'lstm', forgetBias: '5', forgetBiasHidden: false, activationHidden: true, bpttHidden: true });
      await screenshot(page, '#fig-heatmap', 'lstm.png', true);
      // The same views from a file the CLI wrote.
      const input = (await page.$('#report-file')) as ElementHandle<HTMLInputElement>;
      await input.uploadFile(await cliFile);
      await page.waitForFunction(() => window.__gradstormReportFile?.name === 'lstm.json', { timeout: 10_000 });
      const opened = await reportState(page);
      expect(await page.evaluate(() => window.__gradstormReportFile)).toEqual({ ok: true, name: 'lstm.json', errors: [] });
      expect(opened.report?.config).toMatchObject({ model: 'lstm', seqLen: 12, forgetBias: 2 });
      expect(opened.charts).toMatchObject({ profilePoints: 12, cellPoints: 12, heatmapCells: 24, trainingPoints: 2 });
      expect(await page.$eval('#verdict', (el) => el.textContent ?? '')).toContain('forget bias 2 (σ(b_f) = 0.881)');
      expect(pageErrors).toEqual([]);
    });

    it('residual preset: A = 1/√L keeps the depth-200 ReLU net stable on the residual theory line, beside the plain net that explodes', async () => {
      await page.goto(url('?preset=residual'), { waitUntil: 'load' });
      runs = 0;
      await waitForRun(page, ++runs);
      const { runs: both, badge } = await reportState(page);
      expect(both.map((r) => r.label)).toEqual(['plain (A = 0)', 'A = 1/√L']);
      const [plain, residual] = both.map((r) => r.report);
      expect(plain.verdict.status).toBe('exploding');
      expect(mlpConfig(plain).residual).toBeUndefined();
      // Sized down for SwiftShader (depth 100, width 128); A stays 1/√200 as the preset set it.
      expect(mlpConfig(residual).residual).toBeCloseTo(1 / Math.sqrt(200), 12);
      expect(residual.verdict.predictionMethod).toBe('residual-meanfield');
      expect(residual.verdict.status).toBe('stable');
      const measured = residual.verdict.growthPerLayer ?? NaN;
      const predicted = residual.verdict.predictedGrowthPerLayer ?? NaN;
      expect(Math.abs(measured - predicted), `measured ${measured}, predicted ${predicted}`).toBeLessThan(0.005);
      expect(badge).toBe('stable');
      // The residual theory line is drawn for both runs (the plain one's is the he2015 line).
      const { charts } = await reportState(page);
      expect(charts?.theoryPoints).toBe(mlpConfig(residual).depth - 1);
      expect(charts?.theoryGapDecades).toBeLessThan(0.3);
      expect(await page.evaluate(() => location.search)).toBe('?preset=residual');
      expect(pageErrors).toEqual([]);
    });

    it('LayerNorm preset: post-norm\'s gradient near the output is much larger than pre-norm\'s (Xiong et al. 2020), both on their mean-field lines; the form shows the norm controls', async () => {
      await page.click('#presets button[data-preset="layernorm"]');
      await waitForRun(page, ++runs);
      const { runs: both, charts } = await reportState(page);
      expect(both.map((r) => r.label)).toEqual(['post-norm', 'pre-norm']);
      const [post, pre] = both.map((r) => r.report);
      expect(mlpConfig(post)).toMatchObject({ residual: 1, norm: 'layer', normPlace: 'post', depth: 100, width: 128, batch: 16 });
      expect(mlpConfig(pre)).toMatchObject({ residual: 1, norm: 'layer', normPlace: 'pre', depth: 100 });
      expect(post.verdict.predictionMethod).toBe('layernorm-post-meanfield');
      expect(pre.verdict.predictionMethod).toBe('layernorm-pre-meanfield');
      const [p, q] = [post, pre].map((r) => (r.verdict as { profile?: { measuredLog10OutputRatio: number; predictedLog10OutputRatio: number; maxGapDecades: number } }).profile!);
      // Near the output: post-norm O(1) (theory +0.05), pre-norm O(1/√L) (theory −0.85 at depth 100): ~0.9 decade apart.
      expect(p.measuredLog10OutputRatio - q.measuredLog10OutputRatio, `post ${p.measuredLog10OutputRatio}, pre ${q.measuredLog10OutputRatio}`).toBeGreaterThan(0.6);
      for (const x of [p, q]) expect(Math.abs(x.measuredLog10OutputRatio - x.predictedLog10OutputRatio)).toBeLessThan(0.15);
      // Pre-norm is deterministic to a few hundredths of a decade at width 128; post-norm wanders around its flat line.
      expect(q.maxGapDecades).toBeLessThan(0.1);
      expect(p.maxGapDecades).toBeLessThan(0.6);
      expect(pre.verdict.status).toBe('stable');
      expect(charts).toMatchObject({ profilePoints: 100, comparePoints: 100, theoryPoints: 99 });
      const page2 = await page.evaluate(() => ({
        verdict: document.getElementById('verdict')?.textContent ?? '',
        story: document.getElementById('story')?.textContent ?? '',
        form: ['norm', 'normPlace', 'residual'].map((id) => (document.getElementById(id) as HTMLInputElement).value),
      }));
      expect(page2.verdict).toContain('layernorm-pre-meanfield');
      expect(page2.verdict).toMatch(/near the output/);
      expect(page2.story).toContain('Xiong');
      expect(page2.form).toEqual(['layer', 'pre', '1']);
      expect(await page.evaluate(() => location.search)).toBe('?preset=layernorm');
      await screenshot(page, '#fig-heatmap', 'layernorm.png', true);
      // The controls: post-norm goes into the link; norm none greys out the place and leaves both keys out.
      await page.select('#normPlace', 'post');
      expect(await page.evaluate(() => new URLSearchParams(location.search).get('place'))).toBe('post');
      await page.select('#norm', 'none');
      const none = await page.evaluate(() => ({ search: location.search, placeDisabled: (document.getElementById('normPlace') as HTMLSelectElement).disabled }));
      expect(none.placeDisabled).toBe(true);
      expect(none.search).not.toMatch(/norm=|place=/);
      // A LayerNorm without residual blocks: the engine's message, and Run is disabled.
      await page.select('#norm', 'layer');
      await page.$eval('#residual', (el) => {
        (el as HTMLInputElement).value = '0';
        el.dispatchEvent(new Event('input', { bubbles: true }));
      });
      const invalid = await page.evaluate(() => ({ error: document.getElementById('form-error')?.textContent ?? '', runDisabled: (document.getElementById('run-button') as HTMLButtonElement).disabled }));
      expect(invalid.error).toMatch(/norm layer normalizes the residual blocks.*--residual A > 0/);
      expect(invalid.runDisabled).toBe(true);
      expect(pageErrors).toEqual([]);
    });

    it('a shared link restores every control and runs that configuration', async () => {
      const query = '?depth=6&width=16&batch=4&act=tanh&init=xavier&gain=1.1&bias=0.1&loss=mse&opt=adam&lr=0.001&clip=value%3A0.5&seed=3&steps=3';
      await page.goto(url(query), { waitUntil: 'load' });
      runs = 0;
      await waitForRun(page, ++runs);
      const { report, charts } = await reportState(page);
      expect(report?.config).toMatchObject({ depth: 6, width: 16, batch: 4, activation: 'tanh', init: 'xavier', gain: 1.1, biasStd: 0.1, loss: 'mse', optimizer: 'adam', lr: 0.001, clip: { kind: 'value', threshold: 0.5 }, seed: 3, steps: 3 });
      expect(charts?.trainingPoints).toBe(3);
      const form = await page.evaluate(() => ['depth', 'width', 'activation', 'init', 'optimizer', 'clipKind', 'clipThreshold', 'steps'].map((id) => (document.getElementById(id) as HTMLInputElement).value));
      expect(form).toEqual(['6', '16', 'tanh', 'xavier', 'adam', 'value', '0.5', '3']);
      expect(await page.evaluate(() => new URLSearchParams(location.search).get('clip'))).toBe('value:0.5');
      expect(pageErrors).toEqual([]);
    });

    it('an RNN link restores the RNN controls, runs that RNN, writes the same link back, and shows the engine\'s validation message', async () => {
      const query = '?model=rnn&seq=40&width=16&batch=2&act=tanh&init=identity&gain=0.9&bias=0.1&task=probe&at=all&bptt=25&opt=momentum&lr=0.001&clip=norm%3A2&seed=4&steps=2';
      await page.goto(url(query), { waitUntil: 'load' });
      runs = 0;
      await waitForRun(page, ++runs);
      const { report, charts } = await reportState(page);
      expect(report?.config).toEqual({ model: 'rnn', seqLen: 40, width: 16, input: 16, output: 16, batch: 2, activation: 'tanh', init: 'identity', gain: 0.9, biasStd: 0.1, task: 'probe', loss: 'probe', lossAt: 'all', bptt: 25, optimizer: 'momentum', lr: 0.001, clip: { kind: 'norm', threshold: 2 }, seed: 4, steps: 2 });
      // tanh has no exact rate: no theory line, Pascanu's condition in words instead.
      expect(charts).toMatchObject({ profilePoints: 40, theoryPoints: 0, heatmapCells: 80, trainingPoints: 2 });
      const form = await page.evaluate(() => ({
        values: ['model', 'seqLen', 'width', 'activation', 'rnnInit', 'task', 'lossAt', 'bptt', 'optimizer', 'clipKind', 'clipThreshold', 'steps'].map((id) => (document.getElementById(id) as HTMLInputElement).value),
        depthShown: !(document.getElementById('depth')?.closest('label')?.hidden ?? true),
        theory: document.getElementById('profile-theory')?.textContent ?? '',
      }));
      expect(form.values).toEqual(['rnn', '40', '16', 'tanh', 'identity', 'probe', 'all', '25', 'momentum', 'norm', '2', '2']);
      expect(form.depthShown).toBe(false);
      expect(form.theory).toMatch(/No exact line: .*Pascanu/);
      await page.click('#share-button');
      expect(await page.evaluate(() => location.search)).toBe(query);

      await page.select('#task', 'adding');
      const invalid = await page.evaluate(() => ({ error: document.getElementById('form-error')?.textContent ?? '', runDisabled: (document.getElementById('run-button') as HTMLButtonElement).disabled }));
      expect(invalid.error).toMatch(/^loss-at all: the adding problem has its one target at the last step/);
      expect(invalid.runDisabled).toBe(true);
      expect(await page.evaluate(() => location.search)).toBe(query);

      // Back to the MLP: its fields, and a link in the MLP's own form (no model=).
      await page.select('#model', 'mlp');
      const mlp = await page.evaluate(() => ({ search: location.search, depthShown: !(document.getElementById('depth')?.closest('label')?.hidden ?? true), error: document.getElementById('form-error')?.hidden }));
      expect(mlp.depthShown).toBe(true);
      expect(mlp.error).toBe(true);
      expect(mlp.search).toMatch(/^\?depth=\d+&width=/);
      expect(pageErrors).toEqual([]);
    });

    it('a diverging RNN is flagged with the step and the timestep where non-finite values began', async () => {
      // Linear, orthogonal gain 1.2 over T = 200: ‖g‖ ≈ 10¹⁸ at step 1, so the unclipped update overflows the forward pass of step 2.
      await page.goto(url('?model=rnn&seq=200&width=8&batch=2&act=linear&init=orthogonal&gain=1.2&steps=2'), { waitUntil: 'load' });
      runs = 0;
      await waitForRun(page, ++runs);
      const { report, badge } = await reportState(page);
      const rnn = report as RnnRunReport;
      expect(rnn.verdict.status).toBe('diverged');
      expect(rnn.verdict.firstNonfiniteStep).toBe(2);
      const where = rnn.steps[1].nonfiniteTimestep;
      expect(where).not.toBeNull();
      expect(badge).toBe('diverged');
      const facts = await page.$eval('#verdict', (el) => el.textContent ?? '');
      expect(facts).toContain(`non-finite from step 2, timestep ${where}`);
      expect(pageErrors).toEqual([]);
    });

    it('Stop ends a long run after the step in flight, keeps its charts and leaves the page usable', async () => {
      await page.goto(url('?depth=40&width=64&batch=8&steps=40&loss=mse&lr=0.001'), { waitUntil: 'load' });
      await page.waitForFunction(() => (window.__gradstormCharts?.trainingPoints ?? 0) >= 2, { timeout: RUN_TIMEOUT });
      await page.click('#stop-button');
      await page.waitForFunction(() => window.__gradstormRun?.status !== 'running', { timeout: RUN_TIMEOUT });
      const state = await page.evaluate(() => ({
        run: window.__gradstormRun,
        points: window.__gradstormCharts?.trainingPoints ?? 0,
        runEnabled: !(document.getElementById('run-button') as HTMLButtonElement).disabled,
        stopEnabled: !(document.getElementById('stop-button') as HTMLButtonElement).disabled,
        status: document.getElementById('run-status')?.textContent ?? '',
      }));
      expect(state.run?.status).toBe('stopped');
      expect(state.points).toBeGreaterThanOrEqual(2);
      expect(state.points).toBeLessThan(40);
      expect(state.status).toMatch(/^Stopped/);
      expect(state.runEnabled).toBe(true);
      expect(state.stopEnabled).toBe(false);
      expect(pageErrors).toEqual([]);
    });

    it('opens a report the CLI wrote in the same charts; malformed files get a message and change nothing', async () => {
      const good = await cliReport();
      const input = (await page.$('#report-file')) as ElementHandle<HTMLInputElement>;
      await input.uploadFile(good);
      await page.waitForFunction(() => window.__gradstormReportFile?.name === 'run.json', { timeout: 10_000 });
      const opened = await page.evaluate(() => ({ file: window.__gradstormReportFile, depth: (window.__gradstormLastReport?.config as { depth?: number } | undefined)?.depth, charts: window.__gradstormCharts }));
      expect(opened.file).toEqual({ ok: true, name: 'run.json', errors: [] });
      expect(opened.depth).toBe(5);
      expect(opened.charts?.trainingPoints).toBe(2);
      expect(opened.charts?.profilePoints).toBeGreaterThan(0);
      expect(opened.charts?.heatmapCells).toBeGreaterThan(0);

      const cases: [string, string, RegExp][] = [
        ['truncated.json', readFileSync(good, 'utf8').slice(0, 200), /not JSON/],
        ['wrong-schema.json', JSON.stringify({ schema: 'gradstorm.check/1', results: [] }), /gradstorm\.check\/1 file/],
        ['bad-field.json', readFileSync(good, 'utf8').replace('"deltaNorm": ', '"deltaNorm": "big", "x": '), /steps\[0\]\.layers\[0\]\.deltaNorm: expected number, got string "big"/],
      ];
      for (const [name, text, message] of cases) {
        const file = join(scratch, name);
        writeFileSync(file, text);
        await input.uploadFile(file);
        await page.waitForFunction((n: string) => window.__gradstormReportFile?.name === n, { timeout: 10_000 }, name);
        const state = await page.evaluate(() => ({ file: window.__gradstormReportFile, depth: (window.__gradstormLastReport?.config as { depth?: number } | undefined)?.depth, shown: document.getElementById('file-message')?.textContent ?? '' }));
        expect(state.file?.ok, name).toBe(false);
        expect(state.shown).toMatch(message);
        expect(state.depth, 'the report on screen is unchanged').toBe(5);
      }
      expect(pageErrors).toEqual([]);
    });

    it('opens an RNN report the CLI wrote (per-timestep rows) in the same charts; malformed ones get a message and change nothing', async () => {
      const good = await cliRnnReport();
      const input = (await page.$('#report-file')) as ElementHandle<HTMLInputElement>;
      await input.uploadFile(good);
      await page.waitForFunction(() => window.__gradstormReportFile?.name === 'rnn.json', { timeout: 10_000 });
      const opened = await page.evaluate(() => ({
        file: window.__gradstormReportFile,
        config: window.__gradstormLastReport?.config,
        charts: window.__gradstormCharts,
        badge: document.getElementById('verdict-status')?.textContent ?? '',
        title: document.getElementById('profile-title')?.textContent ?? '',
        heatTitle: document.getElementById('heat-title')?.textContent ?? '',
      }));
      expect(opened.file).toEqual({ ok: true, name: 'rnn.json', errors: [] });
      expect(opened.config).toMatchObject({ model: 'rnn', seqLen: 30, gain: 0.9 });
      // Linear, orthogonal: the exact line; 0.9^29 is 1.3 decades down.
      expect(opened.charts).toMatchObject({ profilePoints: 30, theoryPoints: 30, heatmapCells: 60, trainingPoints: 2 });
      expect(opened.charts?.theoryGapDecades).toBeLessThan(THEORY_GAP_TOLERANCE);
      expect(opened.badge).toBe('vanishing');
      expect(opened.title).toBe('Gradient norm per timestep');
      expect(opened.heatTitle).toContain('timestep × step');

      const text = readFileSync(good, 'utf8');
      const wrongLength = JSON.parse(text) as { config: { seqLen: number } };
      wrongLength.config.seqLen = 31;
      const cases: [string, string, RegExp][] = [
        ['rnn-bad-field.json', text.replace('"hiddenGradNorm": ', '"hiddenGradNorm": "big", "x": '), /steps\[0\]\.timesteps\[0\]\.hiddenGradNorm: expected number, got string "big"/],
        ['rnn-wrong-length.json', JSON.stringify(wrongLength), /steps\[0\]\.timesteps: expected an array of 31 timesteps/],
      ];
      for (const [name, body, message] of cases) {
        const file = join(scratch, name);
        writeFileSync(file, body);
        await input.uploadFile(file);
        await page.waitForFunction((n: string) => window.__gradstormReportFile?.name === n, { timeout: 10_000 }, name);
        const state = await page.evaluate(() => ({ file: window.__gradstormReportFile, seqLen: (window.__gradstormLastReport?.config as { seqLen?: number } | undefined)?.seqLen, shown: document.getElementById('file-message')?.textContent ?? '' }));
        expect(state.file?.ok, name).toBe(false);
        expect(state.shown).toMatch(message);
        expect(state.seqLen, 'the report on screen is unchanged').toBe(30);
      }
      expect(pageErrors).toEqual([]);
    });

    it('phase diagram: gain × depth for relu and tanh fills in, explodes right of the critical line and vanishes left of it', async () => {
      await page.goto(url('?phase=1&pgains=0.6:2:0.2&pdepths=8,16,32,64&pwidth=64&pbatch=8&pbias=0.1'), { waitUntil: 'load' });
      await page.waitForFunction(() => window.__gradstormPhase !== undefined && !window.__gradstormPhase.running, { timeout: RUN_TIMEOUT });
      const phase = await page.evaluate(() => window.__gradstormPhase);
      expect(phase?.error).toBeUndefined();
      expect(phase?.done).toBe(8 * 4 * 2);
      const points = phase?.points ?? [];
      expect(points.filter((p) => p.status === 'error')).toEqual([]);
      const at = (activation: string, gain: number, depth: number) => points.find((p) => p.activation === activation && p.gain === gain && p.depth === depth);
      expect(at('relu', 2, 64)?.status).toBe('exploding');
      expect(at('relu', 0.6, 64)?.status).toBe('vanishing');
      expect(at('tanh', 0.6, 64)?.status).toBe('vanishing');
      expect(at('tanh', 2, 64)?.totalChangeDecades).toBeGreaterThan(1);
      // Growth increases with gain, at every depth: the critical line separates the signs.
      for (const depth of [32, 64]) {
        expect(at('relu', 1.2, depth)?.totalChangeDecades).toBeLessThan(0);
        expect(at('relu', 1.6, depth)?.totalChangeDecades).toBeGreaterThan(0);
      }
      const status = await page.$eval('#phase-status', (el) => el.textContent ?? '');
      expect(status).toMatch(/64 of 64 networks/);
      expect(await page.evaluate(() => window.__gradstormCharts?.yTicks)).toMatchObject({ phaseRelu: ['8', '16', '32', '64'], phaseTanh: ['8', '16', '32', '64'] });
      await screenshot(page, '#phase', 'phase-diagram.png');
      expect(pageErrors).toEqual([]);
    });

    describe('Kernels view: the bench suite and the autotuner in the page', () => {
      /** The tiniest plan that still shows everything: one 64³ matmul in one layout (one shape class to tune), relu, both baselines, one run. */
      const TINY_BENCH = '?bkernels=matmul,relu&bsizes=64&bshapes=none&blayouts=nt&bvariants=register,tiled,tuned&bbase=plain-js,tfjs-webgpu&bruns=1';
      let firstRun: BenchReport | null = null;
      let tunedAt = '';

      it('runs a tiny bench from a link: the report validates, every entry within tolerance, tables with ratios, the autotuner’s choice per class', async () => {
        // Start without a stored tuning table for this adapter, so the run measures its class.
        await page.goto(url('?bench=0'), { waitUntil: 'load' });
        await page.evaluate(() => {
          for (const key of Object.keys(localStorage)) if (key.startsWith('gradstorm.')) localStorage.removeItem(key);
        });
        await page.goto(url(TINY_BENCH), { waitUntil: 'load' });
        await waitForBench(page);
        const s = await benchState(page);
        const report = s.bench?.report ?? null;
        expect(validateBenchReport(JSON.parse(JSON.stringify(report)))).toBeNull();
        firstRun = report;
        expect(report?.adapter.software).toBe(true);
        const matmul = report?.entries.filter((e) => e.kernel.startsWith('matmul.')) ?? [];
        expect(matmul.map((e) => `${e.kernel} ${e.shape} ${e.variant}`)).toEqual(['matmul.nt 64×64×64 register', 'matmul.nt 64×64×64 tiled', 'matmul.nt 64×64×64 tuned']);
        for (const e of report?.entries ?? []) expect(e.withinTolerance, `${e.kernel} ${e.shape} ${e.variant}: max |Δ| ${e.maxError}`).toBe(true);
        expect(report?.entries.map((e) => e.kernel)).toEqual(expect.arrayContaining(['relu.forward', 'relu.backward']));
        // Both baselines ran in the page (TF.js from its own chunk) and every matmul entry has a ratio against each.
        expect(new Set(report?.baselines.map((b) => `${b.kernel} ${b.variant}`))).toEqual(new Set(['matmul.nt plain-js', 'matmul.nt tfjs-webgpu', 'relu.forward tfjs-webgpu']));
        expect(report?.ratios.filter((r) => r.kernel === 'matmul.nt')).toHaveLength(3 * 2);
        expect(report?.skipped).toEqual([]);

        // The autotuner measured the one class of a 64³ nt product, and the tuned entry ran its choice.
        const [tuned, ...more] = s.bench?.tuned ?? [];
        expect(more).toEqual([]);
        expect(tuned?.shapeClass).toBe('matmul/nt/sss/v4');
        expect(tuned?.candidates.filter((c) => c.ms !== null).length).toBeGreaterThan(1);
        expect(report?.tuning?.classes).toEqual([{ shapeClass: 'matmul/nt/sss/v4', variant: tuned?.variant, ms: tuned?.ms, measured: true }]);
        expect(matmul.find((e) => e.variant === 'tuned')?.note).toContain(tuned?.variant);
        expect(s.chosen).toEqual([{ shapeClass: 'matmul/nt/sss/v4', chosen: tuned?.variant }]);
        expect(s.tuning).toMatchObject({ source: 'measured', retuning: false });
        tunedAt = s.tuning?.table?.updated ?? '';

        // The tables are the CLI's (benchTables), with a ratio column per baseline.
        expect(s.matmulTable?.header).toEqual(expect.arrayContaining(['kernel', 'shape', 'variant', 'median ms', 'GFLOP/s', 'vs TF.js', 'vs plain JS', 'max |Δ|']));
        const ratioColumn = s.matmulTable?.header.indexOf('vs plain JS') ?? -1;
        const tunedRow = s.matmulTable?.rows.find((r) => r[2] === 'tuned');
        expect(tunedRow?.[ratioColumn]).toMatch(/^\d[\d.]*×$/);
        expect(s.bandwidthTable?.header).toContain('vs TF.js');
        // The adapter panel shows the same run's matmul rows and ratios.
        expect(s.adapterTable?.rows.map((r) => r[2])).toEqual(['register', 'tiled', 'tuned']);
        expect(s.adapterTable?.header).toContain('vs plain JS');
        expect(s.downloadEnabled).toBe(true);
        expect(s.status).toMatch(/^Done in/);
        await screenshot(page, '#kernels', 'kernels.png');
        expect(pageErrors).toEqual([]);
      });

      it('a reload keeps the tuning table (localStorage): the same link runs again without measuring, the adapter panel keeps its table; Retune measures again', async () => {
        await page.reload({ waitUntil: 'load' });
        await waitForBench(page);
        const s = await benchState(page);
        expect(validateBenchReport(JSON.parse(JSON.stringify(s.bench?.report)))).toBeNull();
        expect(s.bench?.tuned).toEqual([]);
        const chosen = firstRun?.tuning?.classes[0]?.variant;
        expect(s.bench?.report?.tuning?.classes).toEqual([expect.objectContaining({ shapeClass: 'matmul/nt/sss/v4', variant: chosen, measured: false })]);
        expect(s.tuning?.source).toBe('stored');
        expect(s.tuning?.table?.updated).toBe(tunedAt);
        expect(s.chosen).toEqual([{ shapeClass: 'matmul/nt/sss/v4', chosen }]);
        expect(s.adapterTable?.rows).toHaveLength(3);

        // Retune measures the class again (as `--retune`) and saves the new table.
        await page.click('#tuning-retune');
        await page.waitForFunction(() => window.__gradstormTuning?.retuning === false && /^Retuned/.test(document.getElementById('bench-status')?.textContent ?? ''), { timeout: RUN_TIMEOUT, polling: 200 });
        const retuned = await benchState(page);
        expect(retuned.status).toMatch(/^Retuned 1 class in/);
        expect(retuned.tuning?.source).toBe('measured');
        expect(retuned.tuning?.table?.updated).not.toBe(tunedAt);
        expect(retuned.chosen.map((c) => c.shapeClass)).toEqual(['matmul/nt/sss/v4']);
        expect(pageErrors).toEqual([]);
      });

      it('opens a gradstorm.bench/1 report in the Kernels view; a malformed one gets the validator’s message', async () => {
        const good = join(scratch, 'bench.json');
        writeFileSync(good, JSON.stringify(firstRun));
        const input = (await page.$('#bench-file')) as ElementHandle<HTMLInputElement>;
        await input.uploadFile(good);
        await page.waitForFunction(() => window.__gradstormBench?.state === 'file', { timeout: 10_000 });
        const opened = await benchState(page);
        expect(opened.bench?.file).toBe('bench.json');
        expect(opened.matmulTable?.rows.filter((r) => r[2] === 'tuned')).toHaveLength(1);

        const broken = JSON.parse(JSON.stringify(firstRun)) as { entries: { ms: number }[] };
        broken.entries[0].ms = -1;
        const bad = join(scratch, 'bench-bad.json');
        writeFileSync(bad, JSON.stringify(broken));
        await input.uploadFile(bad);
        await page.waitForFunction(() => window.__gradstormReportFile?.name === 'bench-bad.json', { timeout: 10_000 });
        const state = await page.evaluate(() => ({ file: window.__gradstormReportFile, shown: document.getElementById('bench-error')?.textContent ?? '', bench: window.__gradstormBench?.file }));
        expect(state.file?.ok).toBe(false);
        expect(state.shown).toMatch(/bench-bad\.json is not a benchmark report.*entries\[0\]\.ms: expected > 0, got number -1/);
        expect(state.bench, 'the report on screen is unchanged').toBe('bench.json');
        expect(pageErrors).toEqual([]);
      });
    });

    it('?selftest runs the kernel conformance suite in the page and publishes it: all pass', async () => {
      await page.goto(url('?selftest'), { waitUntil: 'load' });
      await page.waitForFunction(() => window.__gradstormSelfTest?.done === true, { timeout: 240_000, polling: 500 });
      const result = await page.evaluate(() => window.__gradstormSelfTest);
      const failures = (result?.results ?? []).filter((r) => !r.ok).map((r) => `${r.kernel} ${r.shape}: ${r.detail}`);
      expect(result?.error).toBeUndefined();
      expect(failures).toEqual([]);
      expect(result?.failed).toBe(0);
      expect(result?.passed).toBe(result?.total);
      expect(result?.total).toBeGreaterThan(100);
      // Every kernel family of the suite runs in the page.
      expect(new Set(result?.results.map((r) => r.family))).toEqual(new Set(CONFORMANCE_FAMILIES));
      expect(pageErrors).toEqual([]);
    }, 260_000);
  });

  it('without WebGPU the page says so and what to do, and still opens reports', async () => {
    const page = await openPage();
    try {
      await page.evaluateOnNewDocument(() => {
        Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });
      });
      await page.goto(url('?preset=explode'), { waitUntil: 'load' });
      await page.waitForFunction(() => window.__gradstormGpu !== undefined, { timeout: 30_000 });
      const state = await page.evaluate(() => ({
        gpu: window.__gradstormGpu,
        banner: document.getElementById('banner')?.textContent ?? '',
        bannerClass: document.getElementById('banner')?.className ?? '',
        runDisabled: (document.getElementById('run-button') as HTMLButtonElement).disabled,
        presetsDisabled: Array.from(document.querySelectorAll<HTMLButtonElement>('#presets button')).every((b) => b.disabled),
        run: window.__gradstormRun ?? null,
      }));
      expect(state.gpu?.available).toBe(false);
      expect(state.bannerClass).toContain('error');
      expect(state.banner).toMatch(/no WebGPU adapter/);
      expect(state.banner).toContain('--enable-unsafe-webgpu');
      expect(state.banner).toContain('npx gradstorm stress');
      expect(state.runDisabled).toBe(true);
      expect(state.presetsDisabled).toBe(true);
      expect(state.run).toBeNull();
      const input = (await page.$('#report-file')) as ElementHandle<HTMLInputElement>;
      await input.uploadFile(await cliReport());
      await page.waitForFunction(() => window.__gradstormReportFile?.name === 'run.json', { timeout: 10_000 });
      const opened = await page.evaluate(() => ({ ok: window.__gradstormReportFile?.ok, depth: (window.__gradstormLastReport?.config as { depth?: number } | undefined)?.depth, charts: window.__gradstormCharts }));
      expect(opened.ok).toBe(true);
      expect(opened.depth).toBe(5);
      expect(opened.charts?.trainingPoints).toBe(2);
      expect(pageErrors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});

describe('chart axes at any magnitude, and links the page cannot understand (issue 14)', () => {
  let page: Page;

  beforeAll(async () => {
    page = await openPage();
  });

  afterAll(async () => {
    await page?.close();
  });

  /** The y-axis labels each chart drew, as the page publishes them. */
  const yTicks = () => page.evaluate(() => window.__gradstormCharts?.yTicks ?? null);
  /** The exponent of a 10ᵏ label ('10⁻³⁰⁰' → -300, '1' → 0); NaN for any other label. */
  const exponentOf = (label: string): number => {
    if (label === '1') return 0;
    const m = /^10(⁻?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)$/.exec(label);
    return m ? Number(Array.from(m[1]).map((c) => (c === '⁻' ? '-' : String('⁰¹²³⁴⁵⁶⁷⁸⁹'.indexOf(c)))).join('')) : NaN;
  };
  /** Every label a whole decade, at least two of them, evenly spaced; returns the exponents. */
  const decades = (labels: string[] | undefined, chart: string): number[] => {
    const ks = (labels ?? []).map(exponentOf);
    expect(ks.length, `${chart}: ${JSON.stringify(labels)}`).toBeGreaterThanOrEqual(2);
    expect(ks.every(Number.isInteger), `${chart}: ${JSON.stringify(labels)}`).toBe(true);
    for (let i = 2; i < ks.length; i++) expect(ks[i] - ks[i - 1], `${chart}: ${JSON.stringify(labels)}`).toBe(ks[1] - ks[0]);
    return ks;
  };

  it('a live run past 1e32 (ReLU gain 3, depth 100): every chart keeps its tick labels', async () => {
    await page.goto(url('?depth=100&width=128&batch=16&gain=3'), { waitUntil: 'load' });
    await waitForRun(page, 1);
    const report = (await page.evaluate(() => window.__gradstormLastReport)) as AnyRunReport;
    const step = (report as Extract<AnyRunReport, { config: MlpConfig }>).steps[0];
    const largest = Math.max(...step.layers.map((l) => l.deltaNorm).filter(Number.isFinite));
    expect(largest, 'the run reaches the magnitudes where uPlot’s own log axis went blank').toBeGreaterThan(1e32);
    expect(step.gradNorm).toBeGreaterThan(1e32);
    const ticks = await yTicks();
    const profile = decades(ticks?.profile, 'profile');
    expect(Math.max(...profile)).toBeGreaterThanOrEqual(Math.floor(Math.log10(largest)) - 5);
    const training = decades(ticks?.training, 'training ‖g‖');
    expect(Math.max(...training)).toBeGreaterThanOrEqual(30);
    // The probe loss: signed, on a linear axis whose labels carry the ×10ᵏ.
    expect(ticks?.trainingLoss.length).toBeGreaterThanOrEqual(2);
    expect(ticks?.trainingLoss.every((t) => /^(-?\d+(\.\d+)?(×10⁻?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)?|-?10⁻?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)$/.test(t)), JSON.stringify(ticks?.trainingLoss)).toBe(true);
    expect(ticks?.heatmap.length).toBeGreaterThanOrEqual(2);
    expect(pageErrors).toEqual([]);
  });

  it('a report with norms from 1e-300 to 1e300 (and ‖g‖, loss near 1e300) opens with readable labels on every chart', async () => {
    const report = JSON.parse(readFileSync(await cliReport(), 'utf8')) as { steps: { gradNorm: number; loss: number; layers: { deltaNorm: number; weightGradNorm: number }[] }[] };
    report.steps.forEach((s, i) => {
      s.gradNorm = 3e300 / (i + 1);
      s.loss = i === 0 ? 1.5e300 : -2e299;
      s.layers.forEach((l, j) => {
        const k = j === 0 ? 300 : j === 1 ? -300 : 100 - 50 * j;
        l.deltaNorm = 2 * 10 ** k;
        l.weightGradNorm = 10 ** k;
      });
    });
    const file = join(scratch, 'extreme.json');
    writeFileSync(file, JSON.stringify(report));
    const input = (await page.$('#report-file')) as ElementHandle<HTMLInputElement>;
    await input.uploadFile(file);
    await page.waitForFunction(() => window.__gradstormReportFile?.name === 'extreme.json', { timeout: 10_000 });
    const opened = await page.evaluate(() => window.__gradstormReportFile);
    expect(opened?.ok, opened?.errors.join('; ')).toBe(true);
    await page.waitForFunction(() => (window.__gradstormCharts?.yTicks.profile ?? []).includes('10³⁰⁰'), { timeout: 10_000 }).catch(() => undefined);
    const ticks = await yTicks();
    const profile = decades(ticks?.profile, 'profile');
    expect(Math.min(...profile)).toBeLessThanOrEqual(-300);
    expect(Math.max(...profile)).toBeGreaterThanOrEqual(300);
    expect(ticks?.profile).toContain('10³⁰⁰');
    expect(ticks?.profile).toContain('10⁻³⁰⁰');
    const training = decades(ticks?.training, 'training ‖g‖');
    expect(Math.max(...training)).toBeGreaterThanOrEqual(300);
    expect(ticks?.trainingLoss.some((t) => /×10²⁹⁹|×10³⁰⁰|^-?10³⁰⁰$/.test(t)), JSON.stringify(ticks?.trainingLoss)).toBe(true);
    expect(ticks?.heatmap.length).toBeGreaterThanOrEqual(2);
    expect(pageErrors).toEqual([]);
  });

  it('a link the page cannot understand runs nothing, keeps its valid values and names each problem until the user acts', async () => {
    await page.goto(url('?depth=1e9&width=16&gain=1.3&activation=relu'), { waitUntil: 'load' });
    await page.waitForFunction(() => window.__gradstormLink !== undefined && window.__gradstormGpu !== undefined, { timeout: 30_000 });
    await new Promise((r) => setTimeout(r, 500));
    const state = await page.evaluate(() => ({
      link: window.__gradstormLink,
      run: window.__gradstormRun ?? null,
      notice: document.getElementById('link-notice')?.textContent ?? '',
      shown: !document.getElementById('link-notice')?.hidden,
      form: ['depth', 'width', 'gain'].map((id) => (document.getElementById(id) as HTMLInputElement).value),
      search: location.search,
    }));
    expect(state.link?.blocked).toBe(true);
    expect(state.run, 'nothing ran').toBeNull();
    expect(state.shown).toBe(true);
    expect(state.notice).toContain('depth=1e9: must be an integer in [1, 100000]');
    expect(state.notice).toContain("unknown key 'activation' (did you mean 'act'?)");
    expect(state.form).toEqual(['200', '16', '1.3']);
    expect(state.search).toBe('?depth=1e9&width=16&gain=1.3&activation=relu');

    // Text from the URL stays text.
    await page.goto(url('?act=%3Cscript%3Ewindow.__x%3D1%3C%2Fscript%3E%3Cb%3Eb'), { waitUntil: 'load' });
    await page.waitForFunction(() => window.__gradstormLink !== undefined, { timeout: 30_000 });
    const injected = await page.evaluate(() => ({
      notice: document.getElementById('link-notice')?.textContent ?? '',
      elements: document.querySelectorAll('#link-notice script, #link-notice li b').length,
      ran: (window as Window & { __x?: number }).__x ?? null,
    }));
    expect(injected.notice).toContain('act=<script>window.__x=1</script><b>b: choose from');
    expect(injected).toMatchObject({ elements: 0, ran: null });

    // The user acts: the notice goes, the URL follows the form.
    await page.click('#gain', { count: 3 });
    await page.type('#gain', '1.1');
    const after = await page.evaluate(() => ({ shown: !document.getElementById('link-notice')?.hidden, search: location.search, run: window.__gradstormRun ?? null }));
    expect(after.shown).toBe(false);
    expect(after.search).toMatch(/gain=1\.1/);
    expect(after.search).not.toContain('script');
    expect(after.run).toBeNull();
    expect(pageErrors).toEqual([]);
  });
});

describe('demo page: a report file with a wrongly typed field', () => {
  it('a run report with a string where a number belongs is refused with the field’s path and leaves the page unchanged', async () => {
    const page = await openPage();
    try {
      await page.goto(url(), { waitUntil: 'load' });
      await page.waitForFunction(() => window.__gradstormGpu !== undefined, { timeout: 30_000 });
      const good = await cliReport();
      const input = (await page.$('#report-file')) as ElementHandle<HTMLInputElement>;
      await input.uploadFile(good);
      await page.waitForFunction(() => window.__gradstormReportFile?.name === 'run.json', { timeout: 10_000 });
      const shown = () =>
        page.evaluate(() => ({
          file: window.__gradstormReportFile,
          depth: (window.__gradstormLastReport?.config as { depth?: number } | undefined)?.depth,
          charts: window.__gradstormCharts,
          verdict: document.getElementById('verdict')?.textContent ?? '',
          message: document.getElementById('file-message')?.textContent ?? '',
        }));
      const before = await shown();
      expect(before.file?.ok).toBe(true);
      expect(before.verdict).toMatch(/gradient at init: \w+ — training: finite/);

      // The bug this guards: verdict numbers as strings were accepted, then `toFixed` threw, with the charts on the new file and the card on the old one.
      const spoiled = JSON.parse(readFileSync(good, 'utf8')) as { verdict: Record<string, unknown> };
      spoiled.verdict.growthPerLayer = String(spoiled.verdict.growthPerLayer);
      spoiled.verdict.totalChangeDecades = 'a lot';
      const file = join(scratch, 'typed-wrong.json');
      writeFileSync(file, JSON.stringify(spoiled));
      await input.uploadFile(file);
      await page.waitForFunction(() => window.__gradstormReportFile?.name === 'typed-wrong.json', { timeout: 10_000 });
      const after = await shown();
      expect(after.file?.ok).toBe(false);
      expect(after.file?.errors).toEqual(expect.arrayContaining([expect.stringMatching(/^verdict\.growthPerLayer: expected number, got string "/), 'verdict.totalChangeDecades: expected number, got string "a lot"']));
      expect(after.message).toMatch(/typed-wrong\.json is not a run report this page can show:.*verdict\.growthPerLayer: expected number/);
      expect(after.depth, 'the report on screen is unchanged').toBe(before.depth);
      expect(after.charts, 'the charts are unchanged').toEqual(before.charts);
      expect(after.verdict, 'the verdict card is unchanged').toBe(before.verdict);
      expect(pageErrors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
