import { parseArgs } from 'node:util';

/** Bad command-line input: the message says which flag and what to change. Exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const COMMON_OPTIONS = { adapter: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;
type OptionSpec = Record<string, { type: 'string' } | { type: 'boolean'; short?: string }>;

/** What parse() returns, spelled out so that the declaration emit (npm run build) can name it. */
type ParsedFlags<O extends OptionSpec> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O & typeof COMMON_OPTIONS; strict: true; allowPositionals: false }>
>;

export function parse<const O extends OptionSpec>(args: string[], options: O): ParsedFlags<O> {
  try {
    return parseArgs({ args, options: { ...options, ...COMMON_OPTIONS }, strict: true, allowPositionals: false });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}. Run 'gradstorm --help' for the flags.`);
  }
}

export function listFlag<T extends string>(name: string, value: string | undefined, allowed: readonly T[], fallback: readonly T[]): T[] {
  if (value === undefined) return [...fallback];
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = items.filter((i) => !allowed.includes(i as T));
  if (items.length === 0 || unknown.length > 0) {
    throw new UsageError(`--${name}: unknown value${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `'${u}'`).join(', ') || "''"}; choose from ${allowed.join(', ')}`);
  }
  return items as T[];
}

export function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[], fallback: T): T {
  const items = listFlag(name, value, allowed, [fallback]);
  if (items.length !== 1) throw new UsageError(`--${name}: give one of ${allowed.join(', ')}`);
  return items[0];
}

export function intFlag(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name}: '${value}' is not an integer in [${min}, ${max}]`);
  }
  return n;
}

export function intListFlag(name: string, value: string | undefined, fallback: number[], min: number, max: number): number[] {
  if (value === undefined) return fallback;
  return value.split(',').map((s) => intFlag(name, s.trim(), min, max));
}

export function numberFlag(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`--${name}: '${value}' is not a number in [${min}, ${max}]`);
  }
  return n;
}

/**
 * A list of numbers: `0.8,1,1.2` or a range `start:stop:step` (stop included
 * when the steps land on it), e.g. `0.8:2.0:0.1`.
 */
export function numberListFlag(name: string, value: string, min: number, max: number): number[] {
  const range = /^([^:]+):([^:]+):([^:]+)$/.exec(value);
  if (range) {
    const [start, stop, step] = range.slice(1).map((v) => numberFlag(name, v, -1e9, 1e9));
    if (!(step > 0) || stop < start) throw new UsageError(`--${name} ${value}: a range is start:stop:step with step > 0 and stop ≥ start`);
    const count = Math.floor((stop - start) / step + 1e-9) + 1;
    if (count > 10_000) throw new UsageError(`--${name} ${value}: ${count} values; at most 10000`);
    return Array.from({ length: count }, (_, i) => Number((start + i * step).toPrecision(12))).map((v) => numberFlag(name, String(v), min, max));
  }
  return value.split(',').map((s) => numberFlag(name, s.trim(), min, max));
}
