import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';

/**
 * init — parameter initialisation on the GPU: a counter-based RNG and the
 * initialisers built on it.
 *
 * RNG: Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as
 * easy as 1, 2, 3", SC 2011), bit-identical to Random123 and to the CPU
 * reference in src/kernels/init.ts on every adapter: it uses only u32 adds,
 * xors and wrapping multiplies (the high half of 32×32 → 64 built from 16-bit
 * halves, since WGSL has no widening multiply).
 *   key     = seed (lo, hi)
 *   counter = (block, stream lo, stream hi, 0)
 * where block = i / 4 for element i of the tensor being filled (i counts from
 * the tensor's first element, so a tensor draws the same numbers wherever it
 * sits in an arena buffer); one Philox call gives the 4 u32s x0..x3 of elements
 * 4·block .. 4·block+3. A 64-bit `stream` (e.g. a per-tensor id) gives the
 * tensors of one model independent numbers from one seed.
 *
 * Fills (one invocation per block of 4 elements, 1-D grid folded into 2-D):
 *   bits     dst[offset+i] = x_l                         (u32, l = i mod 4)
 *   uniform  u = (x >> 8) · 2⁻²⁴ ∈ [0, 1 − 2⁻²⁴]         (exact in f32: 24 bits)
 *            dst[offset+i] = loc + scale · u
 *   normal   Box–Muller on the pairs (x0, x1) and (x2, x3):
 *              u = ((x0 >> 8) + 1) · 2⁻²⁴ ∈ (0, 1]         (exact; log never sees 0)
 *              s = ((x1 >> 8) − 2²³) · 2⁻²³ ∈ [−1, 1)      (exact)
 *              r = sqrt(max(−2 ln u, 0))                  (u = 1 gives exactly 0)
 *              z0 = r cos πs, z1 = r sin πs; likewise z2, z3 from (x2, x3)
 *            ln and sin/cos(π·) are the shader's own, accurate to a few ulps
 *            on every adapter (the builtins' accuracy varies too much).
 *            dst[offset+i] = loc + scale · z_l     (|z| ≤ √(48 ln 2) ≈ 5.77)
 * Bindings (src/kernels/init.ts): params {count, offset, seed_lo, seed_hi,
 * stream_lo, stream_hi, loc, scale}; dst (array<u32> for bits, else array<f32>).
 *
 * Orthogonal (W = gain · Q, Q with orthonormal rows if rows ≤ cols, else
 * orthonormal columns): the n vectors of length len to orthonormalise are
 * addressed with strides, no transpose:
 *   element e of vector k = w[offset + k·vstride + e·estride]
 * After a normal fill, modified Gram–Schmidt runs twice ("twice is enough"),
 * one dispatch per vector j:
 *   project(j):   every vector k > j (one workgroup each, or one invocation each
 *                 in the `serial` variant) computes ‖v_j‖² and v_j·v_k itself,
 *                 then v_k −= (v_j·v_k / ‖v_j‖²) v_j. Nobody writes v_j in that
 *                 dispatch, so no cross-workgroup synchronisation is needed.
 *   normalise:    v_k ← gain · v_k / ‖v_k‖ for every k (one dispatch).
 * v_k only ever loses multiples of earlier vectors, so Q = G·R⁻¹ with R upper
 * triangular with a positive diagonal: the QR of the gaussian G, hence Q is
 * Haar-distributed.
 * Bindings: params {j, n, len, offset, vstride, estride, gain}; w.
 * Variants: `workgroup` — a workgroup per vector and a tree reduction in
 * workgroup memory (GPUs); `serial` — one invocation per vector, no barriers,
 * loops unrolled by 4 (SwiftShader runs workgroup barriers very slowly: 256×256
 * takes ~0.5 s serial there, ~7 s with workgroups).
 */
export type RandomDistribution = 'bits' | 'uniform' | 'normal';

export interface FillShaderOptions {
  distribution: RandomDistribution;
}

export interface OrthogonalShaderOptions {
  stage: 'project' | 'normalise';
  variant: 'workgroup' | 'serial';
  /** Invocations per workgroup (a power of two for the `workgroup` variant). */
  workgroupSize: number;
}

/** Philox4x32-10 in WGSL: `philox4x32_10(counter, key) -> vec4<u32>`. */
export const PHILOX_WGSL = /* wgsl */ `
const PHILOX_M0: u32 = 0xD2511F53u;
const PHILOX_M1: u32 = 0xCD9E8D57u;
const PHILOX_W0: u32 = 0x9E3779B9u;  // golden ratio
const PHILOX_W1: u32 = 0xBB67AE85u;  // sqrt(3) - 1

// (high, low) 32-bit halves of the 64-bit product a·b, from 16-bit halves:
// a·b = ah·bh·2^32 + (ah·bl + al·bh)·2^16 + al·bl, each partial product < 2^32.
fn mulhilo(a: u32, b: u32) -> vec2<u32> {
  let al = a & 0xFFFFu;
  let ah = a >> 16u;
  let bl = b & 0xFFFFu;
  let bh = b >> 16u;
  let ll = al * bl;
  let lh = al * bh;
  let hl = ah * bl;
  let hh = ah * bh;
  let mid = (ll >> 16u) + (lh & 0xFFFFu) + (hl & 0xFFFFu);
  let hi = hh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
  return vec2<u32>(hi, a * b);
}

fn philox_round(c: vec4<u32>, k: vec2<u32>) -> vec4<u32> {
  let p0 = mulhilo(PHILOX_M0, c.x);
  let p1 = mulhilo(PHILOX_M1, c.z);
  return vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
}

// Ten rounds; the key is bumped by the Weyl constants between rounds.
fn philox4x32_10(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  var c = philox_round(counter, key);
  var k = key;
  for (var r = 1u; r < 10u; r++) {
    k += vec2<u32>(PHILOX_W0, PHILOX_W1);
    c = philox_round(c, k);
  }
  return c;
}
`;

/** An f32 as an exact WGSL hexadecimal float literal, e.g. 0x1.921fb6p+1f. */
export function f32Literal(x: number): string {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, x);
  const bits = view.getUint32(0);
  const sign = bits >>> 31 ? '-' : '';
  const biased = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (biased === 0xff) throw new Error(`f32Literal: ${x} is not finite`);
  if (biased === 0 && mantissa === 0) return `${sign}0.0f`;
  if (biased === 0) throw new Error(`f32Literal: ${x} is subnormal`);
  const exponent = biased - 127;
  return `${sign}0x1.${(mantissa << 1).toString(16).padStart(6, '0')}p${exponent >= 0 ? '+' : ''}${exponent}f`;
}

function factorial(n: number): number {
  return n <= 1 ? 1 : n * factorial(n - 1);
}

/** Coefficient of t^k in the Taylor series of sin(πt) (k odd) or cos(πt) (k even). */
function sinCosPiCoefficient(k: number): string {
  const sign = Math.floor(k / 2) % 2 === 0 ? 1 : -1;
  return f32Literal((sign * Math.PI ** k) / factorial(k));
}

/**
 * The uniform and Box–Muller constructions documented above. The shader
 * computes ln and sin/cos itself from correctly rounded + − × (and one
 * division), because WGSL only promises cos/sin to 2⁻¹¹ absolute and
 * SwiftShader's are off by 2⁻¹²·⁴: this way every adapter gives the float64
 * reference to a few ulps.
 */
export const TRANSFORMS_WGSL = /* wgsl */ `
// (0, 1]: 24 random bits plus one, times 2^-24 (exact).
fn uniform_open0(x: u32) -> f32 {
  return f32((x >> 8u) + 1u) * 0x1p-24f;
}

// [0, 1): 24 random bits times 2^-24 (exact).
fn uniform_closed0(x: u32) -> f32 {
  return f32(x >> 8u) * 0x1p-24f;
}

// ln u for a positive normal u, to a few ulps: u = f * 2^e with f in [sqrt(1/2), sqrt(2)],
// ln f = 2 atanh(t) = 2t (1 + t^2/3 + t^4/5 + ...) with t = (f - 1)/(f + 1), |t| <= 0.172,
// ln 2 split in a short high part (e * LN2_HI is exact) and a low part.
fn log_accurate(u: f32) -> f32 {
  let b = bitcast<u32>(u);
  var e = i32(b >> 23u) - 127;
  var f = bitcast<f32>((b & 0x007FFFFFu) | 0x3F800000u);
  if (f > ${f32Literal(Math.SQRT2)}) {
    f = f * 0.5;
    e = e + 1;
  }
  let t = (f - 1.0) / (f + 1.0);
  let t2 = t * t;
  let series = t2 * (${f32Literal(1 / 3)} + t2 * (${f32Literal(1 / 5)} + t2 * (${f32Literal(1 / 7)} + t2 * ${f32Literal(1 / 9)})));
  let ln_f = 2.0 * t + (2.0 * t) * series;
  let ef = f32(e);
  return ef * ${f32Literal(0.693145751953125)} + (ln_f + ef * ${f32Literal(Math.LN2 - 0.693145751953125)});
}

// (sin(pi s), cos(pi s)) for s in [-1, 1], to a few ulps: s = q/2 + t exactly, |t| <= 1/4,
// Taylor polynomials in t (truncation below 2^-28), then the quadrant q mod 4.
fn sincospi(s: f32) -> vec2<f32> {
  let q = round(2.0 * s);
  let t = s - 0.5 * q;
  let t2 = t * t;
  let sn = t * (${sinCosPiCoefficient(1)} + t2 * (${sinCosPiCoefficient(3)} + t2 * (${sinCosPiCoefficient(5)} +
           t2 * (${sinCosPiCoefficient(7)} + t2 * ${sinCosPiCoefficient(9)}))));
  let cs = 1.0 + t2 * (${sinCosPiCoefficient(2)} + t2 * (${sinCosPiCoefficient(4)} + t2 * (${sinCosPiCoefficient(6)} +
           t2 * (${sinCosPiCoefficient(8)} + t2 * ${sinCosPiCoefficient(10)}))));
  switch (i32(q) & 3) {
    case 0: { return vec2<f32>(sn, cs); }
    case 1: { return vec2<f32>(cs, -sn); }
    case 2: { return vec2<f32>(-sn, -cs); }
    default: { return vec2<f32>(-cs, sn); }
  }
}

// Two standard normals (r cos(pi s), r sin(pi s)) from two u32s.
fn box_muller(xr: u32, xa: u32) -> vec2<f32> {
  let u = uniform_open0(xr);
  let s = f32(i32(xa >> 8u) - 8388608) * 0x1p-23f;
  let r = sqrt(max(-2.0 * log_accurate(u), 0.0));
  let sc = sincospi(s);
  return vec2<f32>(r * sc.y, r * sc.x);
}
`;

export function fillShader(o: FillShaderOptions): string {
  const bits = o.distribution === 'bits';
  const uniform = o.distribution === 'uniform';
  return wgsl`
${PHILOX_WGSL}
${TRANSFORMS_WGSL}

@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  // The Philox block: elements 4·quad .. 4·quad + 3 of the fill.
  let quad = gid.y * (groups.x * WG_X) + gid.x;
  let full = params.count >> 2u;
  let tail = params.count & 3u;
  let quads = full + select(0u, 1u, tail != 0u);
  if (quad >= quads) { return; }
  let x = philox4x32_10(vec4<u32>(quad, params.stream_lo, params.stream_hi, 0u),
                        vec2<u32>(params.seed_lo, params.seed_hi));
#if ${bits}
  let v = x;
#elif ${uniform}
  let v = vec4<f32>(params.loc) + params.scale * vec4<f32>(
      uniform_closed0(x.x), uniform_closed0(x.y), uniform_closed0(x.z), uniform_closed0(x.w));
#else
  let v = vec4<f32>(params.loc) + params.scale * vec4<f32>(box_muller(x.x, x.y), box_muller(x.z, x.w));
#endif
  let base = params.offset + quad * 4u;
  if (quad < full) {
    dst[base] = v.x;
    dst[base + 1u] = v.y;
    dst[base + 2u] = v.z;
    dst[base + 3u] = v.w;
  } else {
    for (var l = 0u; l < tail; l++) { dst[base + l] = v[l]; }
  }
}
`;
}

/**
 * Probe of the Box–Muller transform on chosen bits (conformance of the
 * shader's own ln and sin/cos(π·) at the edges: u = 2⁻²⁴ and 1, s = −1, ±½, 0):
 * z[2p], z[2p+1] = box_muller(bits[2p], bits[2p+1]) for p < params.pairs.
 */
export function transformProbeShader(): string {
  return wgsl`
${TRANSFORMS_WGSL}

@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let p = gid.y * (groups.x * WG_X) + gid.x;
  if (p >= params.pairs) { return; }
  let zz = box_muller(bits[2u * p], bits[2u * p + 1u]);
  z[2u * p] = zz.x;
  z[2u * p + 1u] = zz.y;
}
`;
}

function addressing(): string {
  return /* wgsl */ `
fn at(k: u32, e: u32) -> u32 {
  return params.offset + k * params.vstride + e * params.estride;
}`;
}

/** Tree reduction of a vec2 over the workgroup; every invocation gets the total. */
function workgroupReduce(size: number): string {
  return /* wgsl */ `
var<workgroup> partial: array<vec2<f32>, ${size}>;

fn workgroup_sum(t: u32, value: vec2<f32>) -> vec2<f32> {
  partial[t] = value;
  workgroupBarrier();
  for (var s = ${size / 2}u; s > 0u; s >>= 1u) {
    if (t < s) { partial[t] += partial[t + s]; }
    workgroupBarrier();
  }
  return workgroupUniformLoad(&partial[0]);
}`;
}

export function orthogonalShader(o: OrthogonalShaderOptions): string {
  const project = o.stage === 'project';
  if (o.variant === 'serial') {
    // One invocation per vector; loops unrolled by 4 with 4 partial sums
    // (SwiftShader's compiler neither unrolls nor hoists the index arithmetic).
    return wgsl`
@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let es = params.estride;
  let len4 = params.len & ~3u;
#if ${project}
  let k = params.j + 1u + gid.x;
  if (k >= params.n) { return; }
  let bj = params.offset + params.j * params.vstride;
  let bk = params.offset + k * params.vstride;
  var jj = vec4<f32>(0.0);
  var jk = vec4<f32>(0.0);
  for (var e = 0u; e < len4; e += 4u) {
    let ij = bj + e * es;
    let ik = bk + e * es;
    let vj = vec4<f32>(w[ij], w[ij + es], w[ij + 2u * es], w[ij + 3u * es]);
    let vk = vec4<f32>(w[ik], w[ik + es], w[ik + 2u * es], w[ik + 3u * es]);
    jj += vj * vj;
    jk += vj * vk;
  }
  for (var e = len4; e < params.len; e++) {
    let vj = w[bj + e * es];
    jj.x += vj * vj;
    jk.x += vj * w[bk + e * es];
  }
  let sj = (jj.x + jj.y) + (jj.z + jj.w);
  let sk = (jk.x + jk.y) + (jk.z + jk.w);
  let coef = select(0.0, sk / sj, sj > 0.0);
  for (var e = 0u; e < len4; e += 4u) {
    let ij = bj + e * es;
    let ik = bk + e * es;
    w[ik] -= coef * w[ij];
    w[ik + es] -= coef * w[ij + es];
    w[ik + 2u * es] -= coef * w[ij + 2u * es];
    w[ik + 3u * es] -= coef * w[ij + 3u * es];
  }
  for (var e = len4; e < params.len; e++) {
    w[bk + e * es] -= coef * w[bj + e * es];
  }
#else
  let k = gid.x;
  if (k >= params.n) { return; }
  let bk = params.offset + k * params.vstride;
  var kk = vec4<f32>(0.0);
  for (var e = 0u; e < len4; e += 4u) {
    let ik = bk + e * es;
    let vk = vec4<f32>(w[ik], w[ik + es], w[ik + 2u * es], w[ik + 3u * es]);
    kk += vk * vk;
  }
  for (var e = len4; e < params.len; e++) {
    let vk = w[bk + e * es];
    kk.x += vk * vk;
  }
  let sk = (kk.x + kk.y) + (kk.z + kk.w);
  let factor = select(0.0, params.gain / sqrt(sk), sk > 0.0);
  for (var e = 0u; e < params.len; e++) {
    w[bk + e * es] *= factor;
  }
#endif
}
`;
  }
  const size = o.workgroupSize;
  if (size < 2 || (size & (size - 1)) !== 0) throw new Error(`orthogonal: workgroup size ${size} must be a power of two ≥ 2`);
  return wgsl`
${addressing()}
${workgroupReduce(size)}

@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
#if ${project}
  let j = params.j;
  let k = j + 1u + wid.x;
  var acc = vec2<f32>(0.0);
  for (var e = t; e < params.len; e += ${size}u) {
    let vj = w[at(j, e)];
    acc += vec2<f32>(vj * vj, vj * w[at(k, e)]);
  }
  let sums = workgroup_sum(t, acc);
  let coef = select(0.0, sums.y / sums.x, sums.x > 0.0);
  for (var e = t; e < params.len; e += ${size}u) {
    w[at(k, e)] -= coef * w[at(j, e)];
  }
#else
  let k = wid.x;
  var acc = vec2<f32>(0.0);
  for (var e = t; e < params.len; e += ${size}u) {
    let vk = w[at(k, e)];
    acc.x += vk * vk;
  }
  let sums = workgroup_sum(t, acc);
  let factor = select(0.0, params.gain / sqrt(sums.x), sums.x > 0.0);
  for (var e = t; e < params.len; e += ${size}u) {
    w[at(k, e)] *= factor;
  }
#endif
}
`;
}

export function orthogonalWorkgroupBytes(o: OrthogonalShaderOptions): number {
  return o.variant === 'workgroup' ? 8 * o.workgroupSize : 0;
}
