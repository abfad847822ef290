import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';

/**
 * Activation functions shared by the elementwise kernels and the fused matmul
 * epilogues.
 *   act(z)                 φ(z)
 *   act_grad_from_input(z) φ'(z)                    (relu'(0) = 0, as PyTorch)
 *   act_grad_from_output(h) φ'(z) written with h = φ(z): relu: h > 0; tanh: 1 − h²
 * tanh clamps its argument to ±15 (tanh(15) rounds to 1 in f32) so that
 * implementations built on exp/sinh/cosh cannot overflow into NaN.
 */
export type Activation = 'linear' | 'relu' | 'tanh';
export const ACTIVATIONS: readonly Activation[] = ['linear', 'relu', 'tanh'];

export function activationFunctions(activation: Activation): string {
  const relu = activation === 'relu';
  const tanh = activation === 'tanh';
  return wgsl`
fn act(z: f32) -> f32 {
#if ${relu}
  return max(z, 0.0);
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
  let h = tanh(clamp(z, -15.0, 15.0));
  return 1.0 - h * h;
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
