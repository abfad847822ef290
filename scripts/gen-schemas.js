#!/usr/bin/env node
// `npm run gen-schemas`: writes schemas/<kind>.schema.json (JSON Schema, draft
// 2020-12) from the zod schemas in src/report/schema.ts, through the compiled
// engine in dist/ (the script compiles it first). tests/unit/schema.test.ts
// fails when the committed files differ from what this writes. Plain
// JavaScript on purpose: no TypeScript runner is a dependency.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { schemaFiles } from '../dist/src/report/schema-files.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'schemas');
mkdirSync(dir, { recursive: true });
for (const { file, text } of schemaFiles()) {
  writeFileSync(join(dir, file), text);
  process.stdout.write(`schemas/${file}\n`);
}
