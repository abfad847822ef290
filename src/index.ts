/**
 * gradstorm's library API: the same engine the CLI, the tests and the demo use.
 */
export { acquireGpu, type AcquireOptions } from './gpu/acquire.ts';
export { GpuContext, PreparedKernel, encodeDispatches, type AdapterSummary, type BufferBinding, type Dispatch } from './gpu/context.ts';
export { DeviceLostError, GpuKernelError, GpuLimitError, GpuUnavailableError } from './gpu/errors.ts';
export { StagingRing } from './gpu/staging.ts';
export { timeDispatches, type Timing } from './gpu/timer.ts';
export {
  MATMUL_LAYOUTS,
  MATMUL_VARIANTS,
  MatmulKernel,
  defaultMatmulVariant,
  matmulReference,
  prepareMatmul,
  type MatmulDims,
  type MatmulLayout,
  type MatmulOptions,
  type MatmulVariant,
} from './kernels/matmul.ts';
export { ACTIVATIONS, ElementwiseKernel, activationGradRef, activationRef, prepareElementwise, type Activation } from './kernels/elementwise.ts';
export { conformanceCases, runConformance, type ConformanceCase, type ConformanceResult } from './conformance/index.ts';
export * from './analysis/index.ts';
