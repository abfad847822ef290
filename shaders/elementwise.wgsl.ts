import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { activationFunctions, type Activation } from './activation.wgsl.ts';

/**
 * elementwise — activations, forward and backward, over flat f32 arrays.
 *   forward:  y[i]  = φ(x[i])
 *   backward: dx[i] = dy[i] · φ'(z[i])      (z = the forward input; relu'(0) = 0)
 * One element per invocation, or with `vector` four (the arrays bound as
 * vec4<f32>, count in vec4s: for counts that are multiples of 4, it quarters
 * the invocations and issues 16-byte loads); the grid is 2-D when the count
 * needs more than 65535 workgroups along x, so the linear index is
 * y·(groups_x·WG_X) + x.
 * Bindings (src/kernels/elementwise.ts): params {count}; forward x, y;
 * backward dy, z, dx.
 */
export interface ElementwiseShaderOptions {
  activation: Activation;
  direction: 'forward' | 'backward';
  vector?: boolean;
}

export function elementwiseShader(o: ElementwiseShaderOptions): string {
  const forward = o.direction === 'forward';
  const vector = o.vector === true;
  return wgsl`
${activationFunctions(o.activation)}

// WGSL has no overloading of user functions: the vec4 forms apply the scalar ones per lane.
fn act4(v: vec4<f32>) -> vec4<f32> {
  return vec4<f32>(act(v.x), act(v.y), act(v.z), act(v.w));
}
fn act_grad4(v: vec4<f32>) -> vec4<f32> {
  return vec4<f32>(act_grad_from_input(v.x), act_grad_from_input(v.y), act_grad_from_input(v.z), act_grad_from_input(v.w));
}

@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.y * (groups.x * WG_X) + gid.x;
  if (i >= params.count) { return; }
#if ${forward && !vector}
  y[i] = act(x[i]);
#elif ${forward && vector}
  y[i] = act4(x[i]);
#elif ${!vector}
  dx[i] = dy[i] * act_grad_from_input(z[i]);
#else
  dx[i] = dy[i] * act_grad4(z[i]);
#endif
}
`;
}
