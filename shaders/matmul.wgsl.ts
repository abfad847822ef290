import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { activationFunctions, type Activation } from './activation.wgsl.ts';

/**
 * matmul — C[M,N] = epilogue(op(A) · op(B)), the three layouts training needs:
 *   nt: C = A[M,K] · B[N,K]ᵀ   forward      H_l = φ(H_{l−1} W_lᵀ + b_l)
 *   nn: C = A[M,K] · B[K,N]    input grad   dH_{l−1} = dZ_l W_l
 *   tn: C = A[K,M]ᵀ · B[K,N]   weight grad  dW_l = dZ_lᵀ H_{l−1}
 * All matrices are dense row-major f32 arrays. Any M, N, K ≥ 1.
 * Fused epilogues: forward  c = φ(acc + bias[n])  (bias optional, φ may be linear);
 *                  backward c = acc · φ'(h[m,n])  with h = φ(z) from the forward pass.
 * Variants:
 *   register — each invocation keeps a TM×TN block of C in registers and reads A
 *              and B straight from memory: no workgroup memory, no barriers
 *              (SwiftShader runs barriers very slowly). Loads use clamped indices
 *              so the K loop carries no bounds checks; stores are guarded.
 *              With vectorLoads, A and B are bound as array<vec4<f32>> and
 *              read four elements at a time along their contiguous dimension.
 *   tiled    — a workgroup stages BK-deep slices of A and B in workgroup memory
 *              (zero-filled outside the matrix) and each invocation accumulates a
 *              TM×TN block from them: the classic GPU kernel.
 *   subgroup — register blocking in which a workgroup is one subgroup of four
 *              lanes that share the TM rows of A and split the columns (TN
 *              each): each lane loads a quarter of the A values the four need
 *              and quad swaps hand them round. On SwiftShader every
 *              load with a computed index is a four-lane gather with bounds
 *              checks, while a swap is one shuffle, so a block of
 *              TM × 4·TN outputs costs TM/4 + TN loads per k instead of
 *              TM + TN. Needs the `subgroups` feature with subgroups of at
 *              least four lanes (matmulTilingAvailable).
 * Bindings (generated from the spec in src/kernels/matmul.ts): params {m, n, k},
 * a, b, c, and optionally bias[N] or mask[M,N].
 */
export type MatmulLayout = 'nt' | 'nn' | 'tn';

export interface MatmulShaderOptions {
  layout: MatmulLayout;
  variant: 'register' | 'tiled' | 'subgroup';
  /** Rows / columns of C per invocation (TN a multiple of 4; subgroup: TM too, and the rows are the subgroup's). */
  tileM: number;
  tileN: number;
  /** Workgroup size (x along N, y along M). */
  workgroupX: number;
  workgroupY: number;
  /** tiled: depth of the K slice staged in workgroup memory. */
  tileK: number;
  /**
   * register and subgroup: read A and B as vec4 along the dimension each one is
   * contiguous in (nt: K for both; nn: K for A, N for B; tn: M for A, N for B).
   * Four times fewer load instructions (and bounds checks, which SwiftShader
   * pays per load); requires those sizes to be multiples of 4
   * (matmulVectorLoadsFit), which the caller checks before binding. The
   * subgroup family with vec4 loads also stores C (and reads bias and mask)
   * by quads of columns, so N must be a multiple of 4 as well
   * (matmulQuadStoresFit).
   */
  vectorLoads: boolean;
  bias: boolean;
  activation: Activation;
  /** Backward epilogue: multiply by φ'(mask) where mask holds h = φ(z). */
  gradMask: Activation | null;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function loaders(layout: MatmulLayout): string {
  const aTransposed = layout === 'tn';
  const bTransposed = layout === 'nt';
  return wgsl`
// A element (m, k) and B element (k, n) of op(A), op(B).
fn load_a(m: u32, k: u32) -> f32 {
#if ${aTransposed}
  return a[k * params.m + m];
#else
  return a[m * params.k + k];
#endif
}
fn load_b(k: u32, n: u32) -> f32 {
#if ${bTransposed}
  return b[n * params.k + k];
#else
  return b[k * params.n + n];
#endif
}`;
}

function epilogue(o: MatmulShaderOptions): string {
  const mask = o.gradMask !== null;
  const bias = o.bias;
  return wgsl`
${activationFunctions(mask ? (o.gradMask as Activation) : o.activation)}
fn store(m: u32, n: u32, acc: f32) {
  let i = m * params.n + n;
#if ${mask}
  c[i] = acc * act_grad_from_output(mask[i]);
#elif ${bias}
  c[i] = act(acc + bias[n]);
#else
  c[i] = act(acc);
#endif
}`;
}

/**
 * One multiply-add into an accumulator quad: acc += s·v with `fma`, one
 * instruction per lane where the target fuses it (SwiftShader emits x86 FMA:
 * half the arithmetic instructions of a multiply and an add; measured 10–15 %
 * faster overall there, where loads dominate), and never less accurate than
 * the two-step form (one rounding instead of two).
 */
function fmaInto(acc: string, scalar: string, quad: string, indent = '    '): string {
  return `${indent}${acc} = fma(vec4<f32>(${scalar}), ${quad}, ${acc});`;
}

/** Accumulators acc_<i>_<jb>: vec4 holding C[row0+i, col0+4jb .. +3]. */
function accumulatorDecls(tm: number, tn: number): string {
  return range(tm)
    .flatMap((i) => range(tn / 4).map((jb) => `  var acc_${i}_${jb} = vec4<f32>(0.0);`))
    .join('\n');
}

function guardedStores(tm: number, tn: number, rowOf: (i: number) => string, colBase: string): string {
  const lines: string[] = [];
  for (const i of range(tm)) {
    lines.push(`  if (${rowOf(i)} < params.m) {`);
    for (const j of range(tn)) {
      lines.push(
        `    if (${colBase} + ${j}u < params.n) { store(${rowOf(i)}, ${colBase} + ${j}u, acc_${i}_${j >> 2}[${j & 3}]); }`,
      );
    }
    lines.push('  }');
  }
  return lines.join('\n');
}

/** Accumulator row i holds row row0 + i of C. */
function consecutiveRows(i: number): string {
  return `row0 + ${i}u`;
}

/**
 * A lane's value after quad swap s (0–3) is that of lane (lane ^ s) of its
 * quad: quadSwapX, quadSwapY and quadSwapDiagonal exchange across the 2×2
 * quad (lanes 0 1 / 2 3). The workgroup is one quad, so three swaps give
 * every lane every other lane's value.
 */
function quadSwap(s: number, value: string): string {
  return s === 0 ? value : `${['quadSwapX', 'quadSwapY', 'quadSwapDiagonal'][s - 1]}(${value})`;
}

/**
 * nt and nn share A by rows: lane l loads rows row0 + 4g + l (g < TM/4), and
 * after quad swap s it holds lane (l ^ s)'s, so accumulator row 4g + s of
 * lane l is row row0 + 4g + (l ^ s) of C.
 */
function swappedRows(i: number): string {
  return `row0 + ${4 * (i >> 2)}u + ${swappedLane(i & 3)}`;
}

/** The lane whose value a lane holds after quad swap s. */
function swappedLane(s: number): string {
  return s === 0 ? 'lane' : `(lane ^ ${s}u)`;
}

/** Every accumulator row's A values, handed round the quad from the lanes' own rows va<g>. */
function swapRows(tm: number): string {
  return range(tm).map((i) => `    let a${i} = ${quadSwap(i & 3, `va${i >> 2}`)};`).join('\n');
}

function registerBody(o: MatmulShaderOptions): string {
  const { tileM: tm, tileN: tn } = o;
  const rows = range(tm).map((i) => `  let r${i} = min(row0 + ${i}u, params.m - 1u);`).join('\n');
  const cols = range(tn).map((j) => `  let c${j} = min(col0 + ${j}u, params.n - 1u);`).join('\n');
  const loadA = range(tm).map((i) => `    let a${i} = load_a(r${i}, k);`).join('\n');
  const loadB = range(tn / 4)
    .map((jb) => {
      const cs = range(4).map((l) => `load_b(k, c${jb * 4 + l})`).join(', ');
      return `    let b${jb} = vec4<f32>(${cs});`;
    })
    .join('\n');
  const fmas = range(tm)
    .flatMap((i) => range(tn / 4).map((jb) => fmaInto(`acc_${i}_${jb}`, `a${i}`, `b${jb}`)))
    .join('\n');
  // Clamped indices: rows/columns past the edge re-read the last one and are never stored.
  const loop = `  for (var k = 0u; k < params.k; k++) {\n${loadA}\n${loadB}\n${fmas}\n  }`;
  return registerMain(tm, tn, `${rows}\n${cols}`, loop);
}

/** A register-blocked kernel: one tm × tn tile of C per invocation, `setup` and `loop` filling its accumulators. */
function registerMain(tm: number, tn: number, setup: string, loop: string): string {
  return `
@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row0 = gid.y * ${tm}u;
  let col0 = gid.x * ${tn}u;
  if (row0 >= params.m || col0 >= params.n) { return; }
${setup}
${accumulatorDecls(tm, tn)}
${loop}
${guardedStores(tm, tn, consecutiveRows, 'col0')}
}`;
}

/**
 * nt with vec4 loads, one quad of k: C[i][4jb..4jb+3] += A[i][k] · (B[4jb][k], …, B[4jb+3][k])
 * for each k of the quad, with `a<i>` row i's quad of A and `b<j>` column j's
 * quad of B. The quads of four B rows read across (free on SwiftShader, where
 * each vector component is its own register), so every step is one fma.
 */
function ntQuadFmas(tm: number, tn: number): string {
  return range(tm)
    .flatMap((i) =>
      range(tn / 4).flatMap((jb) =>
        ['x', 'y', 'z', 'w'].map((c) => fmaInto(`acc_${i}_${jb}`, `a${i}.${c}`, `vec4<f32>(${range(4).map((l) => `b${jb * 4 + l}.${c}`).join(', ')})`)),
      ),
    )
    .join('\n');
}

/** nn with vec4 loads, one quad of k: per k, B's quads of this invocation's columns (`cq<jb>`), multiplied by A[i][k] (component k of `a<i>`). */
function nnQuadSteps(tm: number, tn: number): string {
  return range(4)
    .map((kk) => {
      const loadB = range(tn / 4).map((jb) => `    let b${kk}_${jb} = b[(q * 4u + ${kk}u) * nq + cq${jb}];`).join('\n');
      const fmas = range(tm)
        .flatMap((i) => range(tn / 4).map((jb) => fmaInto(`acc_${i}_${jb}`, `a${i}[${kk}]`, `b${kk}_${jb}`)))
        .join('\n');
      return `${loadB}\n${fmas}`;
    })
    .join('\n');
}

/**
 * tn with vec4 loads, one k: row k of A (K×M, M-contiguous) by quads of this
 * tile's rows (`rq<g>`) and of B (K×N) by quads of its columns (`cq<jb>`),
 * C[i][4jb..4jb+3] += A[k][i] · B[k][4jb..4jb+3].
 */
function tnRowStep(tm: number, tn: number): string {
  const loads = [
    ...range(tm / 4).map((g) => `    let a${g} = a[k * mq + rq${g}];`),
    ...range(tn / 4).map((jb) => `    let b${jb} = b[k * nq + cq${jb}];`),
  ].join('\n');
  const fmas = range(tm)
    .flatMap((i) => range(tn / 4).map((jb) => fmaInto(`acc_${i}_${jb}`, `a${i >> 2}[${i & 3}]`, `b${jb}`)))
    .join('\n');
  return `${loads}\n${fmas}`;
}

/**
 * Register blocking with vec4 loads. Each layout reads both operands along
 * their contiguous dimension; quads past the edge are clamped like rows and
 * columns (re-read, never stored).
 */
function registerVectorBody(o: MatmulShaderOptions): string {
  const { tileM: tm, tileN: tn, layout } = o;
  const colQuads = range(tn / 4).map((jb) => `  let cq${jb} = min(col0 / 4u + ${jb}u, nq - 1u);`).join('\n');
  let setup: string;
  let loop: string;
  if (layout === 'nt') {
    // A[M,K] and B[N,K]: both K-contiguous, four k at a time. Per k of the quad, C[i][4jb..4jb+3] += A[i][k] · (B[4jb][k], …, B[4jb+3][k]):
    // the quads of four B rows read across (free on SwiftShader, where each vector component is its own register) so every step is one fma.
    const rows = range(tm).map((i) => `  let ra${i} = min(row0 + ${i}u, params.m - 1u) * kq;`).join('\n');
    const cols = range(tn).map((j) => `  let rb${j} = min(col0 + ${j}u, params.n - 1u) * kq;`).join('\n');
    setup = `  let kq = params.k / 4u;\n${rows}\n${cols}`;
    const loads = [
      ...range(tm).map((i) => `    let a${i} = a[ra${i} + q];`),
      ...range(tn).map((j) => `    let b${j} = b[rb${j} + q];`),
    ].join('\n');
    const fmas = ntQuadFmas(tm, tn);
    loop = `  for (var q = 0u; q < kq; q++) {\n${loads}\n${fmas}\n  }`;
  } else if (layout === 'nn') {
    // A[M,K] K-contiguous (a quad of k), B[K,N] N-contiguous (a quad of n per k).
    const rows = range(tm).map((i) => `  let ra${i} = min(row0 + ${i}u, params.m - 1u) * kq;`).join('\n');
    setup = `  let kq = params.k / 4u;\n  let nq = params.n / 4u;\n${rows}\n${colQuads}`;
    const loadA = range(tm).map((i) => `    let a${i} = a[ra${i} + q];`).join('\n');
    const inner = nnQuadSteps(tm, tn);
    loop = `  for (var q = 0u; q < kq; q++) {\n${loadA}\n${inner}\n  }`;
  } else {
    // A[K,M] M-contiguous (a quad of rows per k), B[K,N] N-contiguous (a quad of columns per k).
    const rowQuads = range(tm / 4).map((ib) => `  let rq${ib} = min(row0 / 4u + ${ib}u, mq - 1u);`).join('\n');
    setup = `  let mq = params.m / 4u;\n  let nq = params.n / 4u;\n${rowQuads}\n${colQuads}`;
    loop = `  for (var k = 0u; k < params.k; k++) {\n${tnRowStep(tm, tn)}\n  }`;
  }
  return registerMain(tm, tn, setup, loop);
}

/**
 * The subgroup family, scalar loads (any M, N, K). The workgroup is one
 * subgroup: `lane` (0–3) owns columns col0 … col0+TN−1 and loads rows
 * row0+lane, row0+4+lane, … of A, which quad swaps hand to every lane
 * (swappedRows says which row of C each accumulator row is). Every lane runs
 * every swap (no early return): lanes past the edge compute on clamped
 * indices and store nothing.
 */
function subgroupBody(o: MatmulShaderOptions): string {
  const { tileM: tm, tileN: tn } = o;
  const setup = [
    ...range(tm / 4).map((g) => `  let r${g} = min(row0 + ${g * 4}u + lane, params.m - 1u);`),
    ...range(tn).map((j) => `  let c${j} = min(col0 + ${j}u, params.n - 1u);`),
  ].join('\n');
  const loads = [
    ...range(tm / 4).map((g) => `    let va${g} = load_a(r${g}, k);`),
    swapRows(tm),
    ...range(tn / 4).map((jb) => `    let b${jb} = vec4<f32>(${range(4).map((l) => `load_b(k, c${jb * 4 + l})`).join(', ')});`),
  ].join('\n');
  const fmas = range(tm)
    .flatMap((i) => range(tn / 4).map((jb) => fmaInto(`acc_${i}_${jb}`, `a${i}`, `b${jb}`)))
    .join('\n');
  return subgroupMain(tm, tn, setup, `  for (var k = 0u; k < params.k; k++) {\n${loads}\n${fmas}\n  }`, swappedRows);
}

/**
 * The subgroup family with vec4 loads along each operand's contiguous
 * dimension (the sizes matmulVectorLoadsFit admits). nt and nn: each lane
 * loads a quad of k of its rows of A and the quad swaps hand the rows round
 * (swappedRows). tn: each lane loads row k0+lane of Aᵀ's quads, and after
 * swap s it holds row k0 + (lane ^ s), so it reads B's row k0 + (lane ^ s) to
 * match: every lane still sums over every k, in its own order. tn takes any
 * K (a tail loop reads the last K mod 4 rows, every lane the same ones).
 *
 * Why swaps, not subgroupBroadcast: on SwiftShader a broadcast with a
 * constant lane is a mask and a horizontal OR per component, a quad swap
 * one shuffle; sharing A by swaps measured 1.1–1.4× faster at 512³ and
 * 1024³ (same loads, same multiply-adds).
 */
function subgroupVectorBody(o: MatmulShaderOptions): string {
  const { tileM: tm, tileN: tn, layout } = o;
  const colQuads = range(tn / 4).map((jb) => `  let cq${jb} = min(col0 / 4u + ${jb}u, nq - 1u);`).join('\n');
  const aRows = range(tm / 4).map((g) => `  let ra${g} = min(row0 + ${g * 4}u + lane, params.m - 1u) * kq;`).join('\n');
  const loadA = range(tm / 4).map((g) => `    let va${g} = a[ra${g} + q];`).join('\n');
  let setup: string;
  let loop: string;
  if (layout === 'nt') {
    const bRows = range(tn).map((j) => `  let rb${j} = min(col0 + ${j}u, params.n - 1u) * kq;`).join('\n');
    setup = `  let kq = params.k / 4u;\n${aRows}\n${bRows}`;
    const loadB = range(tn).map((j) => `    let b${j} = b[rb${j} + q];`).join('\n');
    const fmas = ntQuadFmas(tm, tn);
    loop = `  for (var q = 0u; q < kq; q++) {\n${loadA}\n${loadB}\n${swapRows(tm)}\n${fmas}\n  }`;
  } else if (layout === 'nn') {
    setup = `  let kq = params.k / 4u;\n  let nq = params.n / 4u;\n${aRows}\n${colQuads}`;
    const inner = nnQuadSteps(tm, tn);
    loop = `  for (var q = 0u; q < kq; q++) {\n${loadA}\n${swapRows(tm)}\n${inner}\n  }`;
  } else {
    const rowQuads = range(tm / 4).map((g) => `  let rq${g} = min(row0 / 4u + ${g}u, mq - 1u);`).join('\n');
    setup = `  let kq = params.k / 4u;\n  let mq = params.m / 4u;\n  let nq = params.n / 4u;\n${rowQuads}\n${colQuads}`;
    const loadQuads = range(tm / 4).map((g) => `    let va${g} = a[(q * 4u + lane) * mq + rq${g}];`).join('\n');
    const inner = range(4)
      .map((s) => {
        const swapped = range(tm / 4).map((g) => `    let a${s}_${g} = ${quadSwap(s, `va${g}`)};`).join('\n');
        const loadB = range(tn / 4).map((jb) => `    let b${s}_${jb} = b[(q * 4u + ${swappedLane(s)}) * nq + cq${jb}];`).join('\n');
        const fmas = range(tm)
          .flatMap((i) => range(tn / 4).map((jb) => fmaInto(`acc_${i}_${jb}`, `a${s}_${i >> 2}[${i & 3}]`, `b${s}_${jb}`)))
          .join('\n');
        return `${swapped}\n${loadB}\n${fmas}`;
      })
      .join('\n');
    loop =
      `  for (var q = 0u; q < kq; q++) {\n${loadQuads}\n${inner}\n  }\n` +
      `  for (var k = kq * 4u; k < params.k; k++) {\n${tnRowStep(tm, tn)}\n  }`;
  }
  return subgroupMain(tm, tn, setup, loop, layout === 'tn' ? consecutiveRows : swappedRows, true);
}

/**
 * A subgroup-family kernel: the workgroup (one subgroup) covers TM rows ×
 * 4·TN columns of C; accumulator row i is row rowOf(i) of C.
 */
function subgroupMain(tm: number, tn: number, setup: string, loop: string, rowOf: (i: number) => string, quadStores = false): string {
  return `
@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let row0 = wid.y * ${tm}u;
  let col0 = (wid.x * 4u + lane) * ${tn}u;
${setup}
${accumulatorDecls(tm, tn)}
${loop}
${quadStores ? guardedQuadStores(tm, tn, rowOf, 'col0') : guardedStores(tm, tn, rowOf, 'col0')}
}`;
}

/**
 * Stores by quads of columns (store4): with N a multiple of 4 and col0 a
 * multiple of 4 a quad is wholly inside C or wholly past its edge, so one
 * guard and one bounds-checked store cover four outputs. At K = 64 (the
 * weight gradient of a batch-64 MLP) the element-wise stores cost a third
 * of the kernel on SwiftShader.
 */
function guardedQuadStores(tm: number, tn: number, rowOf: (i: number) => string, colBase: string): string {
  const lines: string[] = [];
  for (const i of range(tm)) {
    lines.push(`  if (${rowOf(i)} < params.m) {`);
    for (const jb of range(tn / 4)) {
      lines.push(`    if (${colBase} + ${jb * 4}u < params.n) { store4(${rowOf(i)}, ${colBase} + ${jb * 4}u, acc_${i}_${jb}); }`);
    }
    lines.push('  }');
  }
  return lines.join('\n');
}

/** The epilogue of quad stores: C, bias and mask bound as vec4 arrays (N a multiple of 4), the activation applied per component. */
function quadEpilogue(o: MatmulShaderOptions): string {
  const mask = o.gradMask !== null;
  const bias = o.bias;
  const each = (f: string, v: string) => `vec4<f32>(${['x', 'y', 'z', 'w'].map((c) => `${f}(${v}.${c})`).join(', ')})`;
  return wgsl`
${activationFunctions(mask ? (o.gradMask as Activation) : o.activation)}
fn store4(m: u32, n: u32, acc: vec4<f32>) {
  let i = (m * params.n + n) / 4u;
#if ${mask}
  let h = mask[i];
  c[i] = acc * ${each('act_grad_from_output', 'h')};
#elif ${bias}
  let z = acc + bias[n / 4u];
  c[i] = ${each('act', 'z')};
#else
  c[i] = ${each('act', 'acc')};
#endif
}`;
}

function tiledBody(o: MatmulShaderOptions): string {
  const { tileM: tm, tileN: tn, tileK: bk, workgroupX: wx, workgroupY: wy } = o;
  const bm = wy * tm;
  const bn = wx * tn;
  const threads = wx * wy;
  const loadsA = Math.ceil((bm * bk) / threads);
  const loadsB = Math.ceil((bn * bk) / threads);
  // Walk the staged slice along the dimension that is contiguous in memory.
  const aKContiguous = o.layout !== 'tn';
  const bKContiguous = o.layout === 'nt';
  const aIndex = aKContiguous ? `let kk = e % ${bk}u; let mm = e / ${bk}u;` : `let mm = e % ${bm}u; let kk = e / ${bm}u;`;
  const bIndex = bKContiguous ? `let kk = e % ${bk}u; let nn = e / ${bk}u;` : `let nn = e % ${bn}u; let kk = e / ${bn}u;`;
  const loadA = range(tm).map((i) => `      let a${i} = tile_a[kk * ${bm}u + ly * ${tm}u + ${i}u];`).join('\n');
  const loadB = range(tn / 4)
    .map((jb) => {
      const cs = range(4).map((l) => `tile_b[kk * ${bn}u + lx * ${tn}u + ${jb * 4 + l}u]`).join(', ');
      return `      let b${jb} = vec4<f32>(${cs});`;
    })
    .join('\n');
  const fmas = range(tm)
    .flatMap((i) => range(tn / 4).map((jb) => fmaInto(`acc_${i}_${jb}`, `a${i}`, `b${jb}`, '      ')))
    .join('\n');
  return `
var<workgroup> tile_a: array<f32, ${bm * bk}>;  // [BK][BM]
var<workgroup> tile_b: array<f32, ${bn * bk}>;  // [BK][BN]

@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) lidx: u32) {
  let lx = lid.x;
  let ly = lid.y;
  let row_base = wid.y * ${bm}u;
  let col_base = wid.x * ${bn}u;
${accumulatorDecls(tm, tn)}
  let slices = (params.k + ${bk}u - 1u) / ${bk}u;
  for (var s = 0u; s < slices; s++) {
    let k_base = s * ${bk}u;
    for (var l = 0u; l < ${loadsA}u; l++) {
      let e = lidx + l * ${threads}u;
      if (e < ${bm * bk}u) {
        ${aIndex}
        let gm = row_base + mm;
        let gk = k_base + kk;
        var v = 0.0;
        if (gm < params.m && gk < params.k) { v = load_a(gm, gk); }
        tile_a[kk * ${bm}u + mm] = v;
      }
    }
    for (var l = 0u; l < ${loadsB}u; l++) {
      let e = lidx + l * ${threads}u;
      if (e < ${bn * bk}u) {
        ${bIndex}
        let gn = col_base + nn;
        let gk = k_base + kk;
        var v = 0.0;
        if (gn < params.n && gk < params.k) { v = load_b(gk, gn); }
        tile_b[kk * ${bn}u + nn] = v;
      }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${bk}u; kk++) {
${loadA}
${loadB}
${fmas}
    }
    workgroupBarrier();
  }
  let row0 = row_base + ly * ${tm}u;
  let col0 = col_base + lx * ${tn}u;
${guardedStores(tm, tn, consecutiveRows, 'col0')}
}`;
}

export function matmulShader(o: MatmulShaderOptions): string {
  if (o.tileN % 4 !== 0) throw new Error(`matmul: tileN must be a multiple of 4, got ${o.tileN}`);
  if (o.variant === 'subgroup') {
    if (o.tileM % 4 !== 0) throw new Error(`matmul: the subgroup family needs tileM a multiple of 4 (one row in four per lane), got ${o.tileM}`);
    if (o.workgroupX !== 4 || o.workgroupY !== 1) throw new Error(`matmul: the subgroup family runs one four-lane subgroup per workgroup (4×1), got ${o.workgroupX}×${o.workgroupY}`);
    return o.vectorLoads ? [quadEpilogue(o), subgroupVectorBody(o)].join('\n') : [loaders(o.layout), epilogue(o), subgroupBody(o)].join('\n');
  }
  if (o.vectorLoads) {
    if (o.variant !== 'register') throw new Error('matmul: vec4 loads exist for the register and subgroup variants only');
    if (o.layout === 'tn' && o.tileM % 4 !== 0) throw new Error(`matmul: tn with vec4 loads needs tileM a multiple of 4, got ${o.tileM}`);
    // The scalar loaders would index vec4 arrays: leave them out.
    return [epilogue(o), registerVectorBody(o)].join('\n');
  }
  return [loaders(o.layout), epilogue(o), o.variant === 'register' ? registerBody(o) : tiledBody(o)].join('\n');
}

/**
 * Whether the subgroup kernel with vec4 loads can run at these sizes: its
 * loads fit and N is a multiple of 4 (it stores C, and reads bias and mask,
 * by quads of columns).
 */
export function matmulQuadStoresFit(layout: MatmulLayout, dims: { m: number; n: number; k: number }): boolean {
  return matmulVectorLoadsFit(layout, dims) && dims.n % 4 === 0;
}

/** Whether the vec4-load register kernel can read these sizes (its contiguous dimensions are multiples of 4). */
export function matmulVectorLoadsFit(layout: MatmulLayout, dims: { m: number; n: number; k: number }): boolean {
  if (layout === 'nt') return dims.k % 4 === 0;
  if (layout === 'nn') return dims.k % 4 === 0 && dims.n % 4 === 0;
  return dims.m % 4 === 0 && dims.n % 4 === 0;
}

/** WGSL extensions a tiling's code enables (the subgroup family's quad swaps). */
export function matmulEnables(o: Pick<MatmulShaderOptions, 'variant'>): string[] {
  return o.variant === 'subgroup' ? ['subgroups'] : [];
}

export function matmulWorkgroupBytes(o: MatmulShaderOptions): number {
  if (o.variant !== 'tiled') return 0;
  return 4 * o.tileK * (o.workgroupY * o.tileM + o.workgroupX * o.tileN);
}
