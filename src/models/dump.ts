import type { MlpConfig } from './config.ts';
import type { MlpPlan } from './mlp.ts';
import { LAYERNORM_EPS } from '../kernels/layernorm.ts';

/**
 * The dump (schema gradstorm.dump/1): the initial parameters, the input, the
 * target and every gradient of the first step, so that another framework can
 * check the numbers (tests/gpu/mlp.test.ts does, with TF.js's autodiff).
 */
export interface DumpTensor {
  name: string;
  shape: number[];
  data: number[];
}

export interface MlpDump {
  schema: 'gradstorm.dump/1';
  config: MlpConfig;
  loss: number;
  input: { shape: number[]; data: number[] };
  /** mse: the teacher's outputs; probe: the cotangent g (∂L/∂y = g). */
  target: { shape: number[]; data: number[] } | null;
  params: DumpTensor[];
  grads: DumpTensor[];
  /** With LayerNorm (`--norm layer`): the ε under its square root, so another framework can rebuild it exactly. */
  layerNormEps?: number;
}

/** Dumps hold every number as JSON text: keep them to small models. */
export const DUMP_MAX_PARAMS = 2_000_000;

/**
 * Splits a parameter-layout arena into named tensors W1, b1, …, WL, bL, then
 * (`--norm layer`) ln{l}.gamma, ln{l}.beta [width] of each block l.
 */
export function arenaTensors(plan: MlpPlan, arena: Float32Array): DumpTensor[] {
  const width = plan.layers[0].fanOut;
  const norms = plan.norms.flatMap((norm) => [
    { name: `ln${norm.index}.gamma`, shape: [width], data: Array.from(arena.subarray(norm.gammaOffset, norm.gammaOffset + width)) },
    { name: `ln${norm.index}.beta`, shape: [width], data: Array.from(arena.subarray(norm.betaOffset, norm.betaOffset + width)) },
  ]);
  return plan.layers.flatMap((layer) => [
    {
      name: `W${layer.index}`,
      shape: [layer.fanOut, layer.fanIn],
      data: Array.from(arena.subarray(layer.weightOffset, layer.weightOffset + layer.fanIn * layer.fanOut)),
    },
    { name: `b${layer.index}`, shape: [layer.fanOut], data: Array.from(arena.subarray(layer.biasOffset, layer.biasOffset + layer.fanOut)) },
  ]).concat(norms);
}

export function buildMlpDump(
  config: MlpConfig,
  plan: MlpPlan,
  first: { loss: number; params: Float32Array; grads: Float32Array; input: Float32Array; target: Float32Array },
): MlpDump {
  return {
    schema: 'gradstorm.dump/1',
    config,
    loss: first.loss,
    input: { shape: [config.batch, config.input], data: Array.from(first.input) },
    target: { shape: [config.batch, config.output], data: Array.from(first.target) },
    params: arenaTensors(plan, first.params),
    grads: arenaTensors(plan, first.grads),
    ...(plan.normPlace ? { layerNormEps: LAYERNORM_EPS } : {}),
  };
}
