import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { scaledSsqFunctions } from './reduce.wgsl.ts';

/**
 * optim — the end of a training step, on the GPU, reading no CPU value that
 * changes from step to step: the global gradient norm and clip scale, then one
 * update over the whole parameter arena.
 *
 * Step state: a small u32 buffer both kernels share (STEP_* words, layout in
 * src/kernels/optim.ts, which declares the same indices):
 *   [0] norm scale 2^e (f32, 0 when every finite gradient is 0)
 *   [1] norm ssq (f32): ‖g‖² = scale²·ssq over the finite gradient entries
 *   [2] clip mantissa (f32) and [5] clip exponent k (i32 ≤ 0): clip scale c = m·2^k
 *       (k = 0 unless c is below the normal f32 range); 0 on a skipped step
 *   [3] non-finite gradient entries this step (u32)
 *   [4] updates applied so far (u32): Adam's t
 *   [6] log10 ‖g‖ (f32; −Inf for ‖g‖ = 0), finite even where ‖g‖ exceeds f32
 *   [7] steps skipped so far because of non-finite gradients (u32)
 *
 * global_norm (ONE workgroup): combines `count` per-tensor stats records
 * (the segment-reduce layout {scale, ssq, maxAbs, nonfinite}, from record
 * `first`) into ‖g‖ as LAPACK's nrm2 does (scaled (2^e, ssq) pairs, rescaled
 * by exact powers of two to the larger exponent: no overflow or underflow),
 * then the clip scale:
 *   none, value:C   c = 1                              (value clipping clamps in the update)
 *   norm:C          c = min(1, C / (‖g‖ + 1e−6))       (PyTorch clip_grad_norm_)
 *   any non-finite gradient: c = 0, the update is skipped (like AMP's
 *   GradScaler), the step is counted in [7] and not in [4].
 * Bindings: params {first, count, clip_threshold}; stats (array<u32>, read),
 * state (array<u32>).
 *
 * update (UPDATE_ITEMS_PER_INVOCATION elements or quads per invocation,
 * grid-strided, 1-D launch folded into 2-D): with the
 * clipped gradient ĝ = (g·2^k)·m (none, norm) or clamp(g, −C, C) (value),
 *   sgd       p ← p − lr·ĝ
 *   momentum  b ← μ·b + ĝ;  p ← p − lr·b                        (PyTorch SGD, dampening 0)
 *   adam      m ← β1·m + (1−β1)·ĝ;  v ← β2·v + (1−β2)·ĝ²;
 *             p ← p − (lr/(1−β1^t)) · m / (√v/√(1−β2^t) + eps)  (PyTorch Adam, t = state[4])
 * and nothing at all when state[3] ≠ 0. 1 − β^t = −expm1(t·ln β) is
 * evaluated without cancellation (ln β comes from the CPU in float64).
 * Bindings: params {count, lr, clip_threshold, momentum, beta1, beta2,
 * one_minus_beta1, one_minus_beta2, log_beta1, log_beta2, eps} (fields a
 * variant does not use are ignored); parameters, gradients, state (read),
 * then m (momentum buffer / Adam's first moment) and v (Adam's second).
 */
export type OptimizerKind = 'sgd' | 'momentum' | 'adam';
export type ClipKind = 'none' | 'norm' | 'value';

/** Word indices of the step state (mirrored by src/kernels/optim.ts). */
export const STEP_WORD = {
  normScale: 0,
  normSsq: 1,
  clipMantissa: 2,
  nonfinite: 3,
  step: 4,
  clipExponent: 5,
  log10Norm: 6,
  skipped: 7,
} as const;

/** PyTorch's clip_grad_norm_ epsilon: c = C / (‖g‖ + 1e−6). */
export const CLIP_NORM_EPS = 1e-6;

function stateConstants(): string {
  return Object.entries(STEP_WORD)
    .map(([name, index]) => `const STATE_${name.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase()}: u32 = ${index}u;`)
    .join('\n');
}

export interface GlobalNormShaderOptions {
  /** Norm clipping computes c from C; otherwise c = 1. */
  clipNorm: boolean;
  workgroupSize: number;
}

export function globalNormShader(o: GlobalNormShaderOptions): string {
  const wg = o.workgroupSize;
  return wgsl`${scaledSsqFunctions()}
${stateConstants()}
const LOG10_2: f32 = 0.30102999566398120;

var<workgroup> tree: array<Acc, ${wg}>;

@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn global_norm(@builtin(local_invocation_index) lid: u32) {
  var acc = Acc(EMPTY_E, 0.0, 0u, 0u);
  for (var r = lid; r < params.count; r += ${wg}u) {
    let o = (params.first + r) * 4u;
    acc = combine(acc, acc_from_record(vec4<u32>(stats[o], stats[o + 1u], stats[o + 2u], stats[o + 3u])));
  }
  tree[lid] = acc;
  workgroupBarrier();
  for (var w = ${wg / 2}u; w > 0u; w = w >> 1u) {
    if (lid < w) {
      tree[lid] = combine(tree[lid], tree[lid + w]);
    }
    workgroupBarrier();
  }
  if (lid != 0u) { return; }

  let total = tree[0];
  let empty = total.e == EMPTY_E || total.ssq == 0.0;
  let record = acc_to_record(total);
  state[STATE_NORM_SCALE] = record.x;
  state[STATE_NORM_SSQ] = record.y;
  state[STATE_NONFINITE] = total.nonfinite;
  // log10 ‖g‖ = (e + ½ log2 ssq)·log10 2: finite for any finite gradients.
  state[STATE_LOG10_NORM] = select(bitcast<u32>((f32(total.e) + 0.5 * log2(total.ssq)) * LOG10_2), 0xff800000u, empty);

  // Clip scale c = mantissa · 2^exponent.
  var mantissa = 1.0;
  var exponent = 0;
#if ${o.clipNorm}
  if (empty) {
    mantissa = min(1.0, params.clip_threshold / ${CLIP_NORM_EPS});  // ‖g‖ = 0: C/1e−6, as PyTorch
  } else if (total.e <= 0) {
    // ‖g‖ = 2^e·√ssq < 2^18: plain f32, and c ≥ C/2^18 stays normal.
    mantissa = min(1.0, params.clip_threshold / (pow2(total.e) * sqrt(total.ssq) + ${CLIP_NORM_EPS}));
  } else {
    // C/(‖g‖ + 1e−6) with ‖g‖ = 2^e·r is 2^−e · q, q = C/(r + 1e−6·2^−e) ≥ C/2^18
    // (r = √ssq ≥ 1): no overflow however large ‖g‖, and c < 1 exactly when q < 2^e.
    let q = params.clip_threshold / (sqrt(total.ssq) + ${CLIP_NORM_EPS} * pow2(-total.e));
    if (q < pow2(total.e)) {
      // c = q·2^−e, kept as (q, −e) only where c falls below the normal f32
      // range (‖g‖ > C·2^126; subnormals may flush to zero).
      let c = q * pow2(-total.e);
      if (c >= pow2(-126)) {
        mantissa = c;
      } else {
        mantissa = q;
        exponent = -total.e;
      }
    }
  }
#endif
  if (total.nonfinite != 0u) {
    // Skipped step: non-finite gradients never reach the parameters.
    state[STATE_CLIP_MANTISSA] = 0u;
    state[STATE_CLIP_EXPONENT] = 0u;
    state[STATE_SKIPPED] = state[STATE_SKIPPED] + 1u;
  } else {
    state[STATE_CLIP_MANTISSA] = bitcast<u32>(mantissa);
    state[STATE_CLIP_EXPONENT] = bitcast<u32>(exponent);
    state[STATE_STEP] = state[STATE_STEP] + 1u;
  }
}
`;
}

export interface UpdateShaderOptions {
  optimizer: OptimizerKind;
  /** Value clipping clamps each gradient; none and norm multiply by the clip scale. */
  clamp: boolean;
  /**
   * Four parameters per invocation (the arenas bound as vec4<f32>, count in
   * vec4s): the same arithmetic lane by lane, a quarter of the invocations.
   */
  vector?: boolean;
}

/**
 * Items (parameters, or quads with `vector`) each update invocation takes,
 * grid-strided (item i + j·S, S the invocations launched): a quarter of the
 * invocations, and of the step-state reads, for the same work.
 */
export const UPDATE_ITEMS_PER_INVOCATION = 4;

export function updateShader(o: UpdateShaderOptions): string {
  const sgd = o.optimizer === 'sgd';
  const momentum = o.optimizer === 'momentum';
  const adam = o.optimizer === 'adam';
  return wgsl`${stateConstants()}

// The element type of the arenas: the update's arithmetic is the same for both.
alias T = ${o.vector ? 'vec4<f32>' : 'f32'};

// 2^k built from its bits, exact, for k in [-126, 127].
fn pow2(k: i32) -> f32 {
  return bitcast<f32>(u32(k + 127) << 23u);
}

#if ${adam}
// 1 − β^t = −expm1(t·ln β), accurate where β^t is close to 1 (early steps,
// β2 = 0.999) and where it is not: a Taylor series of expm1 for |x| ≤ ½
// (terms to x¹⁰/10!, truncation < 2⁻³⁰ relative), 1 − exp(x) below.
fn one_minus_pow(log_beta: f32, t: f32) -> f32 {
  let x = t * log_beta;
  if (x < -0.5) { return 1.0 - exp(x); }
  var p = 1.0 / 3628800.0;
  p = p * x + 1.0 / 362880.0;
  p = p * x + 1.0 / 40320.0;
  p = p * x + 1.0 / 5040.0;
  p = p * x + 1.0 / 720.0;
  p = p * x + 1.0 / 120.0;
  p = p * x + 1.0 / 24.0;
  p = p * x + 1.0 / 6.0;
  p = p * x + 0.5;
  p = p * x + 1.0;
  return -(x * p);
}
#endif

@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  if (state[STATE_NONFINITE] != 0u) { return; }  // skipped step: nothing changes
  let first = gid.y * (groups.x * WG_X) + gid.x;
  let stride = groups.y * groups.x * WG_X;
  for (var j = 0u; j < ${UPDATE_ITEMS_PER_INVOCATION}u; j++) {
  let i = first + j * stride;
  if (i >= params.count) { return; }
  let g = gradients[i];
#if ${o.clamp}
  let cg = clamp(g, T(-params.clip_threshold), T(params.clip_threshold));
#else
  let cg = (g * pow2(bitcast<i32>(state[STATE_CLIP_EXPONENT]))) * bitcast<f32>(state[STATE_CLIP_MANTISSA]);
#endif
#if ${sgd}
  parameters[i] = parameters[i] - params.lr * cg;
#endif
#if ${momentum}
  let b = params.momentum * m[i] + cg;
  m[i] = b;
  parameters[i] = parameters[i] - params.lr * b;
#endif
#if ${adam}
  let m1 = params.beta1 * m[i] + params.one_minus_beta1 * cg;
  let v1 = params.beta2 * v[i] + params.one_minus_beta2 * (cg * cg);
  m[i] = m1;
  v[i] = v1;
  let t = f32(state[STATE_STEP]);
  let step_size = params.lr / one_minus_pow(params.log_beta1, t);
  let denom = sqrt(v1) / sqrt(one_minus_pow(params.log_beta2, t)) + params.eps;
  parameters[i] = parameters[i] - step_size * (m1 / denom);
#endif
  }
}
`;
}

/** Workgroup memory of the global-norm kernel: its tree of Acc (16 bytes each). */
export function globalNormWorkgroupBytes(workgroupSize: number): number {
  return 16 * workgroupSize;
}
