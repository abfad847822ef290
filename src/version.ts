/** The engine's version: reports carry it, and tuning tables are keyed by it (kernels change between versions). */
export const ENGINE_VERSION = '0.2.0';
