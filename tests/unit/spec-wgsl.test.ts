import { describe, expect, it } from 'vitest';
import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import { allKernelSpecs } from '../../src/kernels/registry.ts';
import { bindGroupLayoutEntries, hasUniforms, packUniforms, uniformByteSize, wgslSource, type KernelSpec } from '../../src/kernels/spec.ts';

// wgsl_reflect's ResourceType: 0 uniform, 1 storage.
const UNIFORM = 0;
const STORAGE = 1;

const specs = allKernelSpecs();

describe('every generated WGSL module agrees with its kernel spec (parsed by wgsl_reflect, no GPU)', () => {
  it('has unique cache keys', () => {
    const keys = specs.map((s) => s.key);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it.each(specs.map((s) => [s.label, s] as const))('%s', (_label, spec: KernelSpec) => {
    const reflect = new WgslReflect(wgslSource(spec));
    const groups = reflect.getBindGroups();
    expect(groups.length).toBe(1);
    const bindings = groups[0];
    const expected = [
      ...(hasUniforms(spec) ? [{ name: 'params', kind: UNIFORM, access: 'read' }] : []),
      ...spec.storage.map((s) => ({ name: s.name, kind: STORAGE, access: s.access })),
    ];
    // Exactly the spec's bindings, in order, with its access modes: the body declares none of its own.
    expect(bindings.map((b) => ({ name: b.name, kind: b.resourceType, access: b.access }))).toEqual(expected);
    expect(bindings.map((b) => b.binding)).toEqual(expected.map((_, i) => i));

    // The bind-group layout derived from the same spec says the same.
    const layout = bindGroupLayoutEntries(spec);
    expect(layout.map((e) => e.buffer?.type)).toEqual(
      expected.map((e) => (e.kind === UNIFORM ? 'uniform' : e.access === 'read' ? 'read-only-storage' : 'storage')),
    );

    // Uniform packing: field i at byte 4·i, the WGSL struct no larger than the buffer we allocate.
    if (hasUniforms(spec)) {
      const struct = reflect.uniforms[0].type as unknown as { members: { name: string; offset: number; type: { name: string } }[]; size: number };
      const fields = Object.entries(spec.uniforms);
      expect(struct.members.map((m) => [m.name, m.type.name, m.offset])).toEqual(fields.map(([n, t], i) => [n, t, 4 * i]));
      expect(struct.size).toBeLessThanOrEqual(uniformByteSize(spec));
      const zeros = Object.fromEntries(fields.map(([n]) => [n, 0]));
      expect(packUniforms(spec, zeros).byteLength).toBe(uniformByteSize(spec));
    }

    // One compute entry point, sized by the override constants.
    expect(reflect.entry.compute.map((e) => e.name)).toEqual([spec.entryPoint]);
    expect(reflect.overrides.map((o) => o.name).sort()).toEqual(['WG_X', 'WG_Y', 'WG_Z']);
  });
});

describe('WGSL extensions', () => {
  it('opens a module with `enable` for each extension its spec names: the subgroup matmuls enable subgroups, nothing else enables anything', () => {
    const enabling = specs.filter((s) => (s.enables ?? []).length > 0);
    expect(enabling.length).toBeGreaterThan(0);
    for (const spec of specs) {
      const source = wgslSource(spec).split('\n');
      const subgroup = spec.key.startsWith('matmul/') && spec.key.includes('/subgroup-');
      expect(spec.enables ?? []).toEqual(subgroup ? ['subgroups'] : []);
      // After the comment line, the enable directives come before any declaration (WGSL requires it).
      expect(source.slice(1, 1 + (spec.enables ?? []).length)).toEqual((spec.enables ?? []).map((e) => `enable ${e};`));
      expect(source.filter((line) => line.startsWith('enable ')).length).toBe((spec.enables ?? []).length);
      expect(spec.body.includes('quadSwapDiagonal(')).toBe(subgroup);
    }
  });
});

describe('uniform packing', () => {
  const spec = specs.find((s) => s.key.startsWith('matmul/'))!;
  it('writes u32 fields little-endian in declaration order', () => {
    const bytes = new Uint32Array(packUniforms(spec, { m: 3, n: 5, k: 7 }));
    expect(Array.from(bytes.slice(0, 3))).toEqual([3, 5, 7]);
  });
  it('refuses values a u32 cannot hold', () => {
    expect(() => packUniforms(spec, { m: -1, n: 5, k: 7 })).toThrow(/not a u32/);
    expect(() => packUniforms(spec, { m: 1.5, n: 5, k: 7 })).toThrow(/not a u32/);
    expect(() => packUniforms(spec, { m: NaN, n: 5, k: 7 })).toThrow(/uniform 'm'/);
  });
});
