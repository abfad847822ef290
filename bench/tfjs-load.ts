/**
 * Loads TF.js's WebGPU backend on the same adapter, for the baselines. In
 * Node it gets `navigator.gpu` from Dawn (the `webgpu` package, after
 * acquireGpu has pointed Vulkan at the same adapter). TF.js is a dev
 * dependency; the benchmark suite takes this loader as a parameter, so the
 * suite itself imports no TF.js and the browser can pass its own. An
 * installed gradstorm has no dev dependencies: there the baseline is left
 * out with a message saying what to install (missingTfjsPackages).
 */
import type { Tfjs } from './tfjs-baseline.ts';

/** What the TF.js baseline needs in Node: dev dependencies of gradstorm, absent where it is installed as a package. */
export const TFJS_NODE_PACKAGES = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-webgpu', 'esbuild'] as const;

/** Those of TFJS_NODE_PACKAGES that Node cannot find from gradstorm's own folder ([] when the baseline can run). */
export async function missingTfjsPackages(): Promise<string[]> {
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  return TFJS_NODE_PACKAGES.filter((name) => {
    try {
      require.resolve(name);
      return false;
    } catch {
      return true;
    }
  });
}

/** One line: what is missing for the TF.js baseline and what to do about it. */
export function tfjsMissingMessage(missing: readonly string[]): string {
  return (
    `the tfjs-webgpu baseline needs ${missing.join(', ')}, which ${missing.length === 1 ? 'is' : 'are'} not installed here ` +
    `(dev dependencies of gradstorm): npm install ${TFJS_NODE_PACKAGES.map((name) => (name === 'esbuild' ? name : `${name}@4`)).join(' ')}, ` +
    'or leave it out with --baselines plain-js'
  );
}

let loaded: Promise<Tfjs> | null = null;

/**
 * tfjs-core registers its autodiff rules only from its ESM build, whose
 * directory imports Node's ESM loader refuses (its CommonJS bundle has no
 * gradients). In a browser Vite resolves them; in Node we bundle that ESM
 * build once with esbuild — one copy of tfjs-core, its gradients and the
 * WebGPU backend — into node_modules/.cache and import the bundle.
 */
async function importTfjsBundle(): Promise<Tfjs> {
  const { mkdirSync, existsSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { fileURLToPath } = await import('node:url');
  const dir = join(process.cwd(), 'node_modules', '.cache', 'gradstorm');
  const out = join(dir, 'tfjs-webgpu-4.22.0.mjs');
  if (!existsSync(out)) {
    const esbuild = await import('esbuild');
    mkdirSync(dir, { recursive: true });
    const result = await esbuild.build({
      stdin: {
        contents: [
          "export * from '@tensorflow/tfjs-core';",
          "import '@tensorflow/tfjs-core/dist/register_all_gradients';",
          "import '@tensorflow/tfjs-backend-webgpu';",
        ].join('\n'),
        // Resolved as missingTfjsPackages() checked: from gradstorm's own folder.
        resolveDir: fileURLToPath(new URL('.', import.meta.url)),
      },
      bundle: true,
      format: 'esm',
      platform: 'node',
      mainFields: ['module', 'main'],
      // CommonJS dependencies inside the bundle require() Node built-ins.
      banner: { js: "import { createRequire as __gradstormRequire } from 'node:module'; const require = __gradstormRequire(import.meta.url);" },
      write: false,
      logLevel: 'silent',
    });
    writeFileSync(out, result.outputFiles[0].text);
  }
  return (await import(/* @vite-ignore */ out)) as Tfjs;
}

export function loadTfjsWebgpu(): Promise<Tfjs> {
  loaded ??= (async () => {
    const g = globalThis as { navigator?: { gpu?: GPU } };
    const inNode = typeof process !== 'undefined' && !!process.versions?.node && !g.navigator?.gpu;
    if (inNode) {
      const missing = await missingTfjsPackages();
      if (missing.length > 0) throw new Error(tfjsMissingMessage(missing));
      const { create } = (await import('webgpu')) as unknown as { create(flags: string[]): GPU };
      // Node 20 has no navigator; TF.js only reads navigator.gpu (and userAgent).
      const gpu = create([]);
      (globalThis as Record<string, unknown>).navigator = { gpu, userAgent: 'node' };
      keepAlive.push(gpu);
    }
    let tf: Tfjs;
    if (inNode) tf = await importTfjsBundle();
    else {
      tf = await import('@tensorflow/tfjs-core');
      await import('@tensorflow/tfjs-core/dist/register_all_gradients');
      await import('@tensorflow/tfjs-backend-webgpu');
    }
    if (!(await tf.setBackend('webgpu'))) throw new Error("TF.js could not start its 'webgpu' backend on this adapter");
    await tf.ready();
    return tf;
  })();
  return loaded;
}

/** Dawn instances must outlive their devices (see src/gpu/node.ts). */
const keepAlive: GPU[] = [];

