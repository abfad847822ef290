#!/usr/bin/env node
// `npm run build`: every `build:<step>` script of package.json, in the order
// they are written there (build:lib first: the engine as ESM JavaScript,
// .d.ts files and source maps in dist/). A new build step is one
// `"build:<step>": "..."` line in package.json; this file need not change.
// Plain JavaScript on purpose: it runs before anything is compiled.
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { scripts } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const steps = Object.keys(scripts).filter((name) => name.startsWith('build:'));
for (const step of steps) {
  try {
    execSync(`npm run --silent ${step}`, { stdio: 'inherit', cwd: root });
  } catch {
    process.stderr.write(`[build] ${step} failed (see above)\n`);
    process.exit(1);
  }
}
