/**
 * TF.js's WebGPU backend on the same adapter, as the baseline the benchmarks
 * report ratios against. In Node it gets `navigator.gpu` from Dawn (the
 * `webgpu` package, after acquireGpu has pointed Vulkan at the same adapter).
 * TF.js is a dev dependency: without it the baseline is reported missing.
 */
import type * as TF from '@tensorflow/tfjs-core';

export type Tfjs = typeof TF;

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
        resolveDir: process.cwd(),
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

export interface TfMlp {
  /** One training step (forward, its autodiff backward, SGD update); resolves when the GPU finished. */
  step(): Promise<number>;
  dispose(): void;
}

/** The same MLP as gradstorm's (relu hidden layers, linear readout, probe loss, SGD), in TF.js. */
export function tfjsMlp(tf: Tfjs, c: { depth: number; width: number; batch: number; gain: number; lr: number }): TfMlp {
  const vars: TF.Variable[] = [];
  for (let l = 0; l < c.depth; l++) {
    vars.push(tf.variable(tf.randomNormal([c.width, c.width], 0, c.gain / Math.sqrt(c.width))));
    vars.push(tf.variable(tf.zeros([c.width])));
  }
  const x = tf.randomNormal([c.batch, c.width]);
  const g = tf.randomNormal([c.batch, c.width]);
  const loss = () =>
    tf.tidy(() => {
      let h: TF.Tensor2D = x as TF.Tensor2D;
      for (let l = 0; l < c.depth; l++) {
        const z = tf.add(tf.matMul(h, vars[2 * l] as TF.Tensor2D, false, true), vars[2 * l + 1]) as TF.Tensor2D;
        h = l === c.depth - 1 ? z : tf.relu(z);
      }
      return tf.sum(tf.mul(h, g)) as TF.Scalar;
    });
  return {
    async step() {
      const value = tf.tidy(() => {
        const { value: lossValue, grads } = tf.variableGrads(loss, vars);
        for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name], c.lr)));
        return lossValue;
      });
      const [out] = await value.data();
      value.dispose();
      return out;
    },
    dispose() {
      tf.dispose([...vars, x, g]);
    },
  };
}

/** Median wall time of TF.js's matMul (a·bᵀ of size n, read back), after a warm-up. */
export async function tfjsMatmulMs(tf: Tfjs, n: number, runs: number): Promise<number[]> {
  const a = tf.randomNormal([n, n]);
  const b = tf.randomNormal([n, n]);
  const samples: number[] = [];
  try {
    for (let r = 0; r <= runs; r++) {
      const t = performance.now();
      const c = tf.matMul(a as TF.Tensor2D, b as TF.Tensor2D, false, true);
      await c.data();
      c.dispose();
      if (r > 0) samples.push(performance.now() - t);
    }
  } finally {
    tf.dispose([a, b]);
  }
  return samples;
}

/** Wall time of TF.js's relu over n elements (read back), after a warm-up. */
export async function tfjsReluMs(tf: Tfjs, n: number, runs: number): Promise<number[]> {
  const x = tf.randomNormal([n]);
  const samples: number[] = [];
  try {
    for (let r = 0; r <= runs; r++) {
      const t = performance.now();
      const y = tf.relu(x);
      await y.data();
      y.dispose();
      if (r > 0) samples.push(performance.now() - t);
    }
  } finally {
    x.dispose();
  }
  return samples;
}
