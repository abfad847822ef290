// The public types use WebGPU's (GPUDevice, GPUBuffer, …): consumers get them from @webgpu/types, a dependency.
/// <reference types="@webgpu/types" preserve="true" />
/**
 * `gradstorm/node`: WebGPU adapters in Node, through Dawn (the `webgpu`
 * package). Importing this module registers Dawn as the adapter that
 * {@link acquireGpu} uses in Node. `import 'gradstorm'` in Node does that
 * already (the package's `node` export condition), so import this entry only
 * to get a raw adapter, or when a bundler gave a Node program the browser build.
 *
 * Dawn itself is loaded on the first request, not on import.
 */
import { registerNodeAdapterProvider, type acquireGpu } from './gpu/acquire.ts';
import { acquireNodeAdapter } from './gpu/node.ts';

registerNodeAdapterProvider(acquireNodeAdapter);

export { acquireNodeAdapter, SWIFTSHADER_ICD } from './gpu/node.ts';
export type { AcquireOptions } from './gpu/acquire.ts';
export { fileTuningStore, tuningCacheDir } from './cli/tuning.ts';
