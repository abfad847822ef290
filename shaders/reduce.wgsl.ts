/**
 * reduce — per-segment statistics of many segments of one f32 buffer (the
 * gradient arena), in two passes and without float atomics:
 *   norm_s = ‖x[offset_s .. offset_s + length_s)‖₂ over the finite x,
 *   maxAbs_s = max |x| over the finite x,  nonfinite_s = #{x : x is ±Inf or NaN}.
 * Norms are carried as scaled sums of squares, as LAPACK's nrm2 does:
 *   Σx² = scale² · ssq   with scale = 2^e a power of two,
 * so Σx² may exceed f32 (values ~1e30, Σx² ~1e60+) while scale and ssq stay
 * finite. A power-of-two scale makes every rescaling exact: x · 2^−e and
 * ssq · 2^(2(e_a − e)) only move the exponent (a factor below 2^−126 is
 * clamped to it: such a term is < 2^−90 of the sum either way).
 * The scale of a block is the largest power of two ≤ its max|x|, clamped to
 * [2^−126, 2^126], so every x/scale < 4 and its square < 16: ssq < 16·count.
 *
 * Values are read as raw bits (`array<u32>`): a value whose exponent field is
 * all ones ((bits & 0x7f800000) == 0x7f800000: ±Inf, NaN) is counted and
 * excluded before any float arithmetic, because WGSL lets implementations
 * assume floats are finite (x != x may fold to false). max|x| is a max over
 * the sign-cleared bits (monotonic in |x| for finite floats), hence exact even
 * for subnormals. WGSL may flush subnormal operands to zero, so a subnormal
 * x = m·2^−149 is scaled as f32(m)·2^(−149−e) (integer mantissa, normal
 * factor): no step of the sum of squares depends on subnormal arithmetic,
 * except terms below 2^−126 of the largest one, which drop out either way.
 *
 * pass 1 (`segment_partials`), one workgroup per chunk of ≤ WG·EPT elements of
 *   one segment: each invocation reads its EPT elements (strided by WG, so
 *   loads coalesce) once, four at a time: it counts the non-finite, keeps
 *   max|x|, and sums (x·2^−e)² in four interleaved sums at a running scale
 *   2^e (the largest power of two ≤ max|x| so far): when a quad raises e,
 *   the sums are first multiplied by 2^(2(e_old − e_new)) — exact, a power
 *   of two — so the result is the two-read one (max, then sum at the final
 *   scale) bit for bit, save terms below 2^−126 of the sum, while every
 *   element is loaded once (loads, not arithmetic, bound a CPU adapter);
 *   a tree in workgroup memory combines the WG blocks; partials[chunk] receives
 *   vec4<u32>(bitcast(e: i32), bitcast(ssq: f32), maxAbsBits, nonfinite).
 * pass 2 (`segment_combine`), one workgroup per segment: combines that
 *   segment's partials (strided loop, then the same tree) and writes 4 words at
 *   stats[(params.output_offset + segment) · 4]:
 *     [0] scale: f32 = 2^e (0 when the segment has no finite non-zero value)
 *     [1] ssq:   f32      (Σx² = scale² · ssq over the finite x)
 *     [2] maxAbs: f32     (max |x| over the finite x, exact)
 *     [3] nonfinite: u32  (count of ±Inf and NaN)
 * Both passes fold their workgroup index into 2-D (index = wid.y·groups.x +
 * wid.x, guarded) when the count exceeds maxComputeWorkgroupsPerDimension.
 * Tables (src/kernels/reduce.ts builds them once per segment list):
 *   chunks:   array<vec2<u32>>  (start element, length ≤ WG·EPT)
 *   segments: array<vec2<u32>>  (first chunk, chunk count)
 */
export interface ReduceShaderOptions {
  /** Pass 1 invocations per workgroup (a power of two). */
  workgroupSize: number;
  /** Pass 1 elements per invocation, a multiple of 4 (chunk = workgroupSize · elementsPerThread). */
  elementsPerThread: number;
  /** Pass 2 invocations per workgroup (a power of two). */
  combineWorkgroupSize: number;
}

/** Pass 1 reading the data as vec4<u32> (see segmentPartialsShader). */
export interface PartialsShaderOptions extends ReduceShaderOptions {
  vector?: boolean;
}

/** Exponent of the empty block: scale 2^−127 stands for "no finite non-zero value" (scale 0). */
export const EMPTY_EXPONENT = -127;

/**
 * The scaled-sum-of-squares accumulator and its combine rule, shared by both
 * passes (and by any later kernel that combines segment stats, e.g. the global
 * gradient norm of the clip step).
 */
export function scaledSsqFunctions(): string {
  return `
// A block's statistics: Σx² = 2^(2e) · ssq over its finite x; e = ${EMPTY_EXPONENT} when empty.
struct Acc {
  e: i32,
  ssq: f32,
  max_bits: u32,   // bits of max |x| (sign cleared), compared as u32
  nonfinite: u32,
}

const EMPTY_E: i32 = ${EMPTY_EXPONENT};

// 2^k built from its bits, exact, for k in [-126, 127]; pow2(-127) is +0.0.
fn pow2(k: i32) -> f32 {
  return bitcast<f32>(u32(k + 127) << 23u);
}

// Scale exponent of a block whose max |x| has bits m: floor(log2 max) clamped
// to [-126, 126] (so 2^-e is a normal f32), or EMPTY_E for max = 0.
fn scale_exponent(m: u32) -> i32 {
  if (m == 0u) { return EMPTY_E; }
  return clamp(i32(m >> 23u) - 127, -126, 126);
}

// ssq re-expressed at the scale 2^to_e >= 2^from_e: exact (a power-of-two
// factor) unless the factor is clamped at 2^-126 (the term is then < 2^-90 of
// the sum: ssq <= 16 · 2^32 and the larger block's ssq >= 1).
fn rescale(ssq: f32, from_e: i32, to_e: i32) -> f32 {
  return ssq * pow2(max(2 * (from_e - to_e), -126));
}

fn combine(a: Acc, b: Acc) -> Acc {
  let e = max(a.e, b.e);
  return Acc(e, rescale(a.ssq, a.e, e) + rescale(b.ssq, b.e, e),
             max(a.max_bits, b.max_bits), a.nonfinite + b.nonfinite);
}

fn acc_from_words(w: vec4<u32>) -> Acc {
  return Acc(bitcast<i32>(w.x), bitcast<f32>(w.y), w.z, w.w);
}

fn acc_to_words(a: Acc) -> vec4<u32> {
  return vec4<u32>(bitcast<u32>(a.e), bitcast<u32>(a.ssq), a.max_bits, a.nonfinite);
}

// A segment's stats record {scale = 2^e or 0, ssq, maxAbs, nonfinite} and back.
fn acc_to_record(a: Acc) -> vec4<u32> {
  let scale = select(pow2(a.e), 0.0, a.e == EMPTY_E);
  return vec4<u32>(bitcast<u32>(scale), bitcast<u32>(a.ssq), a.max_bits, a.nonfinite);
}

fn acc_from_record(w: vec4<u32>) -> Acc {
  let e = select(i32(w.x >> 23u) - 127, EMPTY_E, w.x == 0u);
  return Acc(e, bitcast<f32>(w.y), w.z, w.w);
}
`;
}

/** Tree reduction of `tree[0..WG)` into tree[0]; every invocation must reach it. */
function treeReduction(workgroupSize: number): string {
  return `
  tree[lid] = acc;
  workgroupBarrier();
  for (var stride = ${workgroupSize / 2}u; stride > 0u; stride = stride >> 1u) {
    if (lid < stride) {
      tree[lid] = combine(tree[lid], tree[lid + stride]);
    }
    workgroupBarrier();
  }`;
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n >= 2 && (n & (n - 1)) === 0;
}

function checkOptions(o: ReduceShaderOptions): void {
  for (const wg of [o.workgroupSize, o.combineWorkgroupSize]) {
    if (!isPowerOfTwo(wg)) throw new Error(`reduce: workgroup sizes must be powers of two ≥ 2, got ${wg}`);
  }
  if (!Number.isInteger(o.elementsPerThread) || o.elementsPerThread < 4 || o.elementsPerThread % 4 !== 0) {
    throw new Error(`reduce: elementsPerThread must be a multiple of 4, got ${o.elementsPerThread}`);
  }
}

/**
 * Pass 1: chunk partials. Bindings: params {chunk_count}, data, chunks, partials.
 * With `vector` the data is read as vec4<u32>: each invocation takes quads
 * lid + j·WG (elements 4q..4q+3), every chunk start must be a multiple of 4
 * and every quad that holds a chunk element must lie inside the binding
 * (src/kernels/reduce.ts checks both). Each lane of the four interleaved sums
 * then adds the squares of one element of each quad: the same EPT/4
 * sequential additions, so the same accuracy bound.
 */
export function segmentPartialsShader(o: PartialsShaderOptions): string {
  checkOptions(o);
  return o.vector ? vectorPartialsShader(o) : scalarPartialsShader(o);
}

/**
 * The pass-1 kernel around its one read of the chunk: `helpers` (WGSL
 * functions) and `read`, a loop that, per quad of elements, sets `b` (the
 * bits of |x|, 0 for elements past the chunk or not finite) after counting
 * the non-finite ones into `nonfinite`, then calls `add_quad(b)`.
 */
function partialsKernel(wg: number, helpers: string, read: string): string {
  return `${scaledSsqFunctions()}
var<workgroup> tree: array<Acc, ${wg}>;
${helpers}
// The invocation's running statistics: Σ (|x| · 2^-e)² in four lanes at the running exponent e.
var<private> run_e: i32 = EMPTY_E;
var<private> run_max: u32 = 0u;
var<private> sums: vec4<f32> = vec4<f32>(0.0);

// Adds the squares of four |x| (as bits, 0 for none), raising the running
// scale first when one of them is larger than every earlier one: the sums are
// rescaled by an exact power of two, so each term is (|x| · 2^-e_final)² as
// if e had been known from the start.
fn add_quad(b: vec4<u32>) {
  let m = max(max(b.x, b.y), max(b.z, b.w));
  run_max = max(run_max, m);
  let e = max(run_e, scale_exponent(m));
  sums = sums * pow2(max(2 * (run_e - e), -126));
  run_e = e;
  let r = select(bitcast<vec4<f32>>(b) * pow2(-e), vec4<f32>(b) * pow2(max(-149 - e, -126)), b < vec4<u32>(0x00800000u));
  sums += r * r;
}

@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn segment_partials(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
  let chunk = wid.y * groups.x + wid.x;
  if (chunk >= params.chunk_count) { return; }  // 2-D fold tail: uniform per workgroup
  let start = chunks[chunk].x;
  let len = chunks[chunk].y;

  var nonfinite = 0u;
${read}
  var acc = Acc(run_e, (sums.x + sums.y) + (sums.z + sums.w), run_max, nonfinite);
${treeReduction(wg)}
  if (lid == 0u) {
    partials[chunk] = acc_to_words(tree[0]);
  }
}
`;
}

function vectorPartialsShader(o: ReduceShaderOptions): string {
  const wg = o.workgroupSize;
  const quads = o.elementsPerThread / 4;
  const helpers = `
const LANES = vec4<u32>(0u, 1u, 2u, 3u);
const ABS_MASK = vec4<u32>(0x7fffffffu);
const EXP_MASK = vec4<u32>(0x7f800000u);
`;
  // This invocation's quads are lid + j·WG, j < EPT/4; lane k of sums takes element k of each quad.
  const read = `  for (var j = 0u; j < ${quads}u; j++) {
    let q = lid + j * ${wg}u;
    if (4u * q < len) {
      let bits = data[start / 4u + q] & ABS_MASK;
      let inside = LANES + 4u * q < vec4<u32>(len);
      let special = (bits & EXP_MASK) == EXP_MASK;
      nonfinite += dot(select(vec4<u32>(0u), vec4<u32>(1u), inside & special), vec4<u32>(1u));
      add_quad(select(vec4<u32>(0u), bits, inside & !special));
    }
  }`;
  return partialsKernel(wg, helpers, read);
}

function scalarPartialsShader(o: ReduceShaderOptions): string {
  const wg = o.workgroupSize;
  const ept = o.elementsPerThread;
  const helpers = `
// |x| of element i of the chunk as bits, 0 past its end; a non-finite one is counted and read as 0.
fn finite_abs_bits(start: u32, len: u32, i: u32, nonfinite: ptr<function, u32>) -> u32 {
  if (i >= len) { return 0u; }
  let b = data[start + i] & 0x7fffffffu;
  if ((b & 0x7f800000u) == 0x7f800000u) {
    *nonfinite += 1u;
    return 0u;
  }
  return b;
}
`;
  // This invocation's elements are lid + j·WG, j < EPT (neighbours read neighbours); four interleaved sums
  // keep the sequential depth at EPT/4 additions (+2 to join them).
  const read = `  for (var j = 0u; j < ${ept}u; j += 4u) {
    add_quad(vec4<u32>(
      finite_abs_bits(start, len, lid + j * ${wg}u, &nonfinite),
      finite_abs_bits(start, len, lid + (j + 1u) * ${wg}u, &nonfinite),
      finite_abs_bits(start, len, lid + (j + 2u) * ${wg}u, &nonfinite),
      finite_abs_bits(start, len, lid + (j + 3u) * ${wg}u, &nonfinite)));
  }`;
  return partialsKernel(wg, helpers, read);
}

/** Pass 2: per-segment combine. Bindings: params {segment_count, output_offset}, partials, segments, stats. */
export function segmentCombineShader(o: ReduceShaderOptions): string {
  checkOptions(o);
  const wg = o.combineWorkgroupSize;
  return `${scaledSsqFunctions()}
var<workgroup> tree: array<Acc, ${wg}>;

@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn segment_combine(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
  let segment = wid.y * groups.x + wid.x;
  if (segment >= params.segment_count) { return; }  // 2-D fold tail: uniform per workgroup
  let first = segments[segment].x;
  let count = segments[segment].y;

  var acc = Acc(EMPTY_E, 0.0, 0u, 0u);
  for (var c = lid; c < count; c += ${wg}u) {
    acc = combine(acc, acc_from_words(partials[first + c]));
  }
${treeReduction(wg)}
  if (lid == 0u) {
    let record = acc_to_record(tree[0]);
    let o = (params.output_offset + segment) * 4u;
    stats[o] = record.x;
    stats[o + 1u] = record.y;
    stats[o + 2u] = record.z;
    stats[o + 3u] = record.w;
  }
}
`;
}

/** Workgroup memory of a pass: its tree of Acc (16 bytes each). */
export function reduceWorkgroupBytes(workgroupSize: number): number {
  return 16 * workgroupSize;
}
