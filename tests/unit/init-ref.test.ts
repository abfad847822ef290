import { describe, expect, it } from 'vitest';
import { f32Literal } from '../../shaders/init.wgsl.ts';
import {
  boxMullerRef,
  gramError,
  initSpecs,
  isometryError,
  mulhi32,
  openUniformFromBits,
  orthogonalGeometry,
  orthogonalRef,
  philox4x32,
  randomBitsRef,
  randomFillRef,
  sinCosPi,
  splitSeed,
  triangularError,
  uniformFromBits,
} from '../../src/kernels/init.ts';
import { gaussianData, seededRandom } from '../../src/conformance/data.ts';
import { wgslSource } from '../../src/kernels/spec.ts';

const hex = (words: ArrayLike<number>) => Array.from(words, (x) => (x >>> 0).toString(16).padStart(8, '0')).join(' ');

// Random123 kat_vectors: "philox4x32 10 CTR[4] KEY[2] → OUT[4]".
const KAT: readonly [string, string, string][] = [
  ['00000000 00000000 00000000 00000000', '00000000 00000000', '6627e8d5 e169c58d bc57ac4c 9b00dbd8'],
  ['ffffffff ffffffff ffffffff ffffffff', 'ffffffff ffffffff', '408f276d 41c83b0e a20bc7c6 6d5451fd'],
  ['243f6a88 85a308d3 13198a2e 03707344', 'a4093822 299f31d0', 'd16cfe09 94fdcceb 5001e420 24126ea1'],
];
const words = (s: string) => s.split(' ').map((w) => parseInt(w, 16));

describe('Philox4x32-10 reference', () => {
  it.each(KAT)('known answer: ctr %s key %s → %s', (ctr, key, out) => {
    expect(hex(philox4x32(words(ctr), words(key)))).toBe(out);
  });

  it('mulhi32 equals the high word of the exact 64-bit product', () => {
    const next = seededRandom(9);
    const samples: [number, number][] = [[0, 0], [0xffffffff, 0xffffffff], [0xd2511f53, 0xffffffff], [0xcd9e8d57, 1], [0x10000, 0x10000], [0xffff, 0xffff]];
    for (let i = 0; i < 2000; i++) samples.push([Math.floor(next() * 2 ** 32), Math.floor(next() * 2 ** 32)]);
    for (const [a, b] of samples) {
      expect(mulhi32(a, b)).toBe(Number((BigInt(a) * BigInt(b)) >> 32n));
    }
  });

  it('element i of a fill is word i mod 4 of Philox((⌊i/4⌋, stream lo, stream hi, 0), seed)', () => {
    const key = { seed: 2 ** 40 + 3, stream: 2 ** 33 + 5 };
    const bits = randomBitsRef(key, 11);
    for (let i = 0; i < 11; i++) {
      expect(bits[i]).toBe(philox4x32([Math.floor(i / 4), 5, 2, 0], [3, 256])[i % 4]);
    }
    expect(randomBitsRef({ seed: [3, 256], stream: [5, 2] }, 11)).toEqual(bits);
  });

  it('splits seeds into (lo, hi) u32 words', () => {
    expect(splitSeed(0)).toEqual([0, 0]);
    expect(splitSeed(2 ** 32 + 7)).toEqual([7, 1]);
    expect(splitSeed(Number.MAX_SAFE_INTEGER)).toEqual([0xffffffff, 0x1fffff]);
    expect(splitSeed([1, 2])).toEqual([1, 2]);
    expect(() => splitSeed(1.5)).toThrow();
    expect(() => splitSeed(-1)).toThrow();
    expect(() => splitSeed([0, -1])).toThrow();
  });
});

describe('transforms of the bits', () => {
  it('uniform [0,1) and (0,1] are exact f32 multiples of 2⁻²⁴ and hit their ends', () => {
    expect(uniformFromBits(0)).toBe(0);
    expect(uniformFromBits(0xffffffff)).toBe(1 - 2 ** -24);
    expect(openUniformFromBits(0)).toBe(2 ** -24);
    expect(openUniformFromBits(0xffffffff)).toBe(1);
    for (const x of [0x12345678, 0xdeadbeef, 0x000000ff]) {
      expect(Math.fround(uniformFromBits(x))).toBe(uniformFromBits(x));
      expect(Math.fround(openUniformFromBits(x))).toBe(openUniformFromBits(x));
    }
  });

  it('sinCosPi is sin/cos(πs) with exact zeros at the quadrant points', () => {
    for (let s = -1; s < 1; s += 1 / 64 + 1e-4) {
      const [sn, cs] = sinCosPi(s);
      expect(sn).toBeCloseTo(Math.sin(Math.PI * s), 14);
      expect(cs).toBeCloseTo(Math.cos(Math.PI * s), 14);
    }
    expect(sinCosPi(-1)[1]).toBe(-1);
    expect(Math.abs(sinCosPi(-1)[0])).toBe(0);
    expect(Math.abs(sinCosPi(0.5)[1])).toBe(0);
    expect(Math.abs(sinCosPi(-0.5)[1])).toBe(0);
  });

  it('Box–Muller: u = 1 gives 0, u = 2⁻²⁴ gives the largest radius √(48 ln 2)', () => {
    expect(boxMullerRef(0xffffffff, 0x80000000)).toEqual([0, 0]);
    const [z0] = boxMullerRef(0, 0x80000000); // s = 0: cos = 1
    expect(z0).toBeCloseTo(Math.sqrt(48 * Math.LN2), 12);
  });

  it('normal reference: mean + std·z, and the odd last element pairs with the next word', () => {
    const fill = { seed: 12, stream: 3, count: 5 };
    const bits = randomBitsRef(fill, 8);
    const unit = randomFillRef('normal', fill);
    const scaled = randomFillRef('normal', { ...fill, mean: 1, std: 2 });
    expect(unit[4]).toBe(boxMullerRef(bits[4], bits[5])[0]);
    expect(unit[3]).toBe(boxMullerRef(bits[2], bits[3])[1]);
    for (let i = 0; i < 5; i++) expect(scaled[i]).toBe(1 + 2 * unit[i]);
  });

  it('f32Literal writes exact WGSL hexadecimal floats', () => {
    expect(f32Literal(1)).toBe('0x1.000000p+0f');
    expect(f32Literal(-0.5)).toBe('-0x1.000000p-1f');
    expect(f32Literal(0)).toBe('0.0f');
    for (const x of [Math.PI, 1 / 3, Math.LN2, -1e-20, 3e30]) {
      const m = /^(-?)0x1\.([0-9a-f]{6})p([+-]\d+)f$/.exec(f32Literal(x));
      expect(m).not.toBeNull();
      const [, sign, frac, exp] = m!;
      const value = (sign ? -1 : 1) * (1 + parseInt(frac, 16) / 2 ** 24) * 2 ** Number(exp);
      expect(value).toBe(Math.fround(x));
    }
  });
});

describe('orthogonal reference and checks (float64)', () => {
  it.each([[1, 1], [1, 9], [9, 1], [7, 13], [13, 7], [32, 32]])('%i×%i: orthonormal, QR-triangular, isometric', (rows, cols) => {
    const g = gaussianData(rows * cols, rows * 100 + cols);
    const w = orthogonalRef(rows, cols, g, 1.7);
    expect(gramError(w, rows, cols, 1.7)).toBeLessThan(1e-13);
    const tri = triangularError(w, g, rows, cols, 1.7);
    expect(tri.offTriangle).toBeLessThan(1e-13);
    expect(tri.minDiagonal).toBeGreaterThan(0);
    expect(isometryError(w, rows, cols, 1.7)).toBeLessThan(1e-13);
  });

  it('checks catch a wrong sign, a wrong order and a non-orthogonal matrix', () => {
    const [rows, cols] = [6, 4];
    const g = gaussianData(rows * cols, 4);
    const w = orthogonalRef(rows, cols, g);
    const flipped = w.map((v, i) => (i % cols === 2 ? -v : v)); // negate column 2
    expect(triangularError(flipped, g, rows, cols).minDiagonal).toBeLessThan(0);
    const swapped = w.map((_, i) => w[i - (i % cols) + [1, 0, 2, 3][i % cols]]); // swap columns 0 and 1
    expect(triangularError(swapped, g, rows, cols).offTriangle).toBeGreaterThan(0.01);
    expect(gramError(g, rows, cols)).toBeGreaterThan(0.1);
    expect(isometryError(g, rows, cols)).toBeGreaterThan(0.01);
  });

  it('geometry: rows of a wide matrix, columns of a tall one', () => {
    expect(orthogonalGeometry(3, 5)).toEqual({ n: 3, len: 5, vstride: 5, estride: 1 });
    expect(orthogonalGeometry(5, 3)).toEqual({ n: 3, len: 5, vstride: 1, estride: 3 });
    expect(orthogonalGeometry(4, 4)).toEqual({ n: 4, len: 4, vstride: 4, estride: 1 });
  });
});

describe('init specs generate their WGSL declarations', () => {
  const specs = initSpecs();
  it('has unique cache keys', () => expect(new Set(specs.map((s) => s.key)).size).toBe(specs.length));
  it.each(specs.map((s) => [s.label, s] as const))('%s', (_label, spec) => {
    const code = wgslSource(spec);
    for (const [name, type] of Object.entries(spec.uniforms)) expect(code).toContain(`  ${name}: ${type},`);
    for (const s of spec.storage) expect(code).toContain(`var<storage, ${s.access}> ${s.name}: ${s.type};`);
    expect(code).not.toMatch(/#(if|else|elif|endif)/);
  });
});
