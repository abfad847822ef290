import { layerNormPlace, type MlpConfig, type NormPlace } from './config.ts';
import { formatBytes } from '../gpu/errors.ts';
import type { MatmulDims, MatmulLayout } from '../kernels/matmul.ts';

/**
 * The static plan of a deep MLP (DESIGN.md conventions): layers 1..L−1 are
 * h_l = φ(h_{l−1} W_lᵀ + b_l), layer L is the linear readout y = h_{L−1} W_Lᵀ + b_L.
 * W_l is [out, in] row-major; rows of h are batch items.
 *
 * Parameters live in one arena (and so do their gradients and optimizer
 * state, with the same layout): W_1, b_1, …, W_L, b_L, each starting on a
 * 64-float (256-byte) boundary so it can be bound on its own.
 */
export const TENSOR_ALIGN_FLOATS = 64;

export interface LayerPlan {
  /** 1..L */
  index: number;
  fanIn: number;
  fanOut: number;
  /** Hidden layers apply the activation; the readout (index L) is linear. */
  readout: boolean;
  /** A residual block (config.residual > 0, 2 ≤ index ≤ L−1): h_l = h_{l−1} + A·(φ(h_{l−1}) W_lᵀ + b_l). */
  block: boolean;
  /** Element offsets of W_l [fanOut, fanIn] and b_l [fanOut] in the parameter arena. */
  weightOffset: number;
  biasOffset: number;
}

/** The layout of an MLP's parameters and activations (see {@link planMlp}). */
export interface MlpPlan {
  layers: LayerPlan[];
  /** Elements of the parameter arena (with alignment padding). */
  paramElements: number;
  /** Parameters proper (no padding). */
  paramCount: number;
  /** Elements of each of the two activation arenas (layer parity), and of each delta arena. */
  activationArenaElements: [number, number];
  /** Element offset of h_l (l = 1..L) inside arena l % 2; the same offsets serve the delta arenas. */
  activationOffsets: number[];
  /** The residual scale A (0: a plain MLP). */
  residual: number;
  /** Residual nets: element offset of block l's matmul input u_l = φ(h_{l−1}) in the branch arena (kept for dW_l and φ'). */
  branchOffsets: number[];
  /** Elements of the branch arena (0 without blocks). */
  branchArenaElements: number;
  /** Elements of each of the three B×width carry buffers of the backward skip path (∂L/∂h ping-pong and δW); 0 without blocks. */
  carryElements: number;
  /** `--norm layer`: where each block's LayerNorm sits (null: none). */
  normPlace: NormPlace | null;
  /**
   * `--norm layer`: element offsets of block l's γ_l and β_l [width] (pre-norm:
   * also l = L, the final LayerNorm the readout reads through) in the
   * parameter arena (after W_L, b_L), of its per-row (μ, 1/σ) pairs in the
   * norm-stats arena, and (post) of its sum s_l = h_{l−1} + A·z_l in the
   * norm-input arena. Empty without LayerNorm.
   */
  norms: { index: number; gammaOffset: number; betaOffset: number; statsOffset: number; sumOffset: number }[];
  /** Elements of the norm-stats arena (2 per batch row per block) and of the post-norm sums arena (0 for pre-norm or none). */
  normStatsElements: number;
  normSumElements: number;
}

export function alignFloats(n: number): number {
  return Math.ceil(n / TENSOR_ALIGN_FLOATS) * TENSOR_ALIGN_FLOATS;
}

/** Where each layer's weights, biases, activations and gradients live in the trainer's arenas (offsets in floats, aligned). */
export function planMlp(config: Pick<MlpConfig, 'depth' | 'width' | 'input' | 'output' | 'batch' | 'residual' | 'norm' | 'normPlace'>): MlpPlan {
  const { depth, width, input, output, batch } = config;
  const residual = config.residual ?? 0;
  const layers: LayerPlan[] = [];
  let offset = 0;
  let paramCount = 0;
  for (let l = 1; l <= depth; l++) {
    const fanIn = l === 1 ? input : width;
    const fanOut = l === depth ? output : width;
    const weightOffset = offset;
    offset += alignFloats(fanIn * fanOut);
    const biasOffset = offset;
    offset += alignFloats(fanOut);
    paramCount += fanIn * fanOut + fanOut;
    layers.push({ index: l, fanIn, fanOut, readout: l === depth, block: residual > 0 && l >= 2 && l <= depth - 1, weightOffset, biasOffset });
  }
  const normPlace = layerNormPlace(config);
  const norms: MlpPlan['norms'] = [];
  let normStatsElements = 0;
  let normSumElements = 0;
  if (normPlace) {
    // Every block, and pre-norm's final LayerNorm before the readout (index L).
    for (const layer of layers) {
      if (!layer.block && !(layer.readout && normPlace === 'pre')) continue;
      const gammaOffset = offset;
      offset += alignFloats(width);
      const betaOffset = offset;
      offset += alignFloats(width);
      paramCount += 2 * width;
      norms.push({ index: layer.index, gammaOffset, betaOffset, statsOffset: normStatsElements, sumOffset: normSumElements });
      normStatsElements += alignFloats(2 * batch);
      if (normPlace === 'post') normSumElements += alignFloats(batch * width);
      if (layer.readout) break;
    }
  }
  const branchOffsets: number[] = [];
  let branchArenaElements = 0;
  for (const layer of layers) {
    if (!layer.block) continue;
    branchOffsets[layer.index] = branchArenaElements;
    branchArenaElements += alignFloats(batch * width);
  }
  const carryElements = branchArenaElements > 0 ? alignFloats(batch * width) : 0;
  const arenas: [number, number] = [0, 0];
  const activationOffsets: number[] = [0];
  for (const layer of layers) {
    const parity = layer.index % 2;
    activationOffsets[layer.index] = arenas[parity];
    arenas[parity] += alignFloats(batch * layer.fanOut);
  }
  return {
    layers, paramElements: offset, paramCount, activationArenaElements: arenas, activationOffsets, residual, branchOffsets, branchArenaElements, carryElements,
    normPlace, norms, normStatsElements, normSumElements,
  };
}

/** One matmul of a training step: its layout and every size it runs at. */
export interface MatmulUse {
  layout: MatmulLayout;
  shapes: MatmulDims[];
}

/**
 * The matmuls of one MLP training step, by role: what the trainer compiles
 * (each size gets the tuned kernel for its shape class) and what the
 * autotuner measures for this model.
 */
export function mlpMatmulUses(plan: MlpPlan, batch: number) {
  const B = batch;
  const hidden = plan.layers.filter((l) => !l.readout);
  const readout = plan.layers.filter((l) => l.readout);
  return {
    forwardHidden: { layout: 'nt', shapes: hidden.map((l) => ({ m: B, n: l.fanOut, k: l.fanIn })) },
    forwardReadout: { layout: 'nt', shapes: readout.map((l) => ({ m: B, n: l.fanOut, k: l.fanIn })) },
    // dW_l = dZ_lᵀ H_{l−1}: the skinny one, K = batch.
    weightGrad: { layout: 'tn', shapes: plan.layers.map((l) => ({ m: l.fanOut, n: l.fanIn, k: B })) },
    biasGrad: { layout: 'nn', shapes: plan.layers.map((l) => ({ m: 1, n: l.fanOut, k: B })) },
    // dH_{l−1} = dZ_l W_l, for l ≥ 2.
    inputGrad: { layout: 'nn', shapes: plan.layers.slice(1).map((l) => ({ m: B, n: l.fanIn, k: l.fanOut })) },
  } satisfies Record<string, MatmulUse>;
}

/** The GPU memory a model needs, checked against the adapter's limits before anything is allocated. */
export interface MemoryPlan {
  /** Bytes by purpose. */
  parts: { name: string; bytes: number }[];
  totalBytes: number;
  /** The largest single buffer (each must fit maxStorageBufferBindingSize). */
  largestBuffer: { name: string; bytes: number };
}

/** Bytes the engine allocates for a config, before allocating anything. */
export function memoryPlan(config: MlpConfig, plan: MlpPlan = planMlp(config)): MemoryPlan {
  const p = plan.paramElements * 4;
  const optimizerCopies = config.optimizer === 'adam' ? 2 : config.optimizer === 'momentum' ? 1 : 0;
  const [even, odd] = plan.activationArenaElements.map((e) => e * 4);
  const buffers = [
    { name: 'parameters', bytes: p },
    { name: 'gradients', bytes: p },
    ...Array.from({ length: optimizerCopies }, (_, i) => ({ name: `optimizer state ${i + 1}`, bytes: p })),
    { name: 'activations (even layers)', bytes: even },
    { name: 'activations (odd layers)', bytes: odd },
    { name: 'deltas (even layers)', bytes: even },
    { name: 'deltas (odd layers)', bytes: odd },
    { name: 'input', bytes: config.batch * config.input * 4 },
    { name: 'target', bytes: config.batch * config.output * 4 },
    ...(plan.branchArenaElements > 0 ? [{ name: 'residual branches', bytes: plan.branchArenaElements * 4 }] : []),
    ...(plan.normSumElements > 0 ? [{ name: 'post-norm sums', bytes: plan.normSumElements * 4 }] : []),
    // mse: the teacher network (input → width tanh → output) lives only while it makes the targets.
    ...(config.loss === 'mse'
      ? [
          { name: 'teacher weights', bytes: config.width * Math.max(config.input, config.output) * 4 },
          { name: 'teacher hidden layer', bytes: config.batch * config.width * 4 },
        ]
      : []),
  ];
  const parts = [
    { name: 'weights + biases', bytes: p },
    { name: 'gradients', bytes: p },
    { name: 'optimizer state', bytes: optimizerCopies * p },
    { name: 'saved activations', bytes: even + odd },
    { name: 'deltas', bytes: even + odd },
    { name: 'input + target', bytes: config.batch * (config.input + config.output) * 4 },
    { name: 'residual branches and skip path', bytes: (plan.branchArenaElements + 3 * plan.carryElements) * 4 },
    // LayerNorm: per-row (μ, 1/σ) of each block, post-norm sums, and one more B×width scratch for LNᵀ.
    { name: 'layer norm', bytes: (plan.normStatsElements + plan.normSumElements + (plan.normPlace ? plan.carryElements : 0)) * 4 },
  ];
  const largestBuffer = buffers.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  return { parts, totalBytes: parts.reduce((s, x) => s + x.bytes, 0), largestBuffer };
}

/** A memory plan as one line: bytes per purpose and the total. */
export function describeMemory(m: MemoryPlan): string {
  return m.parts.filter((x) => x.bytes > 0).map((x) => `${x.name} ${formatBytes(x.bytes)}`).join(', ') + ` — total ${formatBytes(m.totalBytes)}`;
}

/** Std of the gaussian init of a layer (orthogonal uses `gain` directly). */
export function initStd(config: Pick<MlpConfig, 'init' | 'gain'>, fanIn: number, fanOut: number): number {
  switch (config.init) {
    case 'gaussian':
      return config.gain / Math.sqrt(fanIn);
    case 'he':
      return Math.SQRT2 / Math.sqrt(fanIn);
    case 'xavier':
      return config.gain * Math.sqrt(2 / (fanIn + fanOut));
    case 'orthogonal':
      return NaN;
  }
}
