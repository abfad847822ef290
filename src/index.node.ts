/**
 * `gradstorm` as Node resolves it (the `node` export condition): the same
 * API as src/index.ts, with Dawn registered as the adapter acquireGpu() uses.
 * Browsers and bundlers get src/index.ts, which never reaches Dawn.
 */
import './node.ts';

export * from './index.ts';
