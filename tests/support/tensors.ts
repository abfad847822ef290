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
