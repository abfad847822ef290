/**
 * Errors the engine raises. Each says what failed, with the sizes involved,
 * and what the user can change. Messages are written for people, not logs.
 */

/** No WebGPU adapter could be had: says how to get one on this platform. */
export class GpuUnavailableError extends Error {
  override name = 'GpuUnavailableError';
}

/** A pipeline, buffer or dispatch failed validation or ran out of memory. */
export class GpuKernelError extends Error {
  override name = 'GpuKernelError';
  constructor(
    message: string,
    /** The kernel (or buffer label) that failed. */
    readonly kernel: string,
  ) {
    super(message);
  }
}

/** The device was lost (driver reset, destroy(), out of memory, TDR). */
export class DeviceLostError extends Error {
  override name = 'DeviceLostError';
  constructor(
    readonly reason: string,
    detail: string,
  ) {
    super(
      `the WebGPU device was lost (reason: ${reason}${detail ? `: ${detail}` : ''}). ` +
        'Results of work in flight are gone; create a new engine (acquireGpu) to continue. ' +
        'If this repeats, the workload may exceed what the adapter can do: reduce width, depth or batch.',
    );
  }
}

/** A request that cannot fit the adapter's limits, caught before allocation. */
export class GpuLimitError extends Error {
  override name = 'GpuLimitError';
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
