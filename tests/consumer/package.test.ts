/**
 * gradstorm as a user installs it: `npm pack`, the tarball installed into an
 * empty folder outside the repository (so nothing resolves from the repo's
 * node_modules), then used the four ways a consumer does: imported from a
 * plain .mjs under node, type-checked by tsc --strict (nodenext and bundler
 * resolution), bundled for the browser by Vite, and run as `npx gradstorm`.
 * The registry is reached only for what npm's cache lacks (--prefer-offline).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, buildPackage, userEnv } from '../support/package.ts';

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
const work = mkdtempSync(join(tmpdir(), 'gradstorm-consumer-'));
const app = join(work, 'app');
const env = userEnv({ GRADSTORM_CACHE_DIR: join(work, 'cache') });
let packedFiles: string[] = [];

function run(command: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout: 120_000 });
}

function ok(r: SpawnSyncReturns<string>, what: string): SpawnSyncReturns<string> {
  if (r.status !== 0) throw new Error(`${what} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

function write(path: string, text: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
}

beforeAll(() => {
  buildPackage();
  // What `npm pack` runs before packing (the built pages, into dist/page); the pack itself then runs no scripts, so its stdout is only the JSON.
  ok(run('npm', ['run', '--silent', 'prepack'], REPO_ROOT), 'npm run prepack');
  const packed = ok(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], REPO_ROOT), 'npm pack');
  const [{ filename, files }] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
  packedFiles = files.map((f) => f.path);
  write(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2));
  ok(run('npm', ['install', join(work, filename), '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], app), 'npm install of the tarball');
}, 180_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the packed package', () => {
  it('holds compiled JS, .d.ts and maps, the built pages and the JSON Schemas, and no TypeScript sources, tests or build state', () => {
    for (const entry of [
      'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/index.js.map', 'dist/src/index.node.js', 'dist/src/node.js', 'dist/src/node.d.ts',
      'dist/src/puppeteer.js', 'dist/src/puppeteer.d.ts', 'dist/src/cli/main.js', 'dist/shaders/matmul.wgsl.js', 'bin/gradstorm.js', 'CHANGELOG.md',
      // The runtime page `--runtime chrome` and runInPage serve (built by prepack), and the report schemas for other tools.
      'dist/page/runtime.html', 'dist/page/index.html', 'schemas/gradstorm.run.schema.json',
    ]) {
      expect(packedFiles).toContain(entry);
    }
    const stray = packedFiles.filter((f) => (f.endsWith('.ts') && !f.endsWith('.d.ts')) || /^(src|tests|demo|scripts|shaders)\//.test(f) || f.includes('tsbuildinfo'));
    expect(stray).toEqual([]);
  });

  it('installs without the dev tools: no tsx, esbuild, TypeScript, Vite or uPlot in the consumer', () => {
    expect(existsSync(join(app, 'node_modules', 'gradstorm', 'dist', 'src', 'index.js'))).toBe(true);
    const installed = readdirSync(join(app, 'node_modules'));
    for (const devOnly of ['tsx', 'esbuild', 'typescript', 'vite', 'uplot', '@tensorflow']) expect(installed).not.toContain(devOnly);
  });
});

describe('a consumer of the installed package', () => {
  it('imports gradstorm from a plain .mjs under node (no loader) and runs a depth-4 stress on the default adapter', () => {
    write(
      join(app, 'stress.mjs'),
      `import { acquireGpu, runStress, MLP_DEFAULTS, ENGINE_VERSION } from 'gradstorm';
import { acquireNodeAdapter } from 'gradstorm/node';
const gpu = await acquireGpu();
const { report } = await runStress(gpu, { ...MLP_DEFAULTS, depth: 4, width: 8, input: 8, output: 8, batch: 3, steps: 2, loss: 'mse' });
gpu.destroy();
console.log(JSON.stringify({ version: ENGINE_VERSION, nodeEntry: typeof acquireNodeAdapter, report }));
`,
    );
    const r = ok(run(process.execPath, ['stress.mjs'], app), 'node stress.mjs');
    const { version, nodeEntry, report } = JSON.parse(r.stdout) as {
      version: string;
      nodeEntry: string;
      report: { schema: string; config: { depth: number }; steps: { loss: number; layers: { index: number; deltaNorm: number }[] }[]; verdict: { status: string } };
    };
    expect(version).toBe(pkg.version);
    expect(nodeEntry).toBe('function');
    expect(report.schema).toBe('gradstorm.run/1');
    expect(report.config.depth).toBe(4);
    expect(report.steps).toHaveLength(2);
    for (const step of report.steps) {
      expect(Number.isFinite(step.loss)).toBe(true);
      expect(step.layers.map((l) => l.index)).toEqual([1, 2, 3, 4]);
      for (const layer of step.layers) expect(layer.deltaNorm).toBeGreaterThan(0);
    }
    expect(['stable', 'exploding', 'vanishing', 'diverged']).toContain(report.verdict.status);
  });

  it("runs the README's library example as printed", () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    const example = /runs this block as printed\. -->\n```js\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example, 'the README marks its library example').toBeDefined();
    write(join(app, 'readme-example.mjs'), example!);
    const r = ok(run(process.execPath, ['readme-example.mjs'], app), 'node readme-example.mjs');
    expect(r.stdout).toMatch(/^step 1\/1: loss -?\d/m);
    // ReLU at gain 1.8 explodes: ½·log10(1.8²/2) ≈ 0.105 decades per layer predicted.
    expect(r.stdout).toMatch(/^exploding: measured 0\.\d{3} decades per layer, predicted 0\.105$/m);
  });

  it.each(['nodenext', 'bundler'] as const)('type-checks a consumer .ts with tsc --strict under moduleResolution %s', (resolution) => {
    write(
      join(app, 'consumer.ts'),
      `import { acquireGpu, runStress, prepareMatmul, MLP_DEFAULTS, GpuUnavailableError, type MlpConfig, type RunReport } from 'gradstorm';
import { acquireNodeAdapter } from 'gradstorm/node';

const config: MlpConfig = { ...MLP_DEFAULTS, depth: 4, width: 8, input: 8, output: 8 };
// @ts-expect-error depth is a number: the types are real, not any
const wrong: MlpConfig = { ...config, depth: 'deep' };
try {
  const gpu = await acquireGpu({ powerPreference: 'high-performance' });
  const { report }: { report: RunReport } = await runStress(gpu, config, { onStep: (done: number, total: number) => console.log(done, total) });
  const status: string = report.verdict.status;
  const fc = await prepareMatmul(gpu, { layout: 'nt', bias: true, activation: 'relu' });
  const device: GPUDevice = gpu.device;
  const { adapter, backend } = await acquireNodeAdapter({ forceSwiftShader: true });
  const limit: number = adapter.limits.maxBufferSize;
  console.log(status, fc, device, backend, limit, wrong);
} catch (error) {
  if (!(error instanceof GpuUnavailableError)) throw error;
}
`,
    );
    const module = resolution === 'nodenext' ? 'nodenext' : 'esnext';
    write(
      join(app, `tsconfig.${resolution}.json`),
      JSON.stringify({
        compilerOptions: { strict: true, noEmit: true, target: 'es2022', lib: ['es2022', 'dom'], module, moduleResolution: resolution, types: [] },
        files: ['consumer.ts'],
      }),
    );
    const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = run(process.execPath, [tsc, '-p', `tsconfig.${resolution}.json`], app);
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.status).toBe(0);
  });

  it('bundles for the browser with Vite without Dawn, the webgpu package or node: imports', async () => {
    const web = join(app, 'web');
    write(join(web, 'index.html'), '<!doctype html><script type="module" src="./main.js"></script>\n');
    write(
      join(web, 'main.js'),
      `import { acquireGpu, runStress, MLP_DEFAULTS } from 'gradstorm';
const gpu = await acquireGpu();
const { report } = await runStress(gpu, { ...MLP_DEFAULTS, depth: 4 });
document.body.textContent = report.verdict.status;
`,
    );
    const outDir = join(app, 'web-dist');
    await build({ root: web, configFile: false, logLevel: 'silent', build: { outDir, minify: false, target: 'es2022', reportCompressedSize: false } });
    const assets = join(outDir, 'assets');
    const bundle = readdirSync(assets).filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(assets, f), 'utf8')).join('\n');
    // The engine is in (acquireGpu's browser message, a WGSL entry point) ...
    expect(bundle).toContain('navigator.gpu gave no adapter');
    expect(bundle).toContain('@compute');
    // ... and nothing of the Node side: the webgpu package, Dawn's addon, src/gpu/node.ts, Node built-ins.
    for (const nodeOnly of ['dawn.node', 'webgpu.deviceDestroyUnmapsBuffers', 'vk_swiftshader_icd', 'acquireNodeAdapter', '__vite-browser-external']) {
      expect(bundle, nodeOnly).not.toContain(nodeOnly);
    }
    expect(bundle).not.toMatch(/(from|import\(|require\()\s*["'](webgpu|node:[\w/]+)["']/);
  });

  it("bundles a Node program with Vite (SSR): the node condition's Dawn registration survives tree-shaking (sideEffects)", async () => {
    const server = join(app, 'server');
    write(join(server, 'main.js'), `import { acquireGpu } from 'gradstorm';\nconst gpu = await acquireGpu();\nconsole.log('backend:', gpu.summary.backend);\ngpu.destroy();\n`);
    const outDir = join(app, 'server-dist');
    await build({
      root: server,
      configFile: false,
      logLevel: 'silent',
      ssr: { noExternal: true, external: ['webgpu'] },
      build: { ssr: join(server, 'main.js'), outDir, minify: false, target: 'node20' },
    });
    const r = ok(run(process.execPath, [join(outDir, 'main.js')], app), 'node server-dist/main.js');
    expect(r.stdout).toMatch(/^backend: dawn-node/m);
  });

  it('runs as npx gradstorm: --version, a small stress, and a clear refusal of the TF.js baseline it cannot run', () => {
    const version = ok(run('npx', ['gradstorm', '--version'], app), 'npx gradstorm --version');
    expect(version.stdout.trim()).toBe(pkg.version);
    const stress = ok(run('npx', ['gradstorm', 'stress', '--depth', '3', '--width', '8', '--batch', '2'], app), 'npx gradstorm stress');
    expect(stress.stdout).toMatch(/verdict: (STABLE|EXPLODING|VANISHING|DIVERGED)/);
    expect(stress.stdout).toMatch(/^3\s/m); // the per-layer table, layer 3 first
    const bench = run('npx', ['gradstorm', 'bench', '--baselines', 'tfjs-webgpu', '--kernels', 'relu'], app);
    expect(bench.status).toBe(2);
    expect(bench.stderr).toMatch(/--baselines tfjs-webgpu: the tfjs-webgpu baseline needs .*esbuild.* npm install .* or leave it out with --baselines plain-js/);
    expect(bench.stderr).not.toMatch(/\n\s+at /); // a message, not a stack
  });

  it('runs --runtime chrome from the shipped page once puppeteer (an optional peer) is installed beside it', () => {
    const args = ['gradstorm', 'stress', '--runtime', 'chrome', '--depth', '3', '--width', '4', '--batch', '2', '--variant', 'register'];
    const without = run('npx', args, app);
    expect(without.status).toBe(1);
    expect(without.stderr).toMatch(/puppeteer could not be loaded .*npm install puppeteer/);
    // The system's Chromium drives the page: no browser download.
    ok(spawnSync('npm', ['install', 'puppeteer', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: app, env: { ...env, PUPPETEER_SKIP_DOWNLOAD: '1' }, encoding: 'utf8', timeout: 120_000 }), 'npm install puppeteer');
    const chrome = ok(run('npx', args, app), 'npx gradstorm stress --runtime chrome');
    expect(chrome.stdout).toMatch(/verdict: (STABLE|EXPLODING|VANISHING|DIVERGED)/);
    expect(chrome.stderr).not.toMatch(/runtime page: .*building/); // served as shipped (dist/page), never rebuilt
  }, 180_000);
});
