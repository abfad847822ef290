/**
 * The demo page (Vite). `npm run demo` (= `vite demo`) serves it with this
 * config, since Vite looks for its config in the root it is given; the e2e
 * tests build it with `build({ configFile: 'demo/vite.config.ts' })` into
 * demo/dist and serve that on 127.0.0.1. Two pages, one engine bundle:
 * index.html (the demo) and runtime.html (the page `gradstorm … --runtime
 * chrome` and gradstorm/puppeteer drive); both import the engine through
 * engine.ts, so Rollup emits it once, as a chunk they share.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const demoRoot = fileURLToPath(new URL('.', import.meta.url));
const repoRoot = fileURLToPath(new URL('..', import.meta.url));

export default defineConfig({
  root: demoRoot,
  // Relative asset URLs: the built page works from any path (a static host, a subfolder, the e2e server).
  base: './',
  // No public/ folder: the page has no static assets beside the bundle.
  publicDir: false,
  // The engine lives in ../src and ../shaders.
  server: { fs: { allow: [repoRoot] } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 1024,
    rollupOptions: {
      input: { index: fileURLToPath(new URL('index.html', import.meta.url)), runtime: fileURLToPath(new URL('runtime.html', import.meta.url)) },
      // The engine (src, shaders, bench, through demo/engine.ts) as one chunk both pages load, under its own name.
      output: { codeSplitting: { groups: [{ name: 'engine', test: /[\\/](src|shaders|bench)[\\/]|[\\/]demo[\\/]engine\.ts$/ }] } },
    },
  },
  logLevel: 'warn',
});
