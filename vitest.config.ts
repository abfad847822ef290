import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // Dawn is a native addon: one process per test file, never worker threads.
    pool: 'forks',
    // Two files at a time on these 2-core machines (vitest's default is cores − 1 = one): many files mostly wait
    // (npm install in the consumer test, Chrome, Slurm), so a CPU-bound file runs beside them. The whole suite:
    // ~430 s instead of ~520 s under load. Every file keeps its own temporary folders, caches and ports.
    maxWorkers: 2,
    // SwiftShader runs WGSL on the CPU: compiling a pipeline takes up to seconds.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
