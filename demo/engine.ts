/**
 * The one place the page imports the engine from: the library's public API
 * (src/index.ts), plus the few config helpers it does not re-export.
 */
export * from '../src/index.ts';
export { formatClip, INITS, LOSSES, OPTIMIZERS, type InitScheme, type LossKind, type OptimizerKind } from '../src/models/config.ts';
export type { ConformanceFamily } from '../src/conformance/index.ts';
