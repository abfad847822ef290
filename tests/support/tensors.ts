import { expect } from 'vitest';

export function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i]));
  return m;
}

/** |gpu − ref| ≤ rtol · max|ref| over the tensor (f32 gradients of small nets: rtol 2e-5); the message names the worst element. */
export function expectTensorClose(name: string, gpu: ArrayLike<number>, ref: ArrayLike<number>, rtol = 2e-5): void {
  expect(gpu.length, `${name}: length`).toBe(ref.length);
  const scale = Math.max(maxAbs(ref), 1e-30);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < ref.length; i++) {
    const e = Math.abs(gpu[i] - ref[i]);
    if (!(e <= worst)) {
      worst = e;
      at = i;
    }
  }
  expect(worst / scale, `${name}[${at}]: gpu ${gpu[at]} vs ref ${ref[at]} (scale ${scale})`).toBeLessThanOrEqual(rtol);
}

/**
 * Checks `grads` against central differences (step `eps`) of `lossAt()` in
 * every `stride`-th element of `values` (perturbed in place and restored):
 * |grad − fd| ≤ rtol · max|grads|; the message names the element. Returns
 * how many elements were checked.
 */
export function expectCentralDifferences(
  name: string,
  values: Float64Array,
  grads: ArrayLike<number>,
  lossAt: () => number,
  options: { eps?: number; rtol: number; stride?: number },
): number {
  const eps = options.eps ?? 1e-6;
  const scale = Math.max(maxAbs(grads), 1e-12);
  let checked = 0;
  for (let i = 0; i < values.length; i += options.stride ?? 1) {
    const saved = values[i];
    values[i] = saved + eps;
    const plus = lossAt();
    values[i] = saved - eps;
    const minus = lossAt();
    values[i] = saved;
    expect(Math.abs(grads[i] - (plus - minus) / (2 * eps)) / scale, `${name}[${i}]`).toBeLessThanOrEqual(options.rtol);
    checked++;
  }
  return checked;
}
