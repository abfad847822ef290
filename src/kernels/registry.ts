import type { KernelSpec } from './spec.ts';
import { MATMUL_LAYOUTS, MATMUL_TILINGS, matmulShaderOptions, matmulSpec } from './matmul.ts';
import { ACTIVATIONS, elementwiseSpec } from './elementwise.ts';
import { reduceSpecs } from './reduce.ts';
import { initSpecs } from './init.ts';
import { lossSpecs } from './loss.ts';
import { optimSpecs } from './optim.ts';
import { rnnSpecs } from './rnn.ts';
import { lstmSpecs } from './lstm.ts';
import { residualSpecs } from './residual.ts';
import { layerNormSpecs } from './layernorm.ts';

/**
 * Every kernel variant the engine can build, by spec. The CPU-only test
 * parses each one's WGSL and checks it against its spec; `gradstorm check
 * --list` prints them.
 */
export function allKernelSpecs(): KernelSpec[] {
  const specs: KernelSpec[] = [];
  for (const tiling of MATMUL_TILINGS) {
    for (const layout of MATMUL_LAYOUTS) {
      for (const activation of ACTIVATIONS) {
        specs.push(matmulSpec(matmulShaderOptions({ layout, activation }, tiling)));
        specs.push(matmulSpec(matmulShaderOptions({ layout, activation, bias: true }, tiling)));
        specs.push(matmulSpec(matmulShaderOptions({ layout, gradMask: activation }, tiling)));
      }
    }
  }
  for (const activation of ACTIVATIONS) {
    for (const direction of ['forward', 'backward'] as const) {
      for (const vector of [false, true]) specs.push(elementwiseSpec({ activation, direction, vector }));
    }
  }
  specs.push(...reduceSpecs(), ...initSpecs(), ...lossSpecs(), ...optimSpecs(), ...rnnSpecs(), ...lstmSpecs(), ...residualSpecs(ACTIVATIONS), ...layerNormSpecs());
  return specs as unknown as KernelSpec[];
}
