import { BufferUsage } from './flags.ts';

/**
 * Reuses GPU buffers between runs of different sizes (benchmarks, sweeps,
 * conformance cases): buffers are kept by usage and power-of-two size class,
 * so a released buffer serves any later request up to its size. Contents are
 * not cleared: callers write before they read.
 */
export class BufferPool {
  private readonly free = new Map<string, GPUBuffer[]>();
  private readonly owned = new Set<GPUBuffer>();

  constructor(
    private readonly device: GPUDevice,
    private readonly maxBufferSize: number,
  ) {}

  static sizeClass(bytes: number): number {
    return Math.max(256, 2 ** Math.ceil(Math.log2(Math.max(1, bytes))));
  }

  acquire(label: string, bytes: number, usage = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST): GPUBuffer {
    // Round up to the size class, but never past what the adapter allows.
    const size = Math.min(BufferPool.sizeClass(bytes), Math.max(Math.ceil(bytes / 4) * 4, this.maxBufferSize));
    const key = `${usage}:${size}`;
    const reused = this.free.get(key)?.pop();
    if (reused) return reused;
    const buffer = this.device.createBuffer({ label, size, usage });
    this.owned.add(buffer);
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    if (!this.owned.has(buffer)) throw new Error(`buffer '${buffer.label}' does not belong to this pool`);
    const key = `${buffer.usage}:${buffer.size}`;
    const list = this.free.get(key) ?? [];
    if (list.includes(buffer)) throw new Error(`buffer '${buffer.label}' released twice`);
    list.push(buffer);
    this.free.set(key, list);
  }

  /** Buffers waiting for reuse. */
  get idleCount(): number {
    let n = 0;
    for (const list of this.free.values()) n += list.length;
    return n;
  }

  destroy(): void {
    for (const buffer of this.owned) buffer.destroy();
    this.owned.clear();
    this.free.clear();
  }
}
