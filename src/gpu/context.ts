import { DeviceLostError, GpuKernelError, GpuLimitError, formatBytes } from './errors.ts';
import { BufferUsage, MapMode } from './flags.ts';
import { StagingRing } from './staging.ts';
import { BufferPool } from './pool.ts';
import {
  bindGroupLayoutEntries,
  hasUniforms,
  packUniforms,
  storageBindingIndex,
  wgslSource,
  type KernelSpec,
  type UniformType,
  type UniformValues,
} from '../kernels/spec.ts';

/** What an adapter is, as reports record it: its identity, whether it is emulated on the CPU, and which runtime gave it. */
export interface AdapterSummary {
  vendor: string;
  architecture: string;
  description: string;
  device: string;
  /** SwiftShader or another CPU implementation: slow, and unlike a GPU. */
  software: boolean;
  /** 'navigator.gpu' in a browser, 'dawn-node' in Node. */
  backend: string;
}

/** A storage buffer, or a window into one (offset a multiple of 256). */
export type BufferBinding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

/** Bytes a binding covers: the whole buffer, or the window's size. */
export function bindingBytes(b: BufferBinding): number {
  if ('mapState' in b) return b.size;
  return b.size ?? b.buffer.size - (b.offset ?? 0);
}

/** One recorded dispatch: pipeline, bind group and grid. Reusable across steps. */
export interface Dispatch {
  readonly label: string;
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
  readonly workgroups: readonly [number, number, number];
  /** The small uniform buffer this dispatch owns (null without uniforms); see releaseDispatches. */
  readonly uniformBuffer: GPUBuffer | null;
}

/** Frees the uniform buffers of dispatches that will not be encoded again. */
export function releaseDispatches(dispatches: readonly Dispatch[]): void {
  for (const d of dispatches) d.uniformBuffer?.destroy();
}

export function encodeDispatches(pass: GPUComputePassEncoder, dispatches: readonly Dispatch[]): void {
  for (const d of dispatches) {
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
  }
}

/** A compiled kernel: its spec, pipeline and layout. `bind` makes dispatches. */
export class PreparedKernel<U extends Record<string, UniformType> = Record<string, UniformType>> {
  constructor(
    private readonly ctx: GpuContext,
    readonly spec: KernelSpec<U>,
    readonly pipeline: GPUComputePipeline,
    readonly layout: GPUBindGroupLayout,
  ) {}

  bind(
    uniforms: UniformValues<U>,
    buffers: Readonly<Record<string, BufferBinding>>,
    workgroups: readonly [number, number?, number?],
  ): Dispatch {
    const spec = this.spec;
    const grid: [number, number, number] = [workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1];
    const maxPerDim = this.ctx.limits.maxComputeWorkgroupsPerDimension;
    if (grid.some((g) => !Number.isInteger(g) || g < 0 || g > maxPerDim)) {
      throw new GpuLimitError(
        `${spec.label}: dispatch grid [${grid.join(', ')}] exceeds the adapter's ` +
          `${maxPerDim} workgroups per dimension; use a smaller size`,
      );
    }
    const entries: GPUBindGroupEntry[] = [];
    let uniformBuffer: GPUBuffer | null = null;
    if (hasUniforms(spec)) {
      const bytes = packUniforms(spec, uniforms);
      const buffer = this.ctx.device.createBuffer({
        label: `${spec.label}.params`,
        size: bytes.byteLength,
        usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST,
        mappedAtCreation: true,
      });
      new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(bytes));
      buffer.unmap();
      uniformBuffer = buffer;
      entries.push({ binding: 0, resource: { buffer } });
    }
    for (const s of spec.storage) {
      const b = buffers[s.name];
      if (!b) throw new Error(`${spec.label}: buffer '${s.name}' not given`);
      const resource: GPUBufferBinding = 'buffer' in b && !('mapState' in b) ? b : { buffer: b as GPUBuffer };
      entries.push({ binding: storageBindingIndex(spec, s.name), resource });
    }
    const bindGroup = this.ctx.device.createBindGroup({ label: spec.label, layout: this.layout, entries });
    return { label: spec.label, pipeline: this.pipeline, bindGroup, workgroups: grid, uniformBuffer };
  }
}

export interface GpuContextInit {
  adapter: GPUAdapter;
  device: GPUDevice;
  summary: AdapterSummary;
}

/**
 * The engine's handle on one WebGPU device: limits, a pipeline cache keyed by
 * kernel options, error scopes that name the kernel, device-loss reporting,
 * buffer helpers and a staging ring for readback.
 */
export class GpuContext {
  readonly adapter: GPUAdapter;
  readonly device: GPUDevice;
  readonly summary: AdapterSummary;
  readonly limits: GPUSupportedLimits;
  readonly features: ReadonlySet<string>;
  readonly hasTimestamps: boolean;
  /**
   * The device's subgroup sizes (lanes) when it has the `subgroups` feature,
   * else null. SwiftShader: 4 and 4.
   */
  readonly subgroupSizes: { readonly min: number; readonly max: number } | null;
  /** Set once the device is lost; every later call throws it. */
  lostError: DeviceLostError | null = null;
  private destroyed = false;
  private readonly pipelines = new Map<string, Promise<PreparedKernel>>();
  private readonly layouts = new Map<string, GPUBindGroupLayout>();
  private readonly uncaptured: string[] = [];
  private readbackRing: StagingRing | null = null;
  /** Reusable scratch buffers (benchmarks, sweeps, conformance cases). */
  readonly pool: BufferPool;
  /**
   * The autotuner's choices for this adapter: kernel shape class (e.g.
   * `matmul/nt/sll/v4`) → variant name. Empty until src/tune loads or
   * measures them; kernels fall back to their per-adapter defaults.
   */
  readonly tunedVariants = new Map<string, string>();

  constructor(init: GpuContextInit) {
    this.adapter = init.adapter;
    this.device = init.device;
    this.summary = init.summary;
    this.limits = init.device.limits;
    this.features = new Set(init.device.features);
    this.hasTimestamps = this.features.has('timestamp-query');
    const info = init.adapter.info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
    this.subgroupSizes =
      this.features.has('subgroups') && typeof info?.subgroupMinSize === 'number' && typeof info.subgroupMaxSize === 'number'
        ? { min: info.subgroupMinSize, max: info.subgroupMaxSize }
        : null;
    this.pool = new BufferPool(init.device, this.limits.maxBufferSize);
    void init.device.lost.then((info) => {
      if (this.destroyed && info.reason === 'destroyed') return;
      this.lostError = new DeviceLostError(info.reason ?? 'unknown', info.message);
    });
    init.device.addEventListener?.('uncapturederror', (event: Event) => {
      const error = (event as GPUUncapturedErrorEvent).error;
      this.uncaptured.push(error?.message ?? String(error));
    });
  }

  assertAlive(): void {
    if (this.lostError) throw this.lostError;
    if (this.destroyed) throw new Error('this GpuContext was destroyed; acquire a new one');
  }

  /** Errors nobody captured (should stay empty; tests check it). */
  takeUncapturedErrors(): string[] {
    return this.uncaptured.splice(0);
  }

  /**
   * Runs `fn` inside validation and out-of-memory error scopes and turns a
   * captured error into a GpuKernelError that names `what`.
   */
  async scoped<T>(what: string, fn: () => T | Promise<T>): Promise<T> {
    this.assertAlive();
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    let result: T;
    try {
      result = await fn();
    } finally {
      const validation = await this.device.popErrorScope();
      const oom = await this.device.popErrorScope();
      this.assertAlive();
      if (oom) {
        throw new GpuKernelError(
          `${what}: the adapter ran out of memory (${oom.message}). Reduce the sizes involved.`,
          what,
        );
      }
      if (validation) throw new GpuKernelError(`${what}: ${validation.message}`, what);
    }
    return result;
  }

  /** Compiles (once per spec key) the pipeline of a kernel spec. */
  prepare<U extends Record<string, UniformType>>(spec: KernelSpec<U>): Promise<PreparedKernel<U>> {
    this.assertAlive();
    let cached = this.pipelines.get(spec.key);
    if (!cached) {
      cached = this.compile(spec as unknown as KernelSpec);
      this.pipelines.set(spec.key, cached);
      cached.catch(() => this.pipelines.delete(spec.key));
    }
    return cached as unknown as Promise<PreparedKernel<U>>;
  }

  get pipelineCount(): number {
    return this.pipelines.size;
  }

  private async compile(spec: KernelSpec): Promise<PreparedKernel> {
    const limits = this.limits;
    const [x, y, z] = spec.workgroupSize;
    if (x * y * z > limits.maxComputeInvocationsPerWorkgroup) {
      throw new GpuLimitError(
        `${spec.label}: workgroup ${x}×${y}×${z} = ${x * y * z} invocations exceeds the adapter's ` +
          `maxComputeInvocationsPerWorkgroup ${limits.maxComputeInvocationsPerWorkgroup}; pick a smaller variant`,
      );
    }
    if (spec.workgroupBytes > limits.maxComputeWorkgroupStorageSize) {
      throw new GpuLimitError(
        `${spec.label}: needs ${spec.workgroupBytes} bytes of workgroup memory, the adapter has ` +
          `${limits.maxComputeWorkgroupStorageSize}; pick a variant with smaller tiles`,
      );
    }
    const missing = (spec.enables ?? []).filter((name) => !this.features.has(name));
    if (missing.length > 0) {
      throw new GpuLimitError(`${spec.label}: needs the WebGPU feature${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, which this device lacks; pick another variant`);
    }
    const code = wgslSource(spec);
    return this.scoped(`compiling ${spec.label}`, async () => {
      const module = this.device.createShaderModule({ label: spec.label, code });
      const info = await module.getCompilationInfo();
      const errors = info.messages.filter((m) => m.type === 'error');
      if (errors.length > 0) {
        const lines = code.split('\n');
        const detail = errors
          .map((m) => `  line ${m.lineNum}: ${m.message}\n    ${lines[m.lineNum - 1]?.trim() ?? ''}`)
          .join('\n');
        throw new GpuKernelError(`WGSL of ${spec.label} does not compile:\n${detail}`, spec.label);
      }
      const layoutKey = JSON.stringify(spec.storage.map((s) => s.access)) + (spec.uniforms ? Object.keys(spec.uniforms).length : 0);
      let layout = this.layouts.get(layoutKey);
      if (!layout) {
        layout = this.device.createBindGroupLayout({ label: spec.label, entries: bindGroupLayoutEntries(spec) });
        this.layouts.set(layoutKey, layout);
      }
      const descriptor: GPUComputePipelineDescriptor = {
        label: spec.label,
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: spec.entryPoint, constants: { WG_X: x, WG_Y: y, WG_Z: z } },
      };
      // dawn.node 0.6 aborts the process in createComputePipelineAsync with an
      // explicit layout (a mutex assertion in its worker thread), so Node
      // compiles synchronously; browsers compile off the main thread.
      const pipeline = this.summary.backend.startsWith('dawn-node')
        ? this.device.createComputePipeline(descriptor)
        : await this.device.createComputePipelineAsync(descriptor);
      return new PreparedKernel(this, spec, pipeline, layout);
    });
  }

  /** Checks a buffer size against the adapter's limits before allocating. */
  checkBufferSize(label: string, bytes: number, binding = true): void {
    const max = binding
      ? Math.min(this.limits.maxBufferSize, this.limits.maxStorageBufferBindingSize)
      : this.limits.maxBufferSize;
    if (bytes > max) {
      throw new GpuLimitError(
        `${label}: needs a buffer of ${formatBytes(bytes)}, the adapter allows ${formatBytes(max)}; reduce the sizes involved`,
      );
    }
  }

  /** A zero-filled storage buffer (STORAGE | COPY_SRC | COPY_DST). */
  createStorage(label: string, bytes: number, extraUsage = 0): GPUBuffer {
    this.assertAlive();
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    this.checkBufferSize(label, size);
    return this.device.createBuffer({
      label,
      size,
      usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST | extraUsage,
    });
  }

  /** A storage buffer holding `data`. */
  upload(label: string, data: Float32Array | Uint32Array | Int32Array): GPUBuffer {
    const buffer = this.createStorage(label, data.byteLength);
    this.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    return buffer;
  }

  /** Records `dispatches` in one compute pass, submits, and reports errors by kernel. */
  async run(dispatches: readonly Dispatch[], label = dispatches.map((d) => d.label).join(' → ')): Promise<void> {
    await this.scoped(label, () => {
      const encoder = this.device.createCommandEncoder({ label });
      const pass = encoder.beginComputePass({ label });
      encodeDispatches(pass, dispatches);
      pass.end();
      this.device.queue.submit([encoder.finish()]);
    });
    await this.device.queue.onSubmittedWorkDone();
    this.assertAlive();
  }

  /** Copies `bytes` of `buffer` back to the CPU through the staging ring. */
  async read(buffer: GPUBuffer, offset = 0, bytes = buffer.size - offset): Promise<ArrayBuffer> {
    this.assertAlive();
    // One-off readbacks of any size get their own staging buffer; the ring is for small stats.
    if (bytes > 1 << 20) return this.readLarge(buffer, offset, bytes);
    this.readbackRing ??= new StagingRing(this.device, 3, 1 << 20, 'readback');
    const slot = await this.readbackRing.acquire(bytes);
    const encoder = this.device.createCommandEncoder({ label: `read ${buffer.label}` });
    slot.encodeCopy(encoder, buffer, offset, bytes);
    this.device.queue.submit([encoder.finish()]);
    const result = await slot.read().catch((e: unknown) => {
      this.assertAlive();
      throw e;
    });
    return result;
  }

  private async readLarge(buffer: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
    const staging = this.device.createBuffer({
      label: `read ${buffer.label}`,
      size: bytes,
      usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST,
    });
    try {
      const encoder = this.device.createCommandEncoder();
      encoder.copyBufferToBuffer(buffer, offset, staging, 0, bytes);
      this.device.queue.submit([encoder.finish()]);
      await staging.mapAsync(MapMode.READ);
      return staging.getMappedRange().slice(0);
    } finally {
      staging.destroy();
    }
  }

  async readF32(buffer: GPUBuffer, count?: number, offsetElements = 0): Promise<Float32Array> {
    const bytes = (count ?? buffer.size / 4 - offsetElements) * 4;
    return new Float32Array(await this.read(buffer, offsetElements * 4, bytes));
  }

  async readU32(buffer: GPUBuffer, count?: number, offsetElements = 0): Promise<Uint32Array> {
    const bytes = (count ?? buffer.size / 4 - offsetElements) * 4;
    return new Uint32Array(await this.read(buffer, offsetElements * 4, bytes));
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.readbackRing?.destroy();
    this.pool.destroy();
    this.device.destroy();
  }
}
