/**
 * reduce — per-segment statistics of many segments of one f32 buffer (the
 * gradient arena), in two passes and without float atomics:
 *   norm_s = ‖x[offset_s .. offset_s + length_s)‖₂ over the finite x,
 *   maxAbs_s = max |x| over the finite x,  nonfinite_s = #{x : x is ±Inf or NaN}.
 * Norms are carried as scaled sums of squares, as LAPACK's nrm2 does:
 *   Σx² = scale² · ssq   with scale = 2^e a power of two,
 * so Σx² may exceed f32 (values ~1e30, Σx² ~1e60+) while scale and ssq stay
 * finite. A power-of-two scale makes every rescaling exact: x · 2^−e and
 * ssq · 2^(2(e_a − e)) only move the exponent (a rescaled term that falls
 * below 2^−126 of the largest one is dropped, as nrm2's underflow would).
 * The scale of a block is the largest power of two ≤ its max|x|, clamped to
 * [2^−126, 2^126], so every x/scale < 4 and its square < 16: ssq < 16·count.
 *
 * Values are read as raw bits (`array<u32>`): a value whose exponent field is
 * all ones ((bits & 0x7f800000) == 0x7f800000: ±Inf, NaN) is counted and
 * excluded before any float arithmetic, because WGSL lets implementations
 * assume floats are finite (x != x may fold to false). max|x| is a max over
 * the sign-cleared bits (monotonic in |x| for finite floats), hence exact even
 * for subnormals. Subnormal inputs may be flushed to zero in the sum of squares
 * (WGSL allows it); the decoder then reports norm ≥ max|x| from the exact max.
 *
 * pass 1 (`segment_partials`), one workgroup per chunk of ≤ WG·EPT elements of
 *   one segment: each invocation loads EPT elements (strided by WG, so loads
 *   coalesce), finds its max and count of non-finite, sums (x·2^−e)², and a
 *   tree in workgroup memory combines the WG blocks; partials[chunk] receives
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
  /** Invocations per workgroup (a power of two), both passes. */
  workgroupSize: number;
  /** Elements per invocation in pass 1 (chunk = workgroupSize · elementsPerThread). */
  elementsPerThread: number;
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

// ssq re-expressed at the scale 2^e, e >= its own: exact (a power-of-two
// factor) unless the term drops below 2^-126 of the new scale's unit.
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

function checkOptions(o: ReduceShaderOptions): void {
  const wg = o.workgroupSize;
  if (!Number.isInteger(wg) || wg < 2 || (wg & (wg - 1)) !== 0) {
    throw new Error(`reduce: workgroupSize must be a power of two ≥ 2, got ${wg}`);
  }
  if (!Number.isInteger(o.elementsPerThread) || o.elementsPerThread < 1) {
    throw new Error(`reduce: elementsPerThread must be an integer ≥ 1, got ${o.elementsPerThread}`);
  }
}

/** Pass 1: chunk partials. Bindings: params {chunk_count}, data, chunks, partials. */
export function segmentPartialsShader(o: ReduceShaderOptions): string {
  checkOptions(o);
  const wg = o.workgroupSize;
  const ept = o.elementsPerThread;
  return `${scaledSsqFunctions()}
var<workgroup> tree: array<Acc, ${wg}>;

@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn segment_partials(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
  let chunk = wid.y * groups.x + wid.x;
  if (chunk >= params.chunk_count) { return; }  // 2-D fold tail: uniform per workgroup
  let start = chunks[chunk].x;
  let len = chunks[chunk].y;

  // Load this invocation's ${ept} elements as bits; non-finite ones count and become 0.
  var bits: array<u32, ${ept}>;
  var max_bits = 0u;
  var nonfinite = 0u;
  for (var j = 0u; j < ${ept}u; j++) {
    let i = lid + j * ${wg}u;
    var b = 0u;
    if (i < len) {
      b = data[start + i] & 0x7fffffffu;
      if ((b & 0x7f800000u) == 0x7f800000u) {
        nonfinite += 1u;
        b = 0u;
      }
    }
    bits[j] = b;
    max_bits = max(max_bits, b);
  }
  // Σ (|x| · 2^-e)²: the products are exact (power-of-two scaling), each < 4² = 16.
  let e = scale_exponent(max_bits);
  let inv_scale = pow2(-e);
  var ssq = 0.0;
  for (var j = 0u; j < ${ept}u; j++) {
    let r = bitcast<f32>(bits[j]) * inv_scale;
    ssq += r * r;
  }
  var acc = Acc(e, ssq, max_bits, nonfinite);
${treeReduction(wg)}
  if (lid == 0u) {
    partials[chunk] = acc_to_words(tree[0]);
  }
}
`;
}

/** Pass 2: per-segment combine. Bindings: params {segment_count, output_offset}, partials, segments, stats. */
export function segmentCombineShader(o: ReduceShaderOptions): string {
  checkOptions(o);
  const wg = o.workgroupSize;
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
    let total = tree[0];
    let o = (params.output_offset + segment) * 4u;
    stats[o] = bitcast<u32>(select(pow2(total.e), 0.0, total.e == EMPTY_E));
    stats[o + 1u] = bitcast<u32>(total.ssq);
    stats[o + 2u] = total.max_bits;
    stats[o + 3u] = total.nonfinite;
  }
}
`;
}

/** Workgroup memory of either pass: the tree of Acc (4 words each). */
export function reduceWorkgroupBytes(o: ReduceShaderOptions): number {
  return 16 * o.workgroupSize;
}
