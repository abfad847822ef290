import { accessSync, constants, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * Writes JSON to a temporary file beside `path`, then renames it into place:
 * a reader never sees a half-written report, and a failure leaves any old
 * file untouched.
 */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeTextAtomic(path, JSON.stringify(value, null, 2) + '\n');
}

/** Text written the same way: temporary file beside `path`, then rename. */
export function writeTextAtomic(path: string, text: string): void {
  const target = resolve(path);
  mkdirSync(dirname(target), { recursive: true });
  const temporary = `${target}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, text);
    renameSync(temporary, target);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}

/** A fixed-width text table. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** An output file cannot be written: said before any GPU work starts. */
export class OutputPathError extends Error {
  override name = 'OutputPathError';
}

/**
 * Checks, before a long run, that each output file can be created: its
 * folder exists (or can be made) and is writable.
 */
export function checkOutputPaths(paths: readonly (string | undefined)[]): void {
  for (const path of paths) {
    if (path === undefined) continue;
    let dir = dirname(resolve(path));
    while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
    try {
      accessSync(dir, constants.W_OK);
    } catch {
      throw new OutputPathError(`cannot write ${path}: ${dir} is not writable; choose another path`);
    }
  }
}
