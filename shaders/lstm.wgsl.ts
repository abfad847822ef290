import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';

/**
 * lstm — the sequential part of an LSTM (gate order i, f, g, o as PyTorch),
 * forward and backward through time. The input part of the gates and every
 * weight gradient are plain matmuls over all T·rows rows (shaders/matmul.wgsl.ts);
 * what cannot be batched over time lives here:
 *
 *   forward   z_t = zx_t + h_{t−1} W_hhᵀ     zx_t = x_t W_ihᵀ + b (precomputed, all t at once)
 *             i, f, o = σ(z_i, z_f, z_o), g = tanh(z_g)
 *             c_t = f ⊙ c_{t−1} + i ⊙ g,  h_t = o ⊙ tanh(c_t)
 *   backward  dh_t = [direct]·dh_t + [carry]·(dz_{t+1} W_hh)
 *             dc_t = dh_t ⊙ o_t ⊙ (1 − tanh²(c_t)) + [carry]·dcf_{t+1}
 *             dcf_t = f_t ⊙ dc_t   (the cell path's share of ∂L/∂c_{t−1}; the theory's quantity)
 *             dz_i = dc_t ⊙ g ⊙ i(1−i)   dz_f = dc_t ⊙ c_{t−1} ⊙ f(1−f)
 *             dz_g = dc_t ⊙ i ⊙ (1−g²)   dz_o = dh_t ⊙ tanh(c_t) ⊙ o(1−o)
 * where dh_t on entry holds the readout's direct term (written by a matmul
 * before the backward pass); carry = 0 at t = T.
 *
 * Data layout (row-major f32; rows are batch items, `slab` = rows·H elements
 * per timestep with rows ≥ batch, the extra rows never written and staying zero):
 *   w      W_hh [4H, H]          (row q·H + j: gate q of unit j)
 *   zx     [T, rows, 4H]         slot t−1 holds zx_t (the matmul's row layout: i | f | g | o)
 *   gates  [T, 4, rows, H]       slot t−1 holds i_t, f_t, g_t, o_t after their nonlinearity,
 *                                gate-major so that each gate of a timestep is one contiguous
 *                                slab (the per-timestep statistics of f reduce it as a segment)
 *   c, h   [T+1, rows, H]        slot t holds c_t, h_t; slot 0 is c_0 = h_0 = 0
 *   dh, dc [T, rows, H]          slot t−1 holds ∂L/∂h_t, ∂L/∂c_t (the total, both paths)
 *   dcf    [T, rows, H]          slot t−1 holds f_t ⊙ ∂L/∂c_t
 *   dz     [T, rows, 4H]         slot t−1 holds ∂L/∂z_t (the matmul's row layout again)
 * One binding serves both the read of step t+1 and the write of step t:
 * WebGPU forbids binding one buffer read-only and writable in one dispatch.
 *
 * Work split: one dispatch per timestep (params.t); one invocation per
 * (block of TB batch rows, unit j) computes all four gates of unit j
 * (forward) or dh, dc and the four dz of unit j (backward) for its rows,
 * each dot product sequential with k ascending, so every adapter and every
 * TB adds in the same order.
 *
 * Bindings (src/kernels/lstm.ts declares them):
 *   forward   params {batch, hidden, slab, t}; w, zx, gates, c, h
 *   backward  params {batch, hidden, slab, t, carry, direct}; w, gates, c, dh, dc, dcf, dz
 */
export type LstmDirection = 'forward' | 'backward';

export interface LstmShaderOptions {
  direction: LstmDirection;
  /** Batch rows per invocation (1, 2, 4 or 8): each W_hh load serves them all. */
  rowsPerThread: number;
  /** Invocations per workgroup (1-D). */
  workgroupSize: number;
}

const NONLINEARITIES = `
fn sigmoid(z: f32) -> f32 {
  // exp(−z) overflows to +inf for z < −88 and 1/(1 + inf) = 0: no NaN.
  return 1.0 / (1.0 + exp(-z));
}

fn tanh_safe(z: f32) -> f32 {
  // As the activation module: tanh(15) rounds to 1 in f32, and exp-based tanh cannot overflow.
  return tanh(clamp(z, -15.0, 15.0));
}`;

/** The pointwise part of the forward step for one (row b, unit j), given z = (z_i, z_f, z_g, z_o). */
const FORWARD_ROW = `
fn forward_row(t: u32, b: u32, j: u32, z: vec4<f32>) {
  let H = params.hidden;
  let i = sigmoid(z.x);
  let f = sigmoid(z.y);
  let g = tanh_safe(z.z);
  let o = sigmoid(z.w);
  let unit = b * H + j;
  let c_t = f * c[(t - 1u) * params.slab + unit] + i * g;
  let cur = t * params.slab + unit;
  c[cur] = c_t;
  h[cur] = o * tanh_safe(c_t);
  let gate = (t - 1u) * 4u * params.slab + unit;
  gates[gate] = i;
  gates[gate + params.slab] = f;
  gates[gate + 2u * params.slab] = g;
  gates[gate + 3u * params.slab] = o;
}`;

/** The pointwise part of the backward step for one (row b, unit j), given dh_t (direct + recurrent). */
const BACKWARD_ROW = `
fn backward_row(t: u32, b: u32, j: u32, dh_t: f32, carry: bool) {
  let H = params.hidden;
  let unit = b * H + j;
  let here = (t - 1u) * params.slab + unit;
  let gate = (t - 1u) * 4u * params.slab + unit;
  let i = gates[gate];
  let f = gates[gate + params.slab];
  let g = gates[gate + 2u * params.slab];
  let o = gates[gate + 3u * params.slab];
  let c_t = c[t * params.slab + unit];
  let c_prev = c[here];
  let tc = tanh_safe(c_t);
  var dc_t = dh_t * o * (1.0 - tc * tc);
  if (carry) {
    // The cell path: ∂c_t += f_{t+1} ⊙ ∂c_{t+1}, written by step t + 1.
    dc_t += dcf[t * params.slab + unit];
  }
  dh[here] = dh_t;
  dc[here] = dc_t;
  dcf[here] = f * dc_t;
  let zrow = (t - 1u) * 4u * params.slab + b * 4u * H;
  dz[zrow + j] = dc_t * g * i * (1.0 - i);
  dz[zrow + H + j] = dc_t * c_prev * f * (1.0 - f);
  dz[zrow + 2u * H + j] = dc_t * i * (1.0 - g * g);
  dz[zrow + 3u * H + j] = dh_t * tc * o * (1.0 - o);
}`;

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** z_t of TB rows at once: each W_hh load serves every row (loads, not arithmetic, bound software adapters). */
function forwardBody(tb: number): string {
  const rows = range(tb);
  return `
  let prev = (t - 1u) * params.slab;
  let zbase = (t - 1u) * 4u * params.slab;
${rows.map((r) => `  var z${r} = vec4<f32>(zx[zbase + r${r} * 4u * H + j], zx[zbase + r${r} * 4u * H + H + j], zx[zbase + r${r} * 4u * H + 2u * H + j], zx[zbase + r${r} * 4u * H + 3u * H + j]);`).join('\n')}
  for (var k = 0u; k < H; k++) {
    let wk = vec4<f32>(w[j * H + k], w[(H + j) * H + k], w[(2u * H + j) * H + k], w[(3u * H + j) * H + k]);
${rows.map((r) => `    z${r} += h[prev + r${r} * H + k] * wk;`).join('\n')}
  }
${rows.map((r) => `  if (b0 + ${r}u < params.batch) { forward_row(t, b0 + ${r}u, j, z${r}); }`).join('\n')}`;
}

/** dh_t of TB rows at once: [direct] + Σ_k dz_{t+1}[b, k] · W_hh[k, j] over the 4H gate rows, k ascending. */
function backwardBody(tb: number): string {
  const rows = range(tb);
  return `
  let carry = params.carry != 0u;
  let here = (t - 1u) * params.slab;
${rows.map((r) => `  var a${r} = 0.0;`).join('\n')}
  if (params.direct != 0u) {
${rows.map((r) => `    a${r} = dh[here + r${r} * H + j];`).join('\n')}
  }
  if (carry) {
    let next = t * 4u * params.slab;
    for (var k = 0u; k < 4u * H; k++) {
      let wk = w[k * H + j];
${rows.map((r) => `      a${r} += dz[next + r${r} * 4u * H + k] * wk;`).join('\n')}
    }
  }
${rows.map((r) => `  if (b0 + ${r}u < params.batch) { backward_row(t, b0 + ${r}u, j, a${r}, carry); }`).join('\n')}`;
}

/**
 * The entry point: invocation (row block, unit j) of timestep params.t.
 * Rows b0 .. b0+TB−1 past the batch re-read the last row (clamped) and are never stored.
 */
function entry(direction: LstmDirection, tb: number, body: string): string {
  return `
@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn lstm_${direction}(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let index = gid.y * (groups.x * WG_X) + gid.x;
  let H = params.hidden;
  if (index >= ((params.batch + ${tb - 1}u) / ${tb}u) * H) { return; }
  let b0 = (index / H) * ${tb}u;
  let j = index % H;
  let t = params.t;
${range(tb).map((r) => `  let r${r} = min(b0 + ${r}u, params.batch - 1u);`).join('\n')}${body}
}`;
}

export function lstmShader(o: LstmShaderOptions): string {
  if (!Number.isInteger(o.workgroupSize) || o.workgroupSize < 1) throw new Error(`lstm: workgroup size ${o.workgroupSize} must be an integer ≥ 1`);
  if (![1, 2, 4, 8].includes(o.rowsPerThread)) throw new Error(`lstm: rowsPerThread must be 1, 2, 4 or 8, got ${o.rowsPerThread}`);
  const forward = o.direction === 'forward';
  const tb = o.rowsPerThread;
  return wgsl`
${NONLINEARITIES}
${forward ? FORWARD_ROW : BACKWARD_ROW}
${entry(o.direction, tb, forward ? forwardBody(tb) : backwardBody(tb))}
`;
}
