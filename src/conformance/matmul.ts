import { ACTIVATIONS, type Activation } from '../kernels/elementwise.ts';
import { MATMUL_LAYOUTS, MATMUL_TILINGS, MATMUL_VARIANTS, matmulReference, matmulTilingAvailable, matmulTilingName, parseMatmulVariant, prepareMatmul, type MatmulDeviceFeatures, type MatmulDims, type MatmulLayout, type MatmulOptions, type MatmulVariant } from '../kernels/matmul.ts';
import type { GpuContext } from '../gpu/context.ts';
import type { ConformanceCase } from './case.ts';
import { compareClose, describeReport } from './compare.ts';
import { uniformData } from './data.ts';

const UNIT_ROUNDOFF = 2 ** -24;

/**
 * Accuracy contract of a K-term dot product in f32 (Higham's γ_K bound, plus
 * two roundings for the fused bias and activation): the error scale grows
 * with K, applied to Σ|a_k b_k| so that cancellation cannot make it vanish.
 */
export function matmulTolerance(k: number): { atol: number; rtol: number } {
  return { atol: 1e-6, rtol: (k + 2) * UNIT_ROUNDOFF };
}

interface Epilogue {
  name: string;
  options: Pick<MatmulOptions, 'bias' | 'activation' | 'gradMask'>;
}

export const MATMUL_EPILOGUES: readonly Epilogue[] = [
  { name: 'plain', options: {} },
  ...ACTIVATIONS.map((activation: Activation) => ({ name: `bias+${activation}`, options: { bias: true, activation } })),
  { name: 'relu (no bias)', options: { activation: 'relu' as Activation } },
  { name: 'mask:relu', options: { gradMask: 'relu' as Activation } },
  { name: 'mask:tanh', options: { gradMask: 'tanh' as Activation } },
];

function epilogueNamed(name: string): Epilogue {
  const found = MATMUL_EPILOGUES.find((e) => e.name === name);
  if (!found) throw new Error(`no matmul epilogue named ${name}`);
  return found;
}

function shapeName(d: MatmulDims): string {
  return `${d.m}×${d.n}×${d.k}`;
}

export function matmulCase(layout: MatmulLayout, variant: MatmulVariant, dims: MatmulDims, epilogue: Epilogue): ConformanceCase {
  const tolerance = matmulTolerance(dims.k);
  return {
    family: 'matmul',
    kernel: `matmul ${layout} ${variant} ${epilogue.name}`,
    shape: shapeName(dims),
    contract: `|Δ| ≤ 1e-6 + (K+2)·2⁻²⁴·Σ|a||b|`,
    async run(ctx: GpuContext) {
      const { m, n, k } = dims;
      const seed = m * 7919 + n * 104729 + k * 15485863 + layout.charCodeAt(0);
      const a = uniformData(m * k, seed);
      const b = uniformData(k * n, seed + 1);
      const bias = uniformData(n, seed + 2);
      // The mask holds h = φ(z): relu outputs are ≥ 0 with exact zeros; tanh outputs in (−1, 1).
      const mask = uniformData(m * n, seed + 3).map((v) => (epilogue.options.gradMask === 'relu' ? Math.max(v, 0) : v * 0.99));
      const kernel = await prepareMatmul(ctx, { layout, variant, ...epilogue.options });
      const buffers = {
        a: ctx.upload('a', a),
        b: ctx.upload('b', b),
        c: ctx.createStorage('c', m * n * 4),
        ...(epilogue.options.bias ? { bias: ctx.upload('bias', bias) } : {}),
        ...(epilogue.options.gradMask ? { mask: ctx.upload('mask', mask) } : {}),
      };
      try {
        await ctx.run([kernel.bind(dims, buffers)]);
        const gpu = await ctx.readF32(buffers.c, m * n);
        const ref = matmulReference(layout, dims, a, b, {
          ...epilogue.options,
          bias: epilogue.options.bias ? bias : undefined,
          mask,
        });
        const report = compareClose(gpu, ref.c, tolerance, ref.magnitude);
        return { ok: report.ok, maxError: report.maxAbsError, detail: report.ok ? '' : describeReport(report) };
      } finally {
        for (const buffer of Object.values(buffers)) buffer.destroy();
      }
    },
  };
}

/** Awkward shapes (1, odd, not multiples of any tile) get every epilogue; the realistic 512 gets one. */
export const MATMUL_AWKWARD_SHAPES: readonly MatmulDims[] = [
  { m: 1, n: 1, k: 1 },
  { m: 7, n: 13, k: 5 },
  { m: 63, n: 63, k: 63 },
  { m: 65, n: 65, k: 65 },
  { m: 129, n: 65, k: 33 },
];
export const MATMUL_LARGE_SHAPES: readonly MatmulDims[] = [
  { m: 257, n: 257, k: 257 },
  { m: 512, n: 512, k: 512 },
];

/**
 * Shapes for the autotuner's other tilings: multiples of 4 that are not
 * multiples of any tile (what the vec4 kernels accept), one odd shape (where
 * a vec4 tiling falls back to scalar loads), and a realistic one.
 */
export const MATMUL_TILING_SHAPES: readonly MatmulDims[] = [
  { m: 4, n: 4, k: 4 },
  { m: 36, n: 20, k: 44 },
  { m: 9, n: 15, k: 7 },
  { m: 132, n: 68, k: 100 },
];

/**
 * Every tiling of the search space that is not a family default, on every
 * layout, with the layout's training epilogue. With `device`, only the
 * tilings it can run (matmulTilingAvailable: the subgroup family needs
 * subgroups); without, all of them.
 */
export function matmulTilingCases(device?: MatmulDeviceFeatures): ConformanceCase[] {
  const defaults = new Set(MATMUL_VARIANTS.map((family) => matmulTilingName(parseMatmulVariant(family))));
  const cases: ConformanceCase[] = [];
  for (const tiling of MATMUL_TILINGS) {
    const name = matmulTilingName(tiling);
    if (defaults.has(name) || (device && !matmulTilingAvailable(tiling, device))) continue;
    for (const layout of MATMUL_LAYOUTS) {
      const trainingEpilogue = epilogueNamed(layout === 'nt' ? 'bias+relu' : layout === 'nn' ? 'mask:tanh' : 'plain');
      for (const dims of MATMUL_TILING_SHAPES) cases.push(matmulCase(layout, name, dims, dims.m === 36 ? trainingEpilogue : epilogueNamed('plain')));
    }
  }
  return cases;
}

/** The tilings' cases, then each of `variants` (default: the families) on awkward and realistic shapes; with `device`, only what it can run. */
export function matmulCases(variants: readonly MatmulVariant[] = MATMUL_VARIANTS, device?: MatmulDeviceFeatures): ConformanceCase[] {
  const cases: ConformanceCase[] = [...matmulTilingCases(device)];
  for (const variant of variants) {
    if (device && !matmulTilingAvailable(parseMatmulVariant(variant), device)) continue;
    for (const layout of MATMUL_LAYOUTS) {
      for (const dims of MATMUL_AWKWARD_SHAPES) {
        // Every epilogue on the odd shapes; the 1×1×1 and 63³ shapes get the plain product only.
        const epilogues = dims.m === 1 || dims.m === 63 ? MATMUL_EPILOGUES.slice(0, 1) : MATMUL_EPILOGUES;
        for (const epilogue of epilogues) cases.push(matmulCase(layout, variant, dims, epilogue));
      }
      // Realistic sizes, with the epilogue each layout has in training.
      const trainingEpilogue = epilogueNamed(layout === 'nt' ? 'bias+relu' : layout === 'nn' ? 'mask:relu' : 'plain');
      for (const dims of MATMUL_LARGE_SHAPES) cases.push(matmulCase(layout, variant, dims, trainingEpilogue));
    }
  }
  return cases;
}
