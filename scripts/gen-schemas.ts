/**
 * Writes schemas/<kind>.schema.json (JSON Schema, draft 2020-12) from the zod
 * schemas in src/report/schema.ts: `npx tsx scripts/gen-schemas.ts`.
 * tests/unit/schema.test.ts fails when the committed files differ from what
 * this script writes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPORT_SCHEMAS, reportJsonSchema } from '../src/report/schema.ts';

export const SCHEMAS_DIR = join(import.meta.dirname, '..', 'schemas');

/** The file name and text of every schema file, as committed. */
export function schemaFiles(): { file: string; text: string }[] {
  return (Object.keys(REPORT_SCHEMAS) as (keyof typeof REPORT_SCHEMAS)[]).map((kind) => ({
    file: REPORT_SCHEMAS[kind].file,
    text: JSON.stringify(reportJsonSchema(kind), null, 2) + '\n',
  }));
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  mkdirSync(SCHEMAS_DIR, { recursive: true });
  for (const { file, text } of schemaFiles()) {
    writeFileSync(join(SCHEMAS_DIR, file), text);
    process.stdout.write(`schemas/${file}\n`);
  }
}
