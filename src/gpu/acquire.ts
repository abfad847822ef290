import { GpuContext, type AdapterSummary } from './context.ts';
import { GpuUnavailableError } from './errors.ts';

/** Which adapter {@link acquireGpu} asks for. */
export interface AcquireOptions {
  /** Passed to `requestAdapter` (Node defaults to `'high-performance'`). */
  powerPreference?: GPUPowerPreference;
  /** Node only: skip hardware adapters and use SwiftShader (Debian's chromium package). */
  forceSwiftShader?: boolean;
}

/** Limits the engine asks for: as much as the adapter offers of what big models need. */
const REQUESTED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
] as const;

/** timestamp-query for GPU timings; subgroups for the subgroup matmul family (src/kernels/matmul.ts). */
const WANTED_FEATURES: GPUFeatureName[] = ['timestamp-query', 'subgroups' as GPUFeatureName];

export interface GpuProvider {
  backend: string;
  requestAdapter(options: GPURequestAdapterOptions): Promise<GPUAdapter | null>;
}

export function summarizeAdapter(adapter: GPUAdapter, backend: string): AdapterSummary {
  const info = adapter.info;
  const text = `${info.vendor} ${info.architecture} ${info.description} ${info.device}`.toLowerCase();
  return {
    vendor: info.vendor || 'unknown',
    architecture: info.architecture || 'unknown',
    description: info.description || '',
    device: info.device || '',
    software:
      text.includes('swiftshader') || text.includes('llvmpipe') || text.includes('lavapipe') ||
      ((info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false),
    backend,
  };
}

export async function createContext(adapter: GPUAdapter, backend: string): Promise<GpuContext> {
  const requiredLimits: Record<string, number> = {};
  for (const name of REQUESTED_LIMITS) {
    const value = adapter.limits[name];
    if (typeof value === 'number') requiredLimits[name] = value;
  }
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ label: 'gradstorm', requiredLimits, requiredFeatures });
  return new GpuContext({ adapter, device, summary: summarizeAdapter(adapter, backend) });
}

/**
 * How Node gets an adapter (Dawn, in src/gpu/node.ts). The Node entries
 * (`gradstorm` under the `node` export condition, `gradstorm/node`, the CLI)
 * register it; this module never imports it, so a browser bundle holds no
 * Dawn, no `webgpu` package and no `node:` import.
 */
export type NodeAdapterProvider = (options: AcquireOptions) => Promise<{ adapter: GPUAdapter; backend: string }>;

let nodeAdapterProvider: NodeAdapterProvider | null = null;

/** Called once by the Node entries (src/node.ts); not part of the public API. */
export function registerNodeAdapterProvider(provider: NodeAdapterProvider): void {
  nodeAdapterProvider = provider;
}

/**
 * The default adapter of this platform, as a {@link GpuContext}: `navigator.gpu`
 * in a browser; in Node, Dawn (the `webgpu` package), falling back to
 * SwiftShader when no hardware adapter answers. The device is requested with
 * the adapter's own maximum of the limits big models need, and
 * `timestamp-query` and `subgroups` where offered.
 *
 * @throws {@link GpuUnavailableError} saying how to get an adapter.
 */
export async function acquireGpu(options: AcquireOptions = {}): Promise<GpuContext> {
  const browserGpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (browserGpu) {
    const adapter = await browserGpu.requestAdapter({ powerPreference: options.powerPreference });
    if (!adapter) {
      throw new GpuUnavailableError(
        'navigator.gpu gave no adapter. In Chrome, enable WebGPU (chrome://flags/#enable-unsafe-webgpu) ' +
          'or start it with --enable-unsafe-webgpu --enable-features=Vulkan; without a GPU add --use-webgpu-adapter=swiftshader.',
      );
    }
    return createContext(adapter, 'navigator.gpu');
  }
  if (nodeAdapterProvider) {
    const { adapter, backend } = await nodeAdapterProvider(options);
    return createContext(adapter, backend);
  }
  if (typeof process !== 'undefined' && process.versions?.node) {
    throw new GpuUnavailableError(
      "this copy of gradstorm was loaded without its Node adapter (a bundle built for the browser?): import 'gradstorm/node' once before acquireGpu()",
    );
  }
  throw new GpuUnavailableError('this JavaScript environment has no WebGPU (navigator.gpu is undefined); use Chrome 113+ or Node with the `webgpu` package');
}
