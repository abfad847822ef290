import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { activationFunctions, type Activation } from './activation.wgsl.ts';

/**
 * residual — the skip connection of a residual block, over flat f32 arrays.
 *   add:    out[i] = x[i] + a·f[i]                   (forward h_l = h_{l−1} + A·F_l; backward
 *                                                    ∂L/∂h_{l−1} = ∂L/∂h_l + δ_l W_l with a = 1)
 *   branch: dz[i]  = a·dh[i]·φ'(z[i]), φ' read from f[i] = φ(z[i])   (δ_l = A·∂L/∂h_l ⊙ φ'(z_l))
 * RESIDUAL_ELEMENTS_PER_INVOCATION elements per invocation, grid-strided
 * (element i + j·S, S the invocations launched); the grid is 2-D when it
 * needs more than 65535 workgroups along x (linear index
 * y·(groups_x·WG_X) + x), as in the elementwise family.
 * Bindings (src/kernels/residual.ts): params {count, a}; add x, f, out;
 * branch dh, f, dz.
 */
export interface ResidualShaderOptions {
  op: 'add' | 'branch';
  /** branch only: the activation whose derivative is read from its output. */
  activation?: Activation;
}

/** Elements each invocation computes (fewer invocations for the same work: faster on CPU adapters). */
export const RESIDUAL_ELEMENTS_PER_INVOCATION = 4;

export function residualShader(o: ResidualShaderOptions): string {
  const add = o.op === 'add';
  return wgsl`
${activationFunctions(o.activation ?? 'linear')}

@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let first = gid.y * (groups.x * WG_X) + gid.x;
  let stride = groups.y * groups.x * WG_X;
  for (var j = 0u; j < ${RESIDUAL_ELEMENTS_PER_INVOCATION}u; j++) {
  let i = first + j * stride;
  if (i >= params.count) { return; }
#if ${add}
  out[i] = x[i] + params.a * f[i];
#else
  dz[i] = params.a * dh[i] * act_grad_from_output(f[i]);
#endif
  }
}
`;
}
