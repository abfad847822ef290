import '../../src/node.ts'; // registers Dawn, as the package's Node entry does
import { acquireGpu } from '../../src/gpu/acquire.ts';
import type { GpuContext } from '../../src/gpu/context.ts';

let shared: Promise<GpuContext> | null = null;

/**
 * The adapter every GPU test runs on (one device per test worker). Never
 * skips: without an adapter the test fails with acquireGpu's message, which
 * says what to install.
 */
export function testGpu(): Promise<GpuContext> {
  shared ??= acquireGpu().catch((error: unknown) => {
    throw new Error(
      `GPU tests need a WebGPU adapter and none could be had: ${(error as Error).message}\n` +
        'On Debian without a GPU: apt-get install -y chromium libvulkan1 (SwiftShader), then npm test.',
    );
  });
  return shared;
}
