/** The e2e tests serve the built demo with the same static server the CLI's Chrome runtime uses. */
export { serveStatic, type StaticServer } from '../../src/runtime/static-server.ts';
