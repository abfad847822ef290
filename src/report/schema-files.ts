/**
 * The text of every committed JSON Schema file (schemas/<kind>.schema.json),
 * generated from the zod schemas: `npm run gen-schemas` writes them and
 * tests/unit/schema.test.ts checks the committed files are current.
 */
import { REPORT_SCHEMAS, reportJsonSchema } from './schema.ts';

/** The file name and text of every schema file, as committed. */
export function schemaFiles(): { file: string; text: string }[] {
  return (Object.keys(REPORT_SCHEMAS) as (keyof typeof REPORT_SCHEMAS)[]).map((kind) => ({
    file: REPORT_SCHEMAS[kind].file,
    text: JSON.stringify(reportJsonSchema(kind), null, 2) + '\n',
  }));
}
