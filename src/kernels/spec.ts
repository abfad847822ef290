import { ShaderStage } from '../gpu/flags.ts';
/**
 * Kernel specs: the one place a kernel's bindings, uniforms and workgroup size
 * are declared. From a spec we derive
 *   - the WGSL declarations prepended to the shader body (so the WGSL text and
 *     the TypeScript bindings can never drift apart),
 *   - the explicit bind-group layout (never `layout: 'auto'`, which drops
 *     unused bindings and cannot be shared),
 *   - the uniform packing (scalars only, 4 bytes each, in declaration order).
 * tests/unit/spec-wgsl.test.ts parses every generated module with wgsl_reflect
 * and checks it against its spec.
 */

export type UniformType = 'u32' | 'i32' | 'f32';
export type StorageAccess = 'read' | 'read_write';

export interface StorageBinding {
  readonly name: string;
  readonly access: StorageAccess;
  /** WGSL store type, e.g. `array<f32>` or `array<vec4<u32>>`. */
  readonly type: string;
}

export interface KernelSpec<U extends Record<string, UniformType> = Record<string, UniformType>> {
  /** Pipeline-cache key: family, entry point and every compile-time option. */
  readonly key: string;
  /** Human name used in error messages, e.g. `matmul[nt,register,4x4,relu]`. */
  readonly label: string;
  readonly entryPoint: string;
  /** Struct `Params` at @binding(0); omitted when empty. */
  readonly uniforms: U;
  /** Storage buffers at @binding(1..) (or from 0 when there are no uniforms). */
  readonly storage: readonly StorageBinding[];
  /** Values of the `override WG_X, WG_Y, WG_Z` constants. */
  readonly workgroupSize: readonly [number, number, number];
  /** Bytes of var<workgroup> memory the body declares (checked against limits). */
  readonly workgroupBytes: number;
  /** The WGSL body: functions and the entry point, using the generated names. */
  readonly body: string;
  /** WGSL extensions the body uses (`enable …;` comes first in the module); the device must have the same-named features. */
  readonly enables?: readonly string[];
}

export type UniformValues<U extends Record<string, UniformType>> = { readonly [K in keyof U]: number };

export function hasUniforms(spec: KernelSpec): boolean {
  return Object.keys(spec.uniforms).length > 0;
}

/** Binding index of each storage buffer, by name. */
export function storageBindingIndex(spec: KernelSpec, name: string): number {
  const i = spec.storage.findIndex((s) => s.name === name);
  if (i < 0) throw new Error(`${spec.label}: no storage binding named '${name}'`);
  return i + (hasUniforms(spec) ? 1 : 0);
}

/** Uniform buffer size: 4 bytes a field, rounded up to 16 (WGSL struct alignment for uniforms). */
export function uniformByteSize(spec: KernelSpec): number {
  const fields = Object.keys(spec.uniforms).length;
  return Math.max(16, Math.ceil((fields * 4) / 16) * 16);
}

export function packUniforms<U extends Record<string, UniformType>>(
  spec: KernelSpec<U>,
  values: UniformValues<U>,
): ArrayBuffer {
  const bytes = new ArrayBuffer(uniformByteSize(spec));
  const view = new DataView(bytes);
  Object.entries(spec.uniforms).forEach(([name, type], i) => {
    const value = values[name as keyof U];
    if (value === undefined || !Number.isFinite(value)) {
      throw new Error(`${spec.label}: uniform '${name}' is ${value}`);
    }
    const offset = i * 4;
    if (type === 'f32') view.setFloat32(offset, value, true);
    else if (type === 'u32') {
      if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
        throw new Error(`${spec.label}: uniform '${name}' = ${value} is not a u32`);
      }
      view.setUint32(offset, value, true);
    } else {
      if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) {
        throw new Error(`${spec.label}: uniform '${name}' = ${value} is not an i32`);
      }
      view.setInt32(offset, value, true);
    }
  });
  return bytes;
}

/** WGSL declarations generated from the spec. */
export function wgslHeader(spec: KernelSpec): string {
  const lines: string[] = (spec.enables ?? []).map((name) => `enable ${name};`);
  const [x, y, z] = spec.workgroupSize;
  lines.push(`override WG_X: u32 = ${x}u;`, `override WG_Y: u32 = ${y}u;`, `override WG_Z: u32 = ${z}u;`);
  let binding = 0;
  const uniforms = Object.entries(spec.uniforms);
  if (uniforms.length > 0) {
    lines.push('struct Params {');
    for (const [name, type] of uniforms) lines.push(`  ${name}: ${type},`);
    lines.push('}');
    lines.push(`@group(0) @binding(${binding++}) var<uniform> params: Params;`);
  }
  for (const s of spec.storage) {
    lines.push(`@group(0) @binding(${binding++}) var<storage, ${s.access}> ${s.name}: ${s.type};`);
  }
  return lines.join('\n') + '\n';
}

export function wgslSource(spec: KernelSpec): string {
  return `// ${spec.label} — generated declarations (src/kernels/spec.ts), then the body (shaders/)\n` +
    wgslHeader(spec) + '\n' + spec.body;
}

export function bindGroupLayoutEntries(spec: KernelSpec): GPUBindGroupLayoutEntry[] {
  const entries: GPUBindGroupLayoutEntry[] = [];
  let binding = 0;
  if (hasUniforms(spec)) {
    entries.push({ binding: binding++, visibility: ShaderStage.COMPUTE, buffer: { type: 'uniform' } });
  }
  for (const s of spec.storage) {
    entries.push({
      binding: binding++,
      visibility: ShaderStage.COMPUTE,
      buffer: { type: s.access === 'read' ? 'read-only-storage' : 'storage' },
    });
  }
  return entries;
}

export function ceilDiv(a: number, b: number): number {
  return Math.floor((a + b - 1) / b);
}

/**
 * A 1-D launch of `count` invocations in workgroups of `workgroupSize`, folded
 * into 2-D when it needs more than `maxPerDimension` workgroups. Shaders
 * recover the index as gid.y · (groups.x · WG_X) + gid.x and guard `< count`.
 */
export function linearGrid(count: number, workgroupSize: number, maxPerDimension = 65535): [number, number] {
  const groups = Math.max(1, ceilDiv(count, workgroupSize));
  if (groups <= maxPerDimension) return [groups, 1];
  const y = ceilDiv(groups, maxPerDimension);
  return [ceilDiv(groups, y), y];
}
