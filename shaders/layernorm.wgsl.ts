import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';

/**
 * layernorm — layer normalization over the rows of a [rows, n] f32 matrix
 * (Ba et al. 2016), forward and backward, as llm.c's layernorm kernels:
 *   forward:  μ = mean(x), r = 1/√(mean((x − μ)²) + ε), x̂ = (x − μ)·r, y = γ ⊙ x̂ + β;
 *             stats[row] = (μ, r) saved for backward.
 *   backward: g = dy ⊙ γ,  dx = r·(g − mean(g) − x̂·mean(g ⊙ x̂))        (one workgroup per row)
 *   params:   dγ_j = Σ_rows dy·x̂,  dβ_j = Σ_rows dy                     (one invocation per column)
 * forward and backward: one workgroup of WG invocations per row, a strided
 * loop over the row and a tree in workgroup memory (the variance is the
 * second pass over (x − μ)², not E[x²] − μ², which cancels). params: one
 * invocation per column j, looping over the rows in order (deterministic).
 * Bindings (src/kernels/layernorm.ts): params {rows, n, eps};
 * forward x, gamma, beta, y, stats; backward dy, x, gamma, stats, dx;
 * params dy, x, stats, dgamma, dbeta. stats is array<vec2<f32>> (μ, r).
 */
export interface LayerNormShaderOptions {
  op: 'forward' | 'backward' | 'params';
  /** forward/backward: invocations per row (a power of two). */
  workgroupSize: number;
}

export function layerNormShader(o: LayerNormShaderOptions): string {
  const forward = o.op === 'forward';
  const backward = o.op === 'backward';
  const params = o.op === 'params';
  const wg = o.workgroupSize;
  return wgsl`
#if ${params}
@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let j = gid.x;
  if (j >= params.n) { return; }
  var dg = 0.0;
  var db = 0.0;
  for (var b = 0u; b < params.rows; b++) {
    let s = stats[b];
    let i = b * params.n + j;
    let xhat = (x[i] - s.x) * s.y;
    dg += dy[i] * xhat;
    db += dy[i];
  }
  dgamma[j] = dg;
  dbeta[j] = db;
}
#else
var<workgroup> tree: array<vec2<f32>, ${wg}>;

// The sums of the workgroup's invocations, in every invocation (a tree; uniform control flow).
fn workgroup_sum(v: vec2<f32>, lid: u32) -> vec2<f32> {
  tree[lid] = v;
  workgroupBarrier();
  for (var stride = ${wg}u / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { tree[lid] = tree[lid] + tree[lid + stride]; }
    workgroupBarrier();
  }
  let total = tree[0];
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  // One workgroup per row: the whole workgroup leaves together, so barriers stay uniform.
  let row = wid.x;
  if (row >= params.rows) { return; }
  let n = params.n;
  let base = row * n;
  let inv_n = 1.0 / f32(n);
#if ${forward}
  var s = 0.0;
  for (var j = lid; j < n; j += ${wg}u) { s += x[base + j]; }
  let mean = workgroup_sum(vec2<f32>(s, 0.0), lid).x * inv_n;
  var v = 0.0;
  for (var j = lid; j < n; j += ${wg}u) {
    let d = x[base + j] - mean;
    v += d * d;
  }
  let rstd = inverseSqrt(workgroup_sum(vec2<f32>(v, 0.0), lid).x * inv_n + params.eps);
  for (var j = lid; j < n; j += ${wg}u) {
    y[base + j] = (x[base + j] - mean) * rstd * gamma[j] + beta[j];
  }
  if (lid == 0u) { stats[row] = vec2<f32>(mean, rstd); }
#elif ${backward}
  let st = stats[row];
  var sums = vec2<f32>(0.0, 0.0);
  for (var j = lid; j < n; j += ${wg}u) {
    let g = dy[base + j] * gamma[j];
    let xhat = (x[base + j] - st.x) * st.y;
    sums += vec2<f32>(g, g * xhat);
  }
  let means = workgroup_sum(sums, lid) * inv_n;
  for (var j = lid; j < n; j += ${wg}u) {
    let g = dy[base + j] * gamma[j];
    let xhat = (x[base + j] - st.x) * st.y;
    dx[base + j] = st.y * (g - means.x - xhat * means.y);
  }
#endif
}
#endif
`;
}

/** Bytes of workgroup memory forward and backward use. */
export function layerNormWorkgroupBytes(o: LayerNormShaderOptions): number {
  return o.op === 'params' ? 0 : 8 * o.workgroupSize;
}
