import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { activationFunctions, type Activation } from './activation.wgsl.ts';

/**
 * rnn — the sequential part of a vanilla RNN, forward and backward through time.
 * The input projection, the readout and the weight gradients are plain matmuls
 * (shaders/matmul.wgsl.ts); what cannot be batched over time lives here:
 *
 *   forward   h_t  = φ(u_t + h_{t−1} W_hhᵀ)                 u_t = x_t W_xhᵀ + b_h (precomputed)
 *   backward  dh_t = [direct_t]·dh_t + [carry_t]·(dz_{t+1} W_hh)
 *             dz_t = dh_t ⊙ φ'(z_t)  with φ' written from h_t (relu: h > 0; tanh: 1 − h²)
 * where dh_t on entry holds the readout's direct term dy_t W_hy (written by a
 * matmul before the backward pass), direct_t says whether step t has a loss,
 * and carry_t = 0 cuts the recurrence (t = T, and truncated BPTT).
 *
 * Data layout (row-major f32; rows are batch items, `slab` = rows·H elements
 * per timestep with rows ≥ batch, the extra rows staying zero):
 *   w   W_hh [H, H]                  (W[j][k]: row j is output unit j)
 *   u   [T, rows, H]   slot t−1 holds u_t
 *   h   [T+1, rows, H] slot t holds h_t; slot 0 is h_0 = 0
 *   dh  [T, rows, H]   slot t−1 holds ∂L/∂h_t
 *   dz  [T, rows, H]   slot t−1 holds ∂L/∂z_t
 * One binding serves both the read of step t−1 (t+1) and the write of step t:
 * WebGPU forbids binding one buffer read-only and writable in one dispatch.
 *
 * Work split: an invocation owns a tile of TB batch rows × TC hidden units
 * (TC = 4 or 8) and keeps it in vec4 registers; each output is one sequential dot product of
 * length H (k ascending), written by `forward_tile` / `backward_tile`, which
 * both variants share, so both give the same numbers:
 *   step       — one dispatch per timestep (params.t), one invocation per tile.
 *   persistent — ONE workgroup runs every timestep in a loop, invocations
 *                striding over the tiles, with a storageBarrier between steps
 *                (WebGPU has no synchronisation across workgroups, so all T
 *                steps fit one dispatch only inside one workgroup).
 * Loads use clamped indices (rows/columns past the edge re-read the last one
 * and are never stored), so the inner loops carry no bounds checks.
 *
 * Bindings (src/kernels/rnn.ts declares them): forward: params, w, u, h;
 * backward: params, w, h, dh, dz.
 *   forward step        params {batch, hidden, slab, t}
 *   forward persistent  params {batch, hidden, slab, steps}
 *   backward step       params {batch, hidden, slab, t, carry, direct}
 *   backward persistent params {batch, hidden, slab, steps, first, bptt, loss_all}
 *     runs t = steps … first; carry_t = t < T and (T − t) mod bptt ≠ 0;
 *     direct_t = loss_all or t = T.
 */
export type RnnDirection = 'forward' | 'backward';
/** A recurrence kernel variant (see RNN_VARIANTS). */
export type RnnVariant = 'step' | 'persistent';

export interface RnnShaderOptions {
  direction: RnnDirection;
  variant: RnnVariant;
  activation: Activation;
  /** Batch rows per invocation tile (1, 2, 4 or 8). */
  rowsPerThread: number;
  /** Hidden units per invocation tile (4 or 8: one or two vec4 accumulators per row). */
  colsPerThread: number;
  /** Invocations per workgroup (1-D). */
  workgroupSize: number;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function tileGeometry(tb: number, tc: number): string {
  const rows = range(tb).map((i) => `  let r${i} = min(b0 + ${i}u, params.batch - 1u);`).join('\n');
  const cols = range(tc).map((l) => `  let c${l} = min(j0 + ${l}u, params.hidden - 1u);`).join('\n');
  const accs = range(tb).flatMap((i) => range(tc / 4).map((q) => `  var acc${i}_${q} = vec4<f32>(0.0);`)).join('\n');
  return `  let col_tiles = (params.hidden + TC - 1u) / TC;
  let b0 = (tile / col_tiles) * TB;
  let j0 = (tile % col_tiles) * TC;
  let H = params.hidden;
${rows}
${cols}
${accs}`;
}

/** The guarded stores of a tile: `body(i, l)` writes output (b0+i, j0+l) at element offset `o` of a slab. */
function tileStores(tb: number, tc: number, body: (i: number, l: number) => string): string {
  const lines: string[] = [];
  for (const i of range(tb)) {
    lines.push(`  if (b0 + ${i}u < params.batch) {`);
    for (const l of range(tc)) {
      lines.push(`    if (j0 + ${l}u < H) {`, `      let o = (b0 + ${i}u) * H + j0 + ${l}u;`, `      ${body(i, l)}`, '    }');
    }
    lines.push('  }');
  }
  return lines.join('\n');
}

/** The tile's W loads for step k: vec4 wk<q> of units j0+4q .. j0+4q+3 (`at(c)` indexes W). */
function weightLoads(tc: number, at: (c: string) => string, indent: string): string {
  return range(tc / 4)
    .map((q) => `${indent}let wk${q} = vec4<f32>(${range(4).map((l) => `w[${at(`c${4 * q + l}`)}]`).join(', ')});`)
    .join('\n');
}

function fmaLines(tb: number, tc: number, load: (i: number) => string, indent: string): string {
  return range(tb)
    .flatMap((i) => [`${indent}let x${i} = ${load(i)};`, ...range(tc / 4).map((q) => `${indent}acc${i}_${q} += x${i} * wk${q};`)])
    .join('\n');
}

function forwardTile(tb: number, tc: number): string {
  return `
// h_t[b, j] = φ(u_t[b, j] + Σ_k h_{t−1}[b, k] · W[j, k]) for the tile's rows b and units j.
fn forward_tile(t: u32, tile: u32) {
${tileGeometry(tb, tc)}
  let prev = (t - 1u) * params.slab;
  for (var k = 0u; k < H; k++) {
${weightLoads(tc, (c) => `${c} * H + k`, '    ')}
${fmaLines(tb, tc, (i) => `h[prev + r${i} * H + k]`, '    ')}
  }
  let cur = t * params.slab;
${tileStores(tb, tc, (i, l) => `h[cur + o] = act(acc${i}_${l >> 2}[${l & 3}] + u[prev + o]);`)}
}`;
}

function backwardTile(tb: number, tc: number): string {
  return `
// dh_t[b, j] = [direct]·dh_t[b, j] + [carry]·Σ_k dz_{t+1}[b, k] · W[k, j];  dz_t = dh_t · φ'(h_t).
fn backward_tile(t: u32, tile: u32, carry: bool, direct: bool) {
${tileGeometry(tb, tc)}
  if (carry) {
    let next = t * params.slab;
    for (var k = 0u; k < H; k++) {
${weightLoads(tc, (c) => `k * H + ${c}`, '      ')}
${fmaLines(tb, tc, (i) => `dz[next + r${i} * H + k]`, '      ')}
    }
  }
  let base = (t - 1u) * params.slab;
  let hb = t * params.slab;
${tileStores(tb, tc, (i, l) => [
    `var g = acc${i}_${l >> 2}[${l & 3}];`,
    'if (direct) { g = g + dh[base + o]; }',
    'dh[base + o] = g;',
    'dz[base + o] = g * act_grad_from_output(h[hb + o]);',
  ].join('\n      '))}
}`;
}

function checkOptions(o: RnnShaderOptions): void {
  if (![1, 2, 4, 8].includes(o.rowsPerThread)) throw new Error(`rnn: rowsPerThread must be 1, 2, 4 or 8, got ${o.rowsPerThread}`);
  if (![4, 8].includes(o.colsPerThread)) throw new Error(`rnn: colsPerThread must be 4 or 8, got ${o.colsPerThread}`);
  if (!Number.isInteger(o.workgroupSize) || o.workgroupSize < 1) throw new Error(`rnn: workgroup size ${o.workgroupSize} must be an integer ≥ 1`);
}

export function rnnShader(o: RnnShaderOptions): string {
  checkOptions(o);
  const forward = o.direction === 'forward';
  const persistent = o.variant === 'persistent';
  const tile = forward ? forwardTile(o.rowsPerThread, o.colsPerThread) : backwardTile(o.rowsPerThread, o.colsPerThread);
  const entry = `rnn_${o.direction}_${o.variant}`;
  return wgsl`
${activationFunctions(o.activation)}
const TB: u32 = ${o.rowsPerThread}u;
const TC: u32 = ${o.colsPerThread}u;

fn tile_count() -> u32 {
  return ((params.batch + TB - 1u) / TB) * ((params.hidden + TC - 1u) / TC);
}
${tile}

#if ${persistent}
@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn ${entry}(@builtin(local_invocation_index) lid: u32) {
  let tiles = tile_count();
#if ${forward}
  for (var t = 1u; t <= params.steps; t++) {
    for (var tile = lid; tile < tiles; tile += WG_X) {
      forward_tile(t, tile);
    }
    // h_t is complete and visible to the whole workgroup before step t + 1 reads it.
    storageBarrier();
  }
#else
  let T = params.steps;
  for (var t = T; t >= params.first; t--) {
    let carry = t < T && ((T - t) % params.bptt) != 0u;
    let direct = params.loss_all != 0u || t == T;
    for (var tile = lid; tile < tiles; tile += WG_X) {
      backward_tile(t, tile, carry, direct);
    }
    storageBarrier();
  }
#endif
}
#else
@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn ${entry}(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let tile = gid.y * (groups.x * WG_X) + gid.x;
  if (tile >= tile_count()) { return; }
#if ${forward}
  forward_tile(params.t, tile);
#else
  backward_tile(params.t, tile, params.carry != 0u, params.direct != 0u);
#endif
}
#endif
`;
}
