import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { activationFunctions, type Activation } from './activation.wgsl.ts';

/**
 * elementwise — activations, forward and backward, over flat f32 arrays.
 *   forward:  y[i]  = φ(x[i])
 *   backward: dx[i] = dy[i] · φ'(z[i])      (z = the forward input; relu'(0) = 0)
 * Items are elements, or with `vector` quads (the arrays bound as
 * vec4<f32>, count in vec4s: for counts that are multiples of 4, it quarters
 * the invocations and issues 16-byte loads). Each invocation takes
 * ELEMENTWISE_ITEMS_PER_INVOCATION items, grid-strided (item i + j·S, S the
 * invocations launched, so neighbours read neighbours): fewer invocations
 * for the same work, which a CPU adapter runs faster (SwiftShader: relu
 * over 2²² elements ~30 % faster at 4 quads per invocation than at 1).
 * The grid is 2-D when it needs more than 65535 workgroups along x, so the
 * linear index is y·(groups_x·WG_X) + x.
 * Bindings (src/kernels/elementwise.ts): params {count}; forward x, y;
 * backward dy, z, dx.
 */
export interface ElementwiseShaderOptions {
  activation: Activation;
  direction: 'forward' | 'backward';
  vector?: boolean;
}

/** Items (elements or quads) each invocation computes; the dispatch launches ⌈count / this⌉ invocations. */
export const ELEMENTWISE_ITEMS_PER_INVOCATION = 4;

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
  let first = gid.y * (groups.x * WG_X) + gid.x;
  let stride = groups.y * groups.x * WG_X;
  for (var j = 0u; j < ${ELEMENTWISE_ITEMS_PER_INVOCATION}u; j++) {
  let i = first + j * stride;
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
}
`;
}
