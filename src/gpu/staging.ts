import { BufferUsage, MapMode } from './flags.ts';

/**
 * A ring of MAP_READ staging buffers. A step encodes a copy of its small stats
 * buffer into the next free slot and submits; the caller awaits `read()` later,
 * so the CPU never waits on the step it just submitted while another slot is
 * free. When every slot is still in flight, `acquire()` waits for the oldest.
 */
export class StagingRing {
  private readonly slots: StagingSlot[] = [];
  private next = 0;

  constructor(
    private readonly device: GPUDevice,
    readonly slotCount: number,
    readonly slotBytes: number,
    label = 'staging',
  ) {
    for (let i = 0; i < slotCount; i++) {
      this.slots.push(
        new StagingSlot(
          device.createBuffer({
            label: `${label}[${i}]`,
            size: slotBytes,
            usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST,
          }),
        ),
      );
    }
  }

  /**
   * The next slot, once its previous read (if any) has finished. The slot is
   * reserved before this returns a promise, so concurrent callers queue on it
   * in call order and never share it.
   */
  acquire(byteLength: number): Promise<StagingSlot> {
    if (byteLength > this.slotBytes) {
      return Promise.reject(new Error(`staging ring: readback of ${byteLength} bytes exceeds the slot size ${this.slotBytes}`));
    }
    const slot = this.slots[this.next];
    this.next = (this.next + 1) % this.slots.length;
    return slot.reserve();
  }

  destroy(): void {
    for (const slot of this.slots) slot.buffer.destroy();
  }
}

export class StagingSlot {
  /** Resolves when the last reservation made so far has been released. */
  private tail: Promise<void> = Promise.resolve();
  private release: () => void = () => undefined;
  private byteLength = 0;

  constructor(readonly buffer: GPUBuffer) {}

  /** Queues behind earlier reservations; resolves once this caller owns the slot. */
  async reserve(): Promise<StagingSlot> {
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => (release = resolve));
    await previous;
    this.release = release;
    return this;
  }

  /** Records the copy; submit the encoder before calling read(). */
  encodeCopy(encoder: GPUCommandEncoder, source: GPUBuffer, sourceOffset: number, byteLength: number): void {
    this.byteLength = byteLength;
    encoder.copyBufferToBuffer(source, sourceOffset, this.buffer, 0, byteLength);
  }

  /**
   * Maps the slot, copies its bytes out and frees it for the next step.
   * `byteLength` defaults to what encodeCopy copied; pass more when further
   * copies into `buffer` (at higher offsets) went in the same submit.
   */
  async read(byteLength = this.byteLength): Promise<ArrayBuffer> {
    try {
      await this.buffer.mapAsync(MapMode.READ, 0, byteLength);
      const bytes = this.buffer.getMappedRange(0, byteLength).slice(0);
      this.buffer.unmap();
      return bytes;
    } finally {
      this.release();
    }
  }
}
