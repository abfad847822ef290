/**
 * TF.js's WebGPU backend in the page, for the Kernels view's baselines. The
 * Node loader (bench/tfjs-load.ts) bundles tfjs-core with esbuild through
 * `node:fs`; in the page Vite resolves tfjs-core's ESM build itself, and these
 * dynamic imports make TF.js a chunk of its own, fetched only when a benchmark
 * run asks for the TF.js baseline.
 */
import type { Tfjs } from './engine.ts';

let loading: Promise<Tfjs> | null = null;

/** tfjs-core with its gradients (the training-step baselines need variableGrads) on the 'webgpu' backend, once per page. */
export function loadTfjsInPage(): Promise<Tfjs> {
  loading ??= (async () => {
    const tf = await import('@tensorflow/tfjs-core');
    // The autodiff rules register themselves on import; the MLP and RNN step baselines use them.
    await import('@tensorflow/tfjs-core/dist/register_all_gradients');
    await import('@tensorflow/tfjs-backend-webgpu');
    if (!(await tf.setBackend('webgpu'))) throw new Error("TF.js could not start its 'webgpu' backend on this adapter");
    await tf.ready();
    return tf;
  })().catch((error: unknown) => {
    // A failed load (no network for the chunk, no adapter for TF.js) may succeed on the next run.
    loading = null;
    throw error;
  });
  return loading;
}
