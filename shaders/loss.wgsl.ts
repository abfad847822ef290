import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';

/**
 * loss — the output loss of a training step and its gradient, over y [B, out]
 * (row-major f32, `count` = B·out elements) and `target` of the same shape.
 *   mse:   L = (1/count) Σ (y − t)²      dY = 2(y − t)/count     (PyTorch MSELoss, mean)
 *   probe: L = Σ g ⊙ y                  dY = g                  (`target` holds the fixed cotangent g)
 *
 * gradient: one element per invocation, 1-D launch folded into 2-D past 65535
 *   workgroups (index = gid.y·(groups.x·WG_X) + gid.x). mse computes
 *   (½y − ½t)·params.scale with scale = f32(4/count): the halves never
 *   overflow, so dY is finite whenever its true value is. Bindings: params
 *   {count, scale}; y, tgt, dy (`target` is a WGSL reserved word: the
 *   binding holding the target, or g, is `tgt`).
 *
 * value: ONE workgroup sums all `count` terms (no atomics). Every term and
 *   partial sum is kept as s·2^e (s: f32, e: i32), so neither (y − t)² nor the
 *   sum overflows f32 while the loss itself fits it (an mse of 10³⁴ over 10⁶
 *   elements sums to 10⁴⁰). Invocation lid takes elements lid + k·WG in blocks
 *   of BLOCK terms (a block sum, then added to the running total: a sequential
 *   depth of BLOCK + ⌈count/(WG·BLOCK)⌉ additions), then a workgroup tree.
 *   Non-finite terms are recognised from their bits (WGSL makes float
 *   arithmetic on Inf/NaN indeterminate) and decide the result as IEEE summing
 *   would: any NaN term, or +Inf and −Inf terms together → NaN; else ±Inf.
 *   The sum times params.scale is written as f32 bits to
 *   out[params.output_word] (the step's stats buffer). Bindings: params
 *   {count, output_word, scale} (scale = f32(1/count) for mse, 1 for probe);
 *   y, tgt, out (array<u32>).
 */
export type LossKind = 'mse' | 'probe';

export interface LossShaderOptions {
  loss: LossKind;
}

/** Terms per invocation summed into a block before joining the running total. */
export const LOSS_BLOCK = 64;

/** x·2^k and the scaled-sum helpers used by the value kernel. */
function scaledSumFunctions(): string {
  return `
// A sum s·2^e; e = EMPTY_E (and s = 0) when nothing was added.
// flags: bit 0 a NaN term, bit 1 a +Inf term, bit 2 a −Inf term.
struct ScaledSum {
  e: i32,
  s: f32,
  flags: u32,
}

const EMPTY_E: i32 = -100000;
const FLAG_NAN: u32 = 1u;
const FLAG_POS_INF: u32 = 2u;
const FLAG_NEG_INF: u32 = 4u;

// 2^k built from its bits, exact, for k in [-126, 127].
fn pow2(k: i32) -> f32 {
  return bitcast<f32>(u32(k + 127) << 23u);
}

// x · 2^k for k <= 0: exact while the result is a normal f32; below that it
// underflows toward 0 (never scaled up by a clamped factor).
fn scale_down(x: f32, k: i32) -> f32 {
  return (x * pow2(max(k, -126))) * pow2(clamp(k + 126, -126, 0));
}

fn add_sums(a: ScaledSum, b: ScaledSum) -> ScaledSum {
  let e = max(a.e, b.e);
  return ScaledSum(e, scale_down(a.s, a.e - e) + scale_down(b.s, b.e - e), a.flags | b.flags);
}

fn is_finite_bits(b: u32) -> bool {
  return (b & 0x7f800000u) != 0x7f800000u;
}

fn is_nan_bits(b: u32) -> bool {
  return (b & 0x7fffffffu) > 0x7f800000u;
}

// A term m·2^e from a product of frexp fractions; zero terms are empty.
fn term(m: f32, e: i32) -> ScaledSum {
  return ScaledSum(select(EMPTY_E, e, m != 0.0), m, 0u);
}

// Flags of a non-finite term with the given sign (true: negative) or NaN.
fn special(nan: bool, negative: bool) -> ScaledSum {
  let inf_flag = select(FLAG_POS_INF, FLAG_NEG_INF, negative);
  return ScaledSum(EMPTY_E, 0.0, select(inf_flag, FLAG_NAN, nan));
}

// s·2^e as f32 bits: ±Inf past the f32 range, ±0 below it.
fn sum_to_bits(s: f32, e: i32) -> u32 {
  if (s == 0.0 || e == EMPTY_E) { return 0u; }
  let f = frexp(s);
  let total = f.exp + e;  // |value| in [2^(total-1), 2^total)
  let sign = bitcast<u32>(s) & 0x80000000u;
  if (total > 128) { return sign | 0x7f800000u; }
  if (total < -150) { return sign; }
  let k = total / 2;
  return bitcast<u32>((f.fract * pow2(k)) * pow2(total - k));
}
`;
}

export function lossGradientShader(o: LossShaderOptions): string {
  const mse = o.loss === 'mse';
  return wgsl`
@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn loss_gradient(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.y * (groups.x * WG_X) + gid.x;
  if (i >= params.count) { return; }
#if ${mse}
  // 2(y − t)/count = (½y − ½t)·(4/count): the halves cannot overflow.
  dy[i] = (0.5 * y[i] - 0.5 * tgt[i]) * params.scale;
#else
  dy[i] = tgt[i];
#endif
}
`;
}

export function lossValueShader(o: LossShaderOptions, workgroupSize: number): string {
  const mse = o.loss === 'mse';
  return wgsl`
${scaledSumFunctions()}

var<workgroup> tree: array<ScaledSum, ${workgroupSize}>;

// Element i's term as a scaled sum (or its non-finite flags).
fn element_term(i: u32) -> ScaledSum {
  let yb = bitcast<u32>(y[i]);
  let tb = bitcast<u32>(tgt[i]);
  if (is_finite_bits(yb) && is_finite_bits(tb)) {
#if ${mse}
    // (y − t)² = 4·(½y − ½t)²; ½y − ½t never overflows.
    let d = frexp(0.5 * y[i] - 0.5 * tgt[i]);
    return term(d.fract * d.fract, 2 * d.exp + 2);
#else
    let a = frexp(y[i]);
    let b = frexp(tgt[i]);
    return term(a.fract * b.fract, a.exp + b.exp);
#endif
  }
  let y_nan = is_nan_bits(yb);
  let t_nan = is_nan_bits(tb);
  let y_neg = (yb & 0x80000000u) != 0u;
  let t_neg = (tb & 0x80000000u) != 0u;
#if ${mse}
  // y − t is NaN for a NaN or for Inf − Inf of one sign; (±Inf)² = +Inf.
  let same_inf = !is_finite_bits(yb) && !is_finite_bits(tb) && y_neg == t_neg;
  return special(y_nan || t_nan || same_inf, false);
#else
  // g·y is NaN for a NaN or for Inf·0; otherwise ±Inf with the product's sign.
  let zero = (yb & 0x7fffffffu) == 0u || (tb & 0x7fffffffu) == 0u;
  return special(y_nan || t_nan || zero, y_neg != t_neg);
#endif
}

@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn loss_value(@builtin(local_invocation_index) lid: u32) {
  let n = params.count;
  let stride = ${workgroupSize}u;
  var total = ScaledSum(EMPTY_E, 0.0, 0u);
  for (var start = lid; start < n; start += stride * ${LOSS_BLOCK}u) {
    var part = ScaledSum(EMPTY_E, 0.0, 0u);
    for (var k = 0u; k < ${LOSS_BLOCK}u; k++) {
      let i = start + k * stride;
      if (i >= n) { break; }
      part = add_sums(part, element_term(i));
    }
    total = add_sums(total, part);
  }
  tree[lid] = total;
  workgroupBarrier();
  for (var w = stride / 2u; w > 0u; w = w >> 1u) {
    if (lid < w) {
      tree[lid] = add_sums(tree[lid], tree[lid + w]);
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let sum = tree[0];
    var bits: u32;
    if ((sum.flags & FLAG_NAN) != 0u || (sum.flags & (FLAG_POS_INF | FLAG_NEG_INF)) == (FLAG_POS_INF | FLAG_NEG_INF)) {
      bits = 0x7fc00000u;
    } else if ((sum.flags & FLAG_POS_INF) != 0u) {
      bits = 0x7f800000u;
    } else if ((sum.flags & FLAG_NEG_INF) != 0u) {
      bits = 0xff800000u;
    } else {
      bits = sum_to_bits(sum.s * params.scale, sum.e);
    }
    out[params.output_word] = bits;
  }
}
`;
}

/** Workgroup memory of the value kernel: its tree of ScaledSum (12 bytes each). */
export function lossValueWorkgroupBytes(workgroupSize: number): number {
  return 12 * workgroupSize;
}
