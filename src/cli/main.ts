/**
 * The `gradstorm` command. Each subcommand validates its flags, says what is
 * wrong and what to change, and exits non-zero on failure; JSON is written
 * atomically.
 */
import { parseArgs } from 'node:util';
import { acquireGpu } from '../gpu/acquire.ts';
import type { GpuContext } from '../gpu/context.ts';
import { DeviceLostError, GpuKernelError, GpuLimitError, GpuUnavailableError } from '../gpu/errors.ts';
import { CONFORMANCE_FAMILIES, conformanceCases, runConformance, type ConformanceFamily } from '../conformance/index.ts';
import { MATMUL_VARIANTS, defaultMatmulVariant, type MatmulVariant } from '../kernels/matmul.ts';
import { benchMatmul } from '../../bench/matmul.ts';
import { formatTable, writeJsonAtomic } from './io.ts';

export class UsageError extends Error {
  override name = 'UsageError';
}

const VERSION = '0.1.0';

const HELP = `gradstorm ${VERSION} — WebGPU gradient stress tests

Usage: gradstorm <command> [flags]

Commands:
  check   Run the kernel conformance suite on this machine's adapter: every
          kernel against its float64 reference. Exits 1 on any failure.
            --family ${CONFORMANCE_FAMILIES.join(',')}   (default: all)
            --json FILE          write the results (schema gradstorm.check/1)
  bench   Time kernels on this adapter (median of --runs, GPU timestamps when
          the adapter has them).
            --kernels matmul     (default: matmul)
            --sizes 512,1024     square sizes (default: 512,1024)
            --variants ${MATMUL_VARIANTS.join(',')}  (default: both)
            --runs 5             timed runs per entry (≥ 1)
            --json FILE          write the results (schema gradstorm.bench/1)

Common flags:
  --adapter default|swiftshader  Node: use the default adapter (hardware if
                                 any, else SwiftShader) or force SwiftShader
  -h, --help                     this text

The stress, sweep and demo workflows of DESIGN.md arrive with the MLP and RNN
engines; they are not part of this version.
`;

const COMMON_OPTIONS = { adapter: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;
type OptionSpec = Record<string, { type: 'string' } | { type: 'boolean'; short?: string }>;

function parse<const O extends OptionSpec>(args: string[], options: O) {
  try {
    return parseArgs({ args, options: { ...options, ...COMMON_OPTIONS }, strict: true, allowPositionals: false });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}. Run 'gradstorm --help' for the flags.`);
  }
}

function listFlag<T extends string>(name: string, value: string | undefined, allowed: readonly T[], fallback: readonly T[]): T[] {
  if (value === undefined) return [...fallback];
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = items.filter((i) => !allowed.includes(i as T));
  if (items.length === 0 || unknown.length > 0) {
    throw new UsageError(`--${name}: unknown value${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `'${u}'`).join(', ') || "''"}; choose from ${allowed.join(', ')}`);
  }
  return items as T[];
}

function intListFlag(name: string, value: string | undefined, fallback: number[], min: number, max: number): number[] {
  if (value === undefined) return fallback;
  return value.split(',').map((s) => intFlag(name, s.trim(), min, max));
}

function intFlag(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name}: '${value}' is not an integer in [${min}, ${max}]`);
  }
  return n;
}

async function openGpu(adapterFlag: string | undefined): Promise<GpuContext> {
  const adapter = listFlag('adapter', adapterFlag, ['default', 'swiftshader'] as const, ['default'])[0];
  const ctx = await acquireGpu({ forceSwiftShader: adapter === 'swiftshader' });
  const s = ctx.summary;
  const emulated = s.software ? ' — emulated on the CPU: slow, and unlike a GPU' : '';
  process.stderr.write(`adapter: ${s.vendor} ${s.architecture} ${s.description} (${s.backend})${emulated}\n`);
  return ctx;
}

function adapterJson(ctx: GpuContext) {
  const { vendor, architecture, description, device, software, backend } = ctx.summary;
  return { vendor, architecture, description, device, software, backend };
}

async function commandCheck(args: string[]): Promise<number> {
  const { values } = parse(args, { family: { type: 'string' }, json: { type: 'string' } });
  if (values.help) return printHelp();
  const families = listFlag<ConformanceFamily>('family', values.family, CONFORMANCE_FAMILIES, CONFORMANCE_FAMILIES);
  const ctx = await openGpu(values.adapter);
  try {
    const cases = conformanceCases(families);
    const header = ['kernel', 'shape', 'max |Δ|', 'result', 'contract'];
    const widths = [34, 12, 10, 6];
    process.stdout.write(header.map((h, i) => h.padEnd(widths[i] ?? 0)).join('  ') + '\n');
    const results = await runConformance(ctx, cases, (r, i) => {
      const row = [r.kernel, r.shape, Number.isNaN(r.maxError) ? '—' : r.maxError.toExponential(2), r.ok ? 'pass' : 'FAIL', r.contract];
      process.stdout.write(row.map((c, j) => c.padEnd(widths[j] ?? 0)).join('  ') + '\n');
      if (!r.ok) process.stdout.write(`    ${r.detail}\n`);
      if (process.stderr.isTTY) process.stderr.write(`  [${i + 1}/${cases.length}]\r`);
    });
    const failed = results.filter((r) => !r.ok);
    process.stdout.write(`\n${results.length - failed.length} passed, ${failed.length} failed (${results.length} kernel cases on ${ctx.summary.description || ctx.summary.vendor})\n`);
    if (values.json) {
      writeJsonAtomic(values.json, { schema: 'gradstorm.check/1', version: VERSION, adapter: adapterJson(ctx), results });
    }
    return failed.length === 0 ? 0 : 1;
  } finally {
    ctx.destroy();
  }
}

async function commandBench(args: string[]): Promise<number> {
  const { values } = parse(args, {
    kernels: { type: 'string' },
    sizes: { type: 'string' },
    variants: { type: 'string' },
    runs: { type: 'string' },
    json: { type: 'string' },
  });
  if (values.help) return printHelp();
  listFlag('kernels', values.kernels, ['matmul'] as const, ['matmul']);
  const sizes = intListFlag('sizes', values.sizes, [512, 1024], 1, 16384);
  const variants = listFlag<MatmulVariant>('variants', values.variants, MATMUL_VARIANTS, MATMUL_VARIANTS);
  const runs = values.runs === undefined ? 5 : intFlag('runs', values.runs, 1, 1000);
  const ctx = await openGpu(values.adapter);
  try {
    process.stderr.write(`default matmul variant on this adapter: ${defaultMatmulVariant(ctx.summary)}\n`);
    const entries = await benchMatmul(ctx, {
      sizes,
      variants,
      runs,
      onEntry: (e) => process.stderr.write(`  ${e.kernel} ${e.shape} ${e.variant}: ${e.ms.toFixed(2)} ms\n`),
    });
    const rows = entries.map((e) => [
      e.kernel, e.shape, e.variant, e.ms.toFixed(2), `${e.minMs.toFixed(2)}–${e.maxMs.toFixed(2)}`, e.gflops.toFixed(2), e.maxError.toExponential(1), e.timing,
    ]);
    process.stdout.write(formatTable(['kernel', 'shape', 'variant', 'median ms', 'min–max ms', 'GFLOP/s', 'max |Δ|', 'timing'], rows) + '\n');
    if (values.json) {
      writeJsonAtomic(values.json, { schema: 'gradstorm.bench/1', version: VERSION, adapter: adapterJson(ctx), runs, entries });
    }
    return 0;
  } finally {
    ctx.destroy();
  }
}

function printHelp(): number {
  process.stdout.write(HELP);
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'check':
        return await commandCheck(rest);
      case 'bench':
        return await commandBench(rest);
      case undefined:
      case 'help':
      case '-h':
      case '--help':
        return printHelp();
      case '--version':
        process.stdout.write(`${VERSION}\n`);
        return 0;
      case 'stress':
      case 'sweep':
        throw new UsageError(`'gradstorm ${command}' is not available in this version yet (it arrives with the MLP engine); available: check, bench`);
      default:
        throw new UsageError(`unknown command '${command}'; available: check, bench (gradstorm --help)`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`gradstorm: ${error.message}\n`);
      return 2;
    }
    if (error instanceof GpuUnavailableError || error instanceof GpuLimitError || error instanceof GpuKernelError || error instanceof DeviceLostError) {
      process.stderr.write(`gradstorm: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
