/**
 * The plain-JS baseline: a straightforward but decent Float32Array matmul,
 * the loop order per layout that walks the innermost loop along contiguous
 * memory (nn: i-k-j, tn: k-i-j, nt: i-j-k dot products of two rows). What a
 * careful JS programmer writes without SIMD or threads.
 */
import type { MatmulDims, MatmulLayout } from '../src/kernels/matmul.ts';

/** C = op(A)·op(B) into `c` (overwritten). Layouts as prepareMatmul: nt A[M,K]·B[N,K]ᵀ, nn A[M,K]·B[K,N], tn A[K,M]ᵀ·B[K,N]. */
export function plainMatmul(layout: MatmulLayout, d: MatmulDims, a: Float32Array, b: Float32Array, c: Float32Array): void {
  const { m: M, n: N, k: K } = d;
  if (layout === 'nt') {
    for (let i = 0; i < M; i++) {
      const ai = i * K;
      for (let j = 0; j < N; j++) {
        const bj = j * K;
        let sum = 0;
        for (let k = 0; k < K; k++) sum += a[ai + k] * b[bj + k];
        c[i * N + j] = sum;
      }
    }
    return;
  }
  c.fill(0, 0, M * N);
  if (layout === 'nn') {
    for (let i = 0; i < M; i++) {
      const ci = i * N;
      for (let k = 0; k < K; k++) {
        const aik = a[i * K + k];
        const bk = k * N;
        for (let j = 0; j < N; j++) c[ci + j] += aik * b[bk + j];
      }
    }
    return;
  }
  for (let k = 0; k < K; k++) {
    const ak = k * M;
    const bk = k * N;
    for (let i = 0; i < M; i++) {
      const aki = a[ak + i];
      const ci = i * N;
      for (let j = 0; j < N; j++) c[ci + j] += aki * b[bk + j];
    }
  }
}
