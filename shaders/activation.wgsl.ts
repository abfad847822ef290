import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';

/**
 * Activation functions shared by the elementwise kernels and the fused matmul
 * epilogues.
 *   act(z)                 φ(z)
 *   act_grad_from_input(z) φ'(z)                    (relu'(0) = 0, as PyTorch; tanh: sech² without cancellation)
 *   act_grad_from_output(h) φ'(z) written with h = φ(z): relu: h > 0; tanh: 1 − h²
 * tanh clamps its argument to ±15 (tanh(15) rounds to 1 in f32) so that
 * implementations built on exp/sinh/cosh cannot overflow into NaN.
 */
export type Activation = 'linear' | 'relu' | 'tanh';
/** The activations the elementwise kernels and the models support. */
export const ACTIVATIONS: readonly Activation[] = ['linear', 'relu', 'tanh'];

export function activationFunctions(activation: Activation): string {
  const relu = activation === 'relu';
  const tanh = activation === 'tanh';
  return wgsl`
fn act(z: f32) -> f32 {
#if ${relu}
  // Not max(z, 0): that turns NaN into 0 and hides a diverged forward pass.
  return select(z, 0.0, z < 0.0);
#elif ${tanh}
  return tanh(clamp(z, -15.0, 15.0));
#else
  return z;
#endif
}

fn act_grad_from_input(z: f32) -> f32 {
#if ${relu}
  return select(0.0, 1.0, z > 0.0);
#elif ${tanh}
  // sech²(z) = 4t / (1 + t)² with t = e^(−2|z|): no cancellation, unlike 1 − tanh²(z)
  // near |z| ≈ 1..8, and no overflow (t underflows to 0 for large |z|).
  let t = exp(-2.0 * abs(z));
  let d = 1.0 + t;
  return 4.0 * t / (d * d);
#else
  return 1.0;
#endif
}

fn act_grad_from_output(h: f32) -> f32 {
#if ${relu}
  return select(0.0, 1.0, h > 0.0);
#elif ${tanh}
  return 1.0 - h * h;
#else
  return 1.0;
#endif
}
`;
}
