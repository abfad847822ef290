#!/usr/bin/env node
// The engine is TypeScript; tsx compiles it on the fly so the CLI, the tests
// and the demo all run the same sources, with no build step to go stale.
let register;
try {
  ({ register } = await import('tsx/esm/api'));
} catch {
  process.stderr.write("gradstorm: its dependencies are not installed; run 'npm install' (or 'npm ci') in the gradstorm folder first\n");
  process.exit(1);
}
register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
