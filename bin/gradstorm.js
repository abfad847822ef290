#!/usr/bin/env node
// The `gradstorm` command: the compiled engine in dist/ (npm run build), so
// running it needs no TypeScript tooling. Plain JavaScript on purpose.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(cli)) {
  const gitCheckout = existsSync(new URL('../.git', import.meta.url));
  process.stderr.write(
    gitCheckout
      ? "gradstorm: the compiled engine (dist/) is missing in this checkout; build it with 'npm run build' (npm install, npm test and npm start build it too)\n"
      : 'gradstorm: this installed package lacks its compiled engine (dist/src/cli/main.js); reinstall gradstorm\n',
  );
  process.exit(1);
}
const { main } = await import(cli.href);
process.exitCode = await main(process.argv.slice(2));
