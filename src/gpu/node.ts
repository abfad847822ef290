/**
 * WebGPU in Node through Dawn (the `webgpu` npm package). On machines without
 * a GPU, Dawn reaches SwiftShader through the Vulkan loader when
 * VK_ICD_FILENAMES points at the ICD that Debian's chromium package ships;
 * the loader reads it when Dawn creates its instance, so setting it here, in
 * process, before the second create() is enough.
 */
import { existsSync, readdirSync } from 'node:fs';
import { GpuUnavailableError } from './errors.ts';
import type { AcquireOptions } from './acquire.ts';

/** Where Debian's chromium package puts SwiftShader's Vulkan driver manifest, the fallback on machines without a GPU. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const VULKAN_LOADER_PATHS = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1', '/usr/lib/libvulkan.so.1'];

interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

let dawn: DawnModule | null = null;
/**
 * Every Dawn instance we create stays referenced for the life of the process:
 * dawn.node does not keep its GPU instance alive from the adapters and devices
 * it made, and collecting it under them corrupts memory (seen as pthread
 * assertion failures and aborts).
 */
const liveInstances: GPU[] = [];

function createInstance(): GPU {
  const instance = dawn!.create([]);
  liveInstances.push(instance);
  return instance;
}

async function loadDawn(): Promise<DawnModule> {
  if (!dawn) {
    try {
      dawn = (await import('webgpu')) as unknown as DawnModule;
    } catch (error) {
      throw new GpuUnavailableError(
        `the 'webgpu' package (Dawn for Node, an optional dependency of gradstorm) could not be loaded: ${(error as Error).message}. ` +
          'Install it beside gradstorm: npm install webgpu',
      );
    }
    // GPUBufferUsage, GPUMapMode, ... as in a browser.
    Object.assign(globalThis, dawn.globals);
  }
  return dawn;
}

function howToGetAnAdapter(): string {
  const missing: string[] = [];
  if (process.platform === 'linux') {
    if (!VULKAN_LOADER_PATHS.some(existsSync)) missing.push('libvulkan1');
    if (!existsSync(SWIFTSHADER_ICD)) missing.push('chromium');
    const install = missing.length
      ? `Install ${missing.join(' and ')} (as root: apt-get install -y ${missing.join(' ')}), which brings the Vulkan loader and SwiftShader, then retry.`
      : `Vulkan loader and ${SWIFTSHADER_ICD} are present, yet no adapter answered: run with DEBUG=* or VK_LOADER_DEBUG=all to see why.`;
    return `No WebGPU adapter in Node: no hardware Vulkan driver answered and SwiftShader was not usable. ${install}`;
  }
  return 'No WebGPU adapter in Node: Dawn found no Metal/D3D12/Vulkan adapter on this machine.';
}

/**
 * Whether the Vulkan loader can find any driver manifest (Linux): one named by
 * VK_ICD_FILENAMES / VK_DRIVER_FILES, or a JSON file in the loader's search
 * folders. Without one there is no hardware adapter to ask for, and asking
 * only makes Dawn print "vkCreateInstance: Found no drivers!" warnings.
 */
export function vulkanDriverManifestPresent(env: Record<string, string | undefined> = process.env): boolean {
  if (env.VK_ICD_FILENAMES || env.VK_DRIVER_FILES || env.VK_ADD_DRIVER_FILES) return true;
  // The loader's search path (Vulkan-Loader docs, "Linux Driver Discovery"): config homes and dirs, /etc, data homes and dirs.
  const home = env.HOME ?? '';
  const configDirs = (env.XDG_CONFIG_DIRS || '/etc/xdg').split(':');
  const dataDirs = (env.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(':');
  const roots = [
    env.XDG_CONFIG_HOME || `${home}/.config`,
    ...configDirs,
    '/usr/local/etc',
    '/etc',
    env.XDG_DATA_HOME || `${home}/.local/share`,
    ...dataDirs,
  ];
  const folders = roots.filter(Boolean).map((root) => `${root}/vulkan/icd.d`);
  return folders.some((folder) => {
    try {
      return readdirSync(folder).some((f) => f.endsWith('.json'));
    } catch {
      return false;
    }
  });
}

/**
 * A WebGPU adapter in Node through Dawn: a hardware adapter when the machine's
 * Vulkan/Metal/D3D12 drivers give one, else SwiftShader (Linux, with Debian's
 * `chromium` and `libvulkan1` installed). `options.forceSwiftShader` or
 * `GRADSTORM_ADAPTER=swiftshader` skips the hardware. Sets
 * `XDG_RUNTIME_DIR` when unset and, for the fallback, `VK_ICD_FILENAMES`.
 *
 * @throws {@link GpuUnavailableError} naming what to install.
 */
export async function acquireNodeAdapter(options: AcquireOptions = {}): Promise<{ adapter: GPUAdapter; backend: string }> {
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  await loadDawn();
  const request: GPURequestAdapterOptions = { powerPreference: options.powerPreference ?? 'high-performance' };
  const useSwiftShaderOnly = options.forceSwiftShader || process.env.GRADSTORM_ADAPTER === 'swiftshader';
  const noHardwareDriver = process.platform === 'linux' && !vulkanDriverManifestPresent();
  if (!useSwiftShaderOnly && !noHardwareDriver) {
    const adapter = await createInstance().requestAdapter(request);
    if (adapter) return { adapter, backend: 'dawn-node' };
  }
  if (process.platform === 'linux' && existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    const adapter = await createInstance().requestAdapter(request);
    if (adapter) return { adapter, backend: 'dawn-node (SwiftShader fallback)' };
  }
  throw new GpuUnavailableError(howToGetAnAdapter());
}
