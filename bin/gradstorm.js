#!/usr/bin/env node
// The engine is TypeScript; tsx compiles it on the fly so the CLI, the tests
// and the demo all run the same sources, with no build step to go stale.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
