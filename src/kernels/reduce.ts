import {
  reduceWorkgroupBytes,
  segmentCombineShader,
  segmentPartialsShader,
  type PartialsShaderOptions,
  type ReduceShaderOptions,
} from '../../shaders/reduce.wgsl.ts';
import type { AdapterSummary, BufferBinding, Dispatch, GpuContext, PreparedKernel } from '../gpu/context.ts';
import { bindingBytes } from '../gpu/context.ts';
import { ceilDiv, linearGrid, type KernelSpec } from './spec.ts';

export type { ReduceShaderOptions } from '../../shaders/reduce.wgsl.ts';

/**
 * Segment reduction: norms, max|x| and non-finite counts of many segments of
 * one f32 buffer in one two-pass dispatch pair (shaders/reduce.wgsl.ts).
 *
 *   const reduce = await prepareSegmentReduce(ctx);
 *   const r = reduce.bind(segments, { data, stats }, { outputOffset });  // once per plan
 *   ctx.run(r.dispatches) … every step …
 *   decodeSegmentStats(words, r.segmentCount)
 *   r.destroy();
 */

/** A run of `length` elements of the data buffer starting at element `offset`. */
export interface Segment {
  offset: number;
  length: number;
}

// ---------------------------------------------------------------------------
// Output layout: 4 words (16 bytes) per segment.

export const SEGMENT_STATS_WORDS = 4;
export const SEGMENT_STATS_BYTES = SEGMENT_STATS_WORDS * 4;
/** Word offsets inside one segment's record. */
export const STATS_SCALE = 0; // f32: 2^e, a power of two ≤ maxAbs (0 when no finite non-zero value)
export const STATS_SSQ = 1; // f32: Σx² = scale² · ssq over the finite x
export const STATS_MAX_ABS = 2; // f32: max |x| over the finite x, exact
export const STATS_NONFINITE = 3; // u32: count of ±Inf and NaN

/** One segment's statistics in float64. */
export interface SegmentStats {
  /** ‖x‖₂ over the finite values. */
  norm: number;
  /** Σx² over the finite values (float64: no overflow for any f32 input). */
  sumSquares: number;
  /** log10 ‖x‖₂ (−Infinity when the norm is 0); finite whenever some value is. */
  log10Norm: number;
  /** max |x| over the finite values. */
  maxAbs: number;
  /** Count of ±Inf and NaN. */
  nonfinite: number;
}

/**
 * Decodes `count` records from stats words (starting at record `offset`) into
 * float64: norm = scale·√ssq, sumSquares = scale²·ssq, log10Norm =
 * log10 scale + ½ log10 ssq (finite whenever some value is finite and non-zero,
 * even where Σx² or the norm exceed f32).
 */
export function decodeSegmentStats(words: ArrayBuffer | Uint32Array, count: number, offset = 0): SegmentStats[] {
  const u32 = words instanceof Uint32Array ? words : new Uint32Array(words);
  const f32 = new Float32Array(u32.buffer, u32.byteOffset, u32.length);
  if ((offset + count) * SEGMENT_STATS_WORDS > u32.length) {
    throw new Error(
      `decodeSegmentStats: ${count} records from record ${offset} need ${(offset + count) * SEGMENT_STATS_WORDS} words, got ${u32.length}`,
    );
  }
  const out: SegmentStats[] = [];
  for (let s = 0; s < count; s++) {
    const base = (offset + s) * SEGMENT_STATS_WORDS;
    const scale = f32[base + STATS_SCALE];
    const ssq = f32[base + STATS_SSQ];
    out.push({
      norm: scale * Math.sqrt(ssq),
      sumSquares: scale * scale * ssq,
      log10Norm: scale > 0 && ssq > 0 ? Math.log10(scale) + 0.5 * Math.log10(ssq) : -Infinity,
      maxAbs: f32[base + STATS_MAX_ABS],
      nonfinite: u32[base + STATS_NONFINITE],
    });
  }
  return out;
}

// ---------------------------------------------------------------------------
// Geometry: chunks of one segment each, at most WG·EPT elements.

export type ReduceVariant = 'wide' | 'narrow' | 'lanes';
export const REDUCE_VARIANTS: readonly ReduceVariant[] = ['wide', 'narrow', 'lanes'];

const VARIANT_SHAPES: Record<ReduceVariant, ReduceShaderOptions> = {
  // 256 invocations × 16 elements = 4096 a workgroup: coalesced loads, the usual GPU shape.
  wide: { workgroupSize: 256, elementsPerThread: 16, combineWorkgroupSize: 256 },
  // 16 × 256: few invocations and a shallow barrier tree, which SwiftShader
  // runs far faster (measured ~10× on 2 cores); same chunk size.
  narrow: { workgroupSize: 16, elementsPerThread: 256, combineWorkgroupSize: 64 },
  // 4 × 1024: one SwiftShader SIMD group (4 lanes) per workgroup, so its
  // barriers never switch between groups; same chunk size. Pass 1 measured
  // ~30 % faster than narrow over a 50 × 65536 arena on 2 cores.
  lanes: { workgroupSize: 4, elementsPerThread: 1024, combineWorkgroupSize: 16 },
};

export function reduceShaderOptions(variant: ReduceVariant): ReduceShaderOptions {
  return VARIANT_SHAPES[variant];
}

export function defaultReduceVariant(adapter: AdapterSummary): ReduceVariant {
  return adapter.software ? 'lanes' : 'wide';
}

export function chunkElements(o: ReduceShaderOptions): number {
  return o.workgroupSize * o.elementsPerThread;
}

/** The chunk and segment tables of a segment list (uploaded once per plan). */
export interface ReducePlan {
  /** Per chunk: start element, length (≤ chunk size). */
  chunks: Uint32Array;
  /** Per segment: first chunk, chunk count (0 for an empty segment). */
  segments: Uint32Array;
  chunkCount: number;
  segmentCount: number;
  /** Largest number of chunks of one segment (sets pass 2's loop length). */
  maxChunksPerSegment: number;
}

export function planSegmentChunks(segments: readonly Segment[], chunkSize: number, dataElements = Infinity): ReducePlan {
  if (segments.length === 0) throw new Error('segment reduce: no segments given');
  let chunkCount = 0;
  let maxChunksPerSegment = 0;
  segments.forEach((s, i) => {
    if (!Number.isInteger(s.offset) || s.offset < 0 || !Number.isInteger(s.length) || s.length < 0) {
      throw new Error(`segment reduce: segment ${i} {offset ${s.offset}, length ${s.length}} needs integers ≥ 0`);
    }
    if (s.offset + s.length > dataElements || s.offset + s.length > 0xffffffff) {
      throw new Error(
        `segment reduce: segment ${i} [${s.offset}, ${s.offset + s.length}) runs past the data buffer's ${dataElements} elements`,
      );
    }
    const n = ceilDiv(s.length, chunkSize);
    chunkCount += n;
    maxChunksPerSegment = Math.max(maxChunksPerSegment, n);
  });
  const chunks = new Uint32Array(Math.max(1, chunkCount) * 2);
  const table = new Uint32Array(segments.length * 2);
  let c = 0;
  segments.forEach((s, i) => {
    table[2 * i] = c;
    for (let start = 0; start < s.length; start += chunkSize) {
      chunks[2 * c] = s.offset + start;
      chunks[2 * c + 1] = Math.min(chunkSize, s.length - start);
      c++;
    }
    table[2 * i + 1] = c - table[2 * i];
  });
  return { chunks, segments: table, chunkCount, segmentCount: segments.length, maxChunksPerSegment };
}

/**
 * Additions on the longest path from an element's square to its segment's ssq:
 * in pass 1 one of four interleaved sequential sums (EPT/4), joining the four
 * (2) and the workgroup tree (log2 WG); in pass 2 the strided loop over the
 * segment's chunks (⌈chunks/WG₂⌉) and its tree (log2 WG₂). All terms are ≥ 0
 * and every rescaling multiplies by a power of two (exact), so the relative
 * error of ssq is at most γ_(depth+1) = (depth+1)·u/(1 − (depth+1)·u), u = 2⁻²⁴,
 * the +1 for rounding each square (Higham, Accuracy and Stability, §4.2).
 */
export function reduceSumDepth(o: ReduceShaderOptions, chunksPerSegment: number): number {
  return (
    o.elementsPerThread / 4 + 2 + Math.log2(o.workgroupSize) +
    Math.max(1, ceilDiv(chunksPerSegment, o.combineWorkgroupSize)) + Math.log2(o.combineWorkgroupSize)
  );
}

// ---------------------------------------------------------------------------
// Specs

type PartialsUniforms = { chunk_count: 'u32' };
type CombineUniforms = { segment_count: 'u32'; output_offset: 'u32' };

function shapeKey(o: ReduceShaderOptions): string {
  return `${o.workgroupSize}x${o.elementsPerThread}`;
}

export function segmentPartialsSpec(o: PartialsShaderOptions): KernelSpec<PartialsUniforms> {
  const form = o.vector ? ', vec4' : '';
  return {
    key: `reduce/partials/${shapeKey(o)}${o.vector ? '/vec4' : ''}`,
    label: `reduce.partials[${shapeKey(o)}${form}]`,
    entryPoint: 'segment_partials',
    uniforms: { chunk_count: 'u32' },
    storage: [
      // Raw bits: non-finite values are recognised before any float arithmetic.
      { name: 'data', access: 'read', type: o.vector ? 'array<vec4<u32>>' : 'array<u32>' },
      { name: 'chunks', access: 'read', type: 'array<vec2<u32>>' },
      { name: 'partials', access: 'read_write', type: 'array<vec4<u32>>' },
    ],
    workgroupSize: [o.workgroupSize, 1, 1],
    workgroupBytes: reduceWorkgroupBytes(o.workgroupSize),
    body: segmentPartialsShader(o),
  };
}

export function segmentCombineSpec(o: ReduceShaderOptions): KernelSpec<CombineUniforms> {
  return {
    key: `reduce/combine/${o.combineWorkgroupSize}`,
    label: `reduce.combine[${o.combineWorkgroupSize}]`,
    entryPoint: 'segment_combine',
    uniforms: { segment_count: 'u32', output_offset: 'u32' },
    storage: [
      { name: 'partials', access: 'read', type: 'array<vec4<u32>>' },
      { name: 'segments', access: 'read', type: 'array<vec2<u32>>' },
      { name: 'stats', access: 'read_write', type: 'array<u32>' },
    ],
    workgroupSize: [o.combineWorkgroupSize, 1, 1],
    workgroupBytes: reduceWorkgroupBytes(o.combineWorkgroupSize),
    body: segmentCombineShader(o),
  };
}

/** Every spec of the family (for the spec-vs-WGSL unit test). */
export function reduceSpecs(): KernelSpec[] {
  return REDUCE_VARIANTS.flatMap((v) => {
    const o = reduceShaderOptions(v);
    return [segmentPartialsSpec(o), segmentPartialsSpec({ ...o, vector: true }), segmentCombineSpec(o)] as unknown as KernelSpec[];
  });
}

// ---------------------------------------------------------------------------
// Kernel and bound reduction

export interface SegmentReduceOptions {
  /** Default: chosen per adapter by defaultReduceVariant. */
  variant?: ReduceVariant;
  /**
   * Fold grids into 2-D past this many workgroups per dimension (default and
   * maximum: the adapter's limit; tests lower it to exercise the fold).
   */
  maxWorkgroupsPerDimension?: number;
}

export interface SegmentReduceBuffers {
  /** The f32 arena; segment offsets count elements from the start of this binding. */
  data: BufferBinding;
  /** Receives SEGMENT_STATS_WORDS words per segment from record `outputOffset`. */
  stats: BufferBinding;
}

/**
 * A bound reduction: its tables and partials buffer (owned, freed by destroy)
 * and the two dispatches, to be recorded every step.
 */
export class SegmentReduction {
  constructor(
    readonly dispatches: readonly [Dispatch, Dispatch],
    readonly plan: ReducePlan,
    readonly outputOffset: number,
    private readonly owned: readonly GPUBuffer[],
  ) {}

  get segmentCount(): number {
    return this.plan.segmentCount;
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
  }
}

export class SegmentReduceKernel {
  constructor(
    private readonly ctx: GpuContext,
    readonly options: ReduceShaderOptions,
    private readonly partials: PreparedKernel<PartialsUniforms>,
    /** Pass 1 reading quads: bound where every segment starts on a multiple of 4 (vec4Readable). */
    private readonly vectorPartials: PreparedKernel<PartialsUniforms>,
    private readonly combine: PreparedKernel<CombineUniforms>,
    private readonly maxPerDimension: number,
  ) {}

  get chunkSize(): number {
    return chunkElements(this.options);
  }

  /** The accuracy bound's depth for a segment of `length` elements (see reduceSumDepth). */
  sumDepth(length: number): number {
    return reduceSumDepth(this.options, ceilDiv(length, this.chunkSize));
  }

  /**
   * Whether pass 1 can read these segments as vec4: each non-empty one starts
   * on a multiple of 4 elements (so does every chunk: the chunk size is a
   * multiple of 4) and its last quad lies inside the binding, at a 16-byte
   * aligned offset.
   */
  vec4Readable(segments: readonly Segment[], data: BufferBinding): boolean {
    const quadsInBinding = Math.floor(bindingBytes(data) / 16);
    const offset = 'buffer' in data ? (data.offset ?? 0) : 0;
    return offset % 16 === 0 && segments.every((s) => s.length === 0 || (s.offset % 4 === 0 && Math.ceil((s.offset + s.length) / 4) <= quadsInBinding));
  }

  /**
   * Uploads the tables of `segments`, allocates the partials and records both
   * passes over `buffers`, writing segment i's record at `outputOffset + i`.
   */
  bind(segments: readonly Segment[], buffers: SegmentReduceBuffers, options: { outputOffset?: number } = {}): SegmentReduction {
    const outputOffset = options.outputOffset ?? 0;
    const dataElements = Math.floor(bindingBytes(buffers.data) / 4);
    const plan = planSegmentChunks(segments, this.chunkSize, dataElements);
    if (!Number.isInteger(outputOffset) || outputOffset < 0) {
      throw new Error(`segment reduce: outputOffset ${outputOffset} must be an integer ≥ 0`);
    }
    const statsRecords = Math.floor(bindingBytes(buffers.stats) / SEGMENT_STATS_BYTES);
    if (outputOffset + plan.segmentCount > statsRecords) {
      throw new Error(
        `segment reduce: records ${outputOffset}..${outputOffset + plan.segmentCount - 1} do not fit the stats buffer ` +
          `(${statsRecords} records of ${SEGMENT_STATS_BYTES} bytes)`,
      );
    }
    const chunkTable = this.ctx.upload('reduce.chunks', plan.chunks);
    const segmentTable = this.ctx.upload('reduce.segments', plan.segments);
    const partials = this.ctx.createStorage('reduce.partials', Math.max(1, plan.chunkCount) * 16);
    const pass1 = (this.vec4Readable(segments, buffers.data) ? this.vectorPartials : this.partials).bind(
      { chunk_count: plan.chunkCount },
      { data: buffers.data, chunks: chunkTable, partials },
      linearGrid(Math.max(1, plan.chunkCount), 1, this.maxPerDimension),
    );
    const pass2 = this.combine.bind(
      { segment_count: plan.segmentCount, output_offset: outputOffset },
      { partials, segments: segmentTable, stats: buffers.stats },
      linearGrid(plan.segmentCount, 1, this.maxPerDimension),
    );
    return new SegmentReduction([pass1, pass2], plan, outputOffset, [chunkTable, segmentTable, partials]);
  }
}

export async function prepareSegmentReduce(ctx: GpuContext, options: SegmentReduceOptions = {}): Promise<SegmentReduceKernel> {
  const o = reduceShaderOptions(options.variant ?? defaultReduceVariant(ctx.summary));
  const adapterMax = ctx.limits.maxComputeWorkgroupsPerDimension;
  const maxPerDimension = Math.min(adapterMax, options.maxWorkgroupsPerDimension ?? adapterMax);
  const [partials, vectorPartials, combine] = await Promise.all([
    ctx.prepare(segmentPartialsSpec(o)),
    ctx.prepare(segmentPartialsSpec({ ...o, vector: true })),
    ctx.prepare(segmentCombineSpec(o)),
  ]);
  return new SegmentReduceKernel(ctx, o, partials, vectorPartials, combine, maxPerDimension);
}

// ---------------------------------------------------------------------------
// float64 reference

/**
 * Per segment, over the finite values: Σx² in float64 with Neumaier's
 * compensation (no f32 value can overflow it: (3.4e38)² ≈ 1.2e77), max|x|,
 * and the count of ±Inf and NaN.
 */
export function segmentStatsReference(data: ArrayLike<number>, segments: readonly Segment[]): SegmentStats[] {
  return segments.map(({ offset, length }) => {
    let sum = 0;
    let compensation = 0;
    let maxAbs = 0;
    let nonfinite = 0;
    for (let i = offset; i < offset + length; i++) {
      const x = data[i];
      if (!Number.isFinite(x)) {
        nonfinite++;
        continue;
      }
      const sq = x * x;
      const t = sum + sq;
      compensation += Math.abs(sum) >= sq ? sum - t + sq : sq - t + sum;
      sum = t;
      maxAbs = Math.max(maxAbs, Math.abs(x));
    }
    const sumSquares = sum + compensation;
    const norm = Math.sqrt(sumSquares);
    return { norm, sumSquares, log10Norm: Math.log10(norm), maxAbs, nonfinite };
  });
}
