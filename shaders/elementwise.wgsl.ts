import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { activationFunctions, type Activation } from './activation.wgsl.ts';

/**
 * elementwise — activations, forward and backward, over flat f32 arrays.
 *   forward:  y[i]  = φ(x[i])
 *   backward: dx[i] = dy[i] · φ'(z[i])      (z = the forward input; relu'(0) = 0)
 * One element per invocation; the grid is 2-D when the count needs more than
 * 65535 workgroups along x, so the linear index is y·(groups_x·WG_X) + x.
 * Bindings (src/kernels/elementwise.ts): params {count}; forward x, y;
 * backward dy, z, dx.
 */
export interface ElementwiseShaderOptions {
  activation: Activation;
  direction: 'forward' | 'backward';
}

export function elementwiseShader(o: ElementwiseShaderOptions): string {
  const forward = o.direction === 'forward';
  return wgsl`
${activationFunctions(o.activation)}

@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.y * (groups.x * WG_X) + gid.x;
  if (i >= params.count) { return; }
#if ${forward}
  y[i] = act(x[i]);
#else
  dx[i] = dy[i] * act_grad_from_input(z[i]);
#endif
}
`;
}
