/**
 * The autotuner's bookkeeping, without a GPU: keys, stored tables (and what
 * is wrong with a bad one), proxy sizes, shape classes, the file and
 * localStorage stores, what the bench tunes, and the tune command's flags.
 * The measuring itself is in tests/gpu/tune.test.ts.
 */
import { chmodSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AdapterSummary } from '../../src/gpu/context.ts';
import { MATMUL_TILING_NAMES, MATMUL_TILINGS, REGISTER_LARGE_TILING, SUBGROUP_LARGE_TILING, SUBGROUP_SCALAR_TILING, defaultMatmulTiling, matmulTilingAvailable, type MatmulDeviceFeatures, matmulShapeClass, matmulTilingFits, matmulTilingName, parseMatmulVariant } from '../../src/kernels/matmul.ts';
import {
  TUNING_SCHEMA,
  RETIME_NOISE,
  classesOf,
  describeRetime,
  localStorageTuningStore,
  planRecheck,
  planRetime,
  RETIME_DEFAULT_BAND,
  retimeCandidates,
  settleRecheck,
  parseTuningTable,
  proxyDims,
  shortHash,
  squareMatmulUses,
  tuningKey,
  type TunedEntry,
  type TuningTable,
} from '../../src/tune/tuner.ts';
import { ENGINE_VERSION } from '../../src/version.ts';
import { fileTuningStore, tuningCacheDir } from '../../src/cli/tuning.ts';
import { parseTune, tuningRows } from '../../src/cli/tune.ts';
import { parseBench } from '../../src/cli/bench.ts';
import { BENCH_MLP, DEFAULT_BENCH_VARIANTS, TUNED_VARIANT, benchTuningUses, benchVariantNames, defaultBenchPlan } from '../../bench/plan.ts';
import { validateBenchReport } from '../../bench/report.ts';

const swiftshader: AdapterSummary = { vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader driver 5.0.0', device: 'swiftshader-device', software: true, backend: 'dawn-node' };
const nvidia: AdapterSummary = { vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H200', device: '', software: false, backend: 'dawn-node' };

function entry(shapeClass: string, variant: string, ms = 1): TunedEntry {
  return {
    kernel: 'matmul', layout: 'nt', shapeClass, proxy: { m: 256, n: 256, k: 256 }, variant, ms, timing: 'gpu-timestamps',
    candidates: [{ variant, ms, maxError: 1e-6, runs: 3 }, { variant: 'tiled-4x4-wg16x16-k16', ms: 3 * ms, maxError: 1e-6, runs: 3 }, { variant: 'register-4x4-wg8x8', ms: null, maxError: null, error: 'wrong result' }],
  };
}

function table(adapter: AdapterSummary, entries: Record<string, TunedEntry>): TuningTable {
  return { schema: TUNING_SCHEMA, key: tuningKey(adapter), engineVersion: ENGINE_VERSION, adapter, updated: '2026-12-02T00:00:00.000Z', entries };
}

describe('tuning keys and stored tables', () => {
  it('keys a table by adapter vendor, architecture, device, description, backend, engine version and search space', () => {
    const key = tuningKey(swiftshader);
    expect(key).toContain('google|swiftshader|swiftshader-device|SwiftShader driver 5.0.0|dawn-node');
    expect(key).toContain(`engine ${ENGINE_VERSION}`);
    expect(key).toMatch(/space [0-9a-f]{8}$/);
    expect(tuningKey(nvidia)).not.toBe(key);
    expect(tuningKey({ ...swiftshader, description: 'SwiftShader driver 5.0.1' })).not.toBe(key);
    expect(tuningKey(nvidia)).toContain('nvidia|hopper|-|NVIDIA H200'); // an empty field still holds its place
  });

  it('hashes stably (FNV-1a, 8 hex digits)', () => {
    expect(shortHash('')).toBe('811c9dc5');
    expect(shortHash('a')).toBe('e40c292c');
    expect(shortHash('gradstorm')).toBe(shortHash('gradstorm'));
  });

  it('accepts a table of this adapter and says what is wrong with any other', () => {
    const key = tuningKey(swiftshader);
    const good = table(swiftshader, { 'matmul/nt/lll/v4': entry('matmul/nt/lll/v4', 'register-8x8-wg8x8-v4') });
    expect(parseTuningTable(JSON.parse(JSON.stringify(good)), key)).toEqual(good);
    expect(parseTuningTable(null, key)).toEqual({ problem: 'not a JSON object' });
    expect(parseTuningTable([], key)).toMatchObject({ problem: expect.stringMatching(/schema is undefined/) });
    expect(parseTuningTable({ ...good, schema: 'gradstorm.tuning/0' }, key)).toEqual({ problem: 'schema is "gradstorm.tuning/0", expected gradstorm.tuning/1' });
    expect(parseTuningTable(table(nvidia, {}), key)).toEqual({ problem: 'measured on another adapter or engine version' });
    expect(parseTuningTable({ ...good, entries: null }, key)).toEqual({ problem: 'no entries' });
    // A winner from an older search space, a class under the wrong name, a time that is not positive.
    expect(parseTuningTable(table(swiftshader, { 'matmul/nt/lll/v4': entry('matmul/nt/lll/v4', 'register-16x16') }), key)).toEqual({ problem: 'entry matmul/nt/lll/v4 is malformed' });
    expect(parseTuningTable(table(swiftshader, { 'matmul/nt/lll/v4': entry('matmul/nn/lll/v4', 'register-8x8-wg8x8') }), key)).toEqual({ problem: 'entry matmul/nt/lll/v4 is malformed' });
    expect(parseTuningTable(table(swiftshader, { 'matmul/nt/lll/v4': entry('matmul/nt/lll/v4', 'register-8x8-wg8x8', 0) }), key)).toEqual({ problem: 'entry matmul/nt/lll/v4 is malformed' });
  });
});

describe('close calls are re-timed at the real shape', () => {
  const fast = 'register-8x8-wg8x8-v4';
  const close = 'register-16x8-wg8x8-v4';
  const fallback = 'register-8x8-wg8x8';
  const far = 'tiled-4x4-wg16x16-k16';

  it('re-times the top two when the runner-up is within the noise of the winner', () => {
    const plan = planRetime([{ variant: far, ms: 90 }, { variant: close, ms: 10.5 }, { variant: fast, ms: 10 }], null);
    expect(plan?.variants).toEqual([fast, close]);
    expect(plan?.reason).toContain(`runner-up ${close} within 5 %`);
  });

  it('leaves a clear winner alone (runner-up past the noise, default far behind or absent)', () => {
    expect(planRetime([{ variant: fast, ms: 10 }, { variant: close, ms: 10 * (1 + RETIME_NOISE) + 0.5 }], null)).toBeNull();
    expect(planRetime([{ variant: fast, ms: 10 }, { variant: fallback, ms: 10 * (2 + RETIME_DEFAULT_BAND) }], fallback)).toBeNull();
    expect(planRetime([{ variant: fast, ms: 10 }], fallback)).toBeNull();
  });

  it('adds the adapter default when it is within its band, so the choice is never one the default beats', () => {
    const plan = planRetime([{ variant: fast, ms: 10 }, { variant: close, ms: 10.2 }, { variant: fallback, ms: 12 }], fallback);
    expect(plan?.variants).toEqual([fast, close, fallback]);
    // Even when the runner-up is clear of the noise, a default within its band is still re-timed against the winner.
    expect(planRetime([{ variant: fast, ms: 10 }, { variant: fallback, ms: 12.5 }], fallback)?.variants).toEqual([fast, fallback]);
    // A default a burst of load put at 1.6× the winner (seen on a shared 2-core machine) is re-timed too.
    expect(planRetime([{ variant: fast, ms: 3.74 }, { variant: fallback, ms: 6.09 }], fallback)?.variants).toEqual([fast, fallback]);
    // The default winning at the proxy is not re-timed against itself.
    expect(planRetime([{ variant: fallback, ms: 10 }, { variant: far, ms: 30 }], fallback)).toBeNull();
  });

  it('ignores failed candidates (no time)', () => {
    expect(planRetime([{ variant: fast, ms: 10 }, { variant: close, ms: null }, { variant: fallback, ms: 10.1 }], null)?.variants).toEqual([fast, fallback]);
  });

  it('times the candidates in interleaved rounds and ranks them by their fastest sample, whatever the proxy said', async () => {
    // Injected timings at the real shape: the proxy's winner is slower there, with one noisy outlier.
    const timings: Record<string, number[]> = { [fast]: [21, 19.5, 95], [close]: [18, 19, 18.5] };
    const order: string[] = [];
    const result = await retimeCandidates([fast, close], async (variant) => {
      order.push(variant);
      return timings[variant].shift()!;
    }, 3);
    expect(order).toEqual([fast, close, fast, close, fast, close]);
    expect(result).toEqual([{ variant: close, ms: 18, medianMs: 18.5, runs: 3 }, { variant: fast, ms: 19.5, medianMs: 21, runs: 3 }]);
    const text = describeRetime({ retimed: { dims: { m: 512, n: 512, k: 512 }, reason: 'close', candidates: result } });
    expect(text).toBe(`; re-timed at 512×512×512: ${close} 18.0 ms, ${fast} 19.5 ms`);
    expect(describeRetime({})).toBe('');
  });
});

describe('a stored choice is re-checked against the untuned default at the real shape', () => {
  const stored = 'register-8x8-wg8x8-v4';
  const fallback = 'register-16x8-wg8x8-v4';

  it('re-checks only a stored winner that differs from a default able to read the sizes', () => {
    expect(planRecheck(stored, fallback)).toEqual({ variants: [stored, fallback], reason: expect.stringContaining(`stored winner ${stored}`) });
    expect(planRecheck(fallback, fallback)).toBeNull();
    expect(planRecheck(stored, null)).toBeNull();
  });

  it('keeps whichever was faster in this run (fastest sample), so the tuned choice never loses to the default', async () => {
    // A table measured under load: the stored winner is slower at the real shape than the default, in every round.
    const slowStored: Record<string, number[]> = { [stored]: [30, 29, 31, 29.5, 30], [fallback]: [25, 26, 24.5, 60, 25] };
    const lost = await retimeCandidates(planRecheck(stored, fallback)!.variants, async (v) => slowStored[v].shift()!, 5);
    expect(settleRecheck(stored, { candidates: lost })).toBe(fallback);
    // The stored winner still faster (one noisy sample of its own does not matter): it stays.
    const fastStored: Record<string, number[]> = { [stored]: [20, 45, 20.5, 21, 20], [fallback]: [25, 24, 26, 25, 24.5] };
    const kept = await retimeCandidates([stored, fallback], async (v) => fastStored[v].shift()!, 5);
    expect(settleRecheck(stored, { candidates: kept })).toBe(stored);
    // No re-check (over the time cap): the stored winner stands.
    expect(settleRecheck(stored, null)).toBe(stored);
  });
});

describe('the untuned default tiling per size', () => {
  it('runs the 16×8 vec4 register tiling where vec4 loads fit and C has ≥ 16 rows, 4×8 below 8 rows, the family default elsewhere', () => {
    const large = matmulTilingName(REGISTER_LARGE_TILING);
    expect(large).toBe('register-16x8-wg8x8-v4');
    const name = (layout: 'nt' | 'nn' | 'tn', dims: { m: number; n: number; k: number }, adapter = swiftshader) => matmulTilingName(defaultMatmulTiling(adapter, layout, dims));
    expect(name('nt', { m: 64, n: 256, k: 256 })).toBe(large);
    expect(name('tn', { m: 256, n: 256, k: 64 })).toBe(large);
    expect(name('nn', { m: 16, n: 4, k: 4 })).toBe(large);
    expect(name('nn', { m: 1, n: 256, k: 64 })).toBe('register-4x8-wg8x8'); // the bias gradient: one row
    expect(name('nt', { m: 7, n: 13, k: 5 })).toBe('register-4x8-wg8x8');
    expect(name('nt', { m: 8, n: 13, k: 5 })).toBe('register-8x8-wg8x8');
    expect(name('nt', { m: 64, n: 256, k: 255 })).toBe('register-8x8-wg8x8'); // vec4 loads cannot read K = 255
    expect(name('tn', { m: 66, n: 256, k: 64 })).toBe('register-8x8-wg8x8'); // tn reads A along M
    expect(name('nt', { m: 64, n: 256, k: 256 }, nvidia)).toBe('tiled-4x4-wg16x16-k16');
  });

  it('runs the 32×8 subgroup tiling instead where the device has subgroups of ≥ 4 lanes, vec4 loads fit, C has ≥ 32 rows and M·N·K ≥ 2²⁰', () => {
    const subgroup = matmulTilingName(SUBGROUP_LARGE_TILING);
    expect(subgroup).toBe('subgroup-32x8-wg4x1-v4');
    const fourLanes = { subgroupSizes: { min: 4, max: 4 } };
    const name = (layout: 'nt' | 'nn' | 'tn', dims: { m: number; n: number; k: number }, device: MatmulDeviceFeatures = fourLanes, adapter = swiftshader) =>
      matmulTilingName(defaultMatmulTiling(adapter, layout, dims, device));
    expect(name('nt', { m: 64, n: 256, k: 256 })).toBe(subgroup); // the MLP step's forward
    expect(name('nn', { m: 64, n: 256, k: 256 })).toBe(subgroup); // its input gradient
    expect(name('tn', { m: 256, n: 256, k: 64 })).toBe(subgroup); // its weight gradient
    expect(name('tn', { m: 256, n: 256, k: 63 })).toBe(subgroup); // tn reads any K (a tail loop)
    expect(name('nt', { m: 16, n: 256, k: 256 })).toBe('register-16x8-wg8x8-v4'); // fewer than its 32 rows
    expect(name('nt', { m: 32, n: 128, k: 128 })).toBe('register-16x8-wg8x8-v4'); // 2¹⁹ multiply-adds: not worth its compile time
    expect(name('nt', { m: 32, n: 128, k: 256 })).toBe(subgroup); // 2²⁰
    expect(name('nt', { m: 64, n: 256, k: 255 })).toBe('register-8x8-wg8x8'); // vec4 loads cannot read K = 255
    expect(name('nt', { m: 64, n: 258, k: 256 })).toBe('register-16x8-wg8x8-v4'); // quad stores cannot write N = 258
    expect(name('nt', { m: 64, n: 256, k: 256 }, { subgroupSizes: null })).toBe('register-16x8-wg8x8-v4'); // no subgroups feature
    expect(name('nt', { m: 64, n: 256, k: 256 }, { subgroupSizes: { min: 2, max: 4 } })).toBe('register-16x8-wg8x8-v4'); // two-lane subgroups possible
    expect(name('nt', { m: 64, n: 256, k: 256 }, { subgroupSizes: { min: 32, max: 32 } }, nvidia)).toBe('tiled-4x4-wg16x16-k16'); // GPUs keep the tiled family
    expect(matmulTilingAvailable(SUBGROUP_SCALAR_TILING, { subgroupSizes: { min: 4, max: 128 } })).toBe(true);
    expect(matmulTilingAvailable(SUBGROUP_SCALAR_TILING, { subgroupSizes: null })).toBe(false);
    expect(matmulTilingAvailable(REGISTER_LARGE_TILING, { subgroupSizes: null })).toBe(true);
  });
});

describe('shape classes and proxy sizes', () => {
  it('classes a matmul by layout, small (≤ 64) or large M, N, K, and whether vec4 loads can read it', () => {
    expect(matmulShapeClass('nt', { m: 64, n: 65, k: 256 })).toBe('matmul/nt/sll/v4');
    expect(matmulShapeClass('nt', { m: 64, n: 65, k: 255 })).toBe('matmul/nt/sll/any');
    expect(matmulShapeClass('nn', { m: 1, n: 256, k: 32 })).toBe('matmul/nn/sls/v4');
    expect(matmulShapeClass('nn', { m: 1, n: 256, k: 30 })).toBe('matmul/nn/sls/any'); // nn reads A along K
    expect(matmulShapeClass('tn', { m: 130, n: 256, k: 3 })).toBe('matmul/tn/lls/any'); // tn reads A along M
    expect(matmulShapeClass('tn', { m: 128, n: 256, k: 3 })).toBe('matmul/tn/lls/v4');
  });

  it('names every tiling uniquely, parses each name back, and keeps vec4 tilings out of classes they cannot read', () => {
    expect(new Set(MATMUL_TILING_NAMES).size).toBe(MATMUL_TILINGS.length);
    for (const t of MATMUL_TILINGS) expect(matmulTilingName(parseMatmulVariant(matmulTilingName(t)))).toBe(matmulTilingName(t));
    expect(parseMatmulVariant('register')).toEqual(parseMatmulVariant('register-8x8-wg8x8'));
    expect(() => parseMatmulVariant('register-3x3')).toThrow(/register-3x3/);
    const v4 = parseMatmulVariant('register-8x8-wg8x8-v4');
    expect(matmulTilingFits(v4, 'nt', { m: 5, n: 7, k: 12 })).toBe(true);
    expect(matmulTilingFits(v4, 'nt', { m: 5, n: 7, k: 13 })).toBe(false);
    expect(matmulTilingFits(v4, 'nn', { m: 5, n: 7, k: 12 })).toBe(false);
    expect(matmulTilingFits(parseMatmulVariant('tiled'), 'tn', { m: 5, n: 7, k: 13 })).toBe(true);
  });

  it('measures a class at its shape with large dimensions capped, keeping the class', () => {
    expect(proxyDims({ m: 4096, n: 4096, k: 4096 }, true)).toEqual({ m: 256, n: 256, k: 256 });
    expect(proxyDims({ m: 4096, n: 4096, k: 4096 }, false)).toEqual({ m: 1024, n: 1024, k: 1024 });
    expect(proxyDims({ m: 32, n: 1001, k: 6400 }, true)).toEqual({ m: 32, n: 257, k: 256 });
    for (const [layout, dims] of [['nt', { m: 32, n: 1001, k: 6400 }], ['tn', { m: 4097, n: 4100, k: 7 }], ['nn', { m: 1, n: 999, k: 64 }]] as const) {
      expect(matmulShapeClass(layout, proxyDims(dims, true))).toBe(matmulShapeClass(layout, dims));
    }
  });

  it('lists each class once, in first-seen order, measured at its largest shape', () => {
    const classes = classesOf([
      { layout: 'nn', shapes: [{ m: 1, n: 64, k: 8 }, { m: 8, n: 64, k: 64 }] },
      { layout: 'nt', shapes: [{ m: 8, n: 64, k: 64 }] },
      { layout: 'nn', shapes: [{ m: 4, n: 64, k: 64 }, { m: 512, n: 512, k: 512 }] },
    ]);
    expect(classes).toEqual([
      { shapeClass: 'matmul/nn/sss/v4', layout: 'nn', dims: { m: 8, n: 64, k: 64 } },
      { shapeClass: 'matmul/nt/sss/v4', layout: 'nt', dims: { m: 8, n: 64, k: 64 } },
      { shapeClass: 'matmul/nn/lll/v4', layout: 'nn', dims: { m: 512, n: 512, k: 512 } },
    ]);
    expect(classesOf(squareMatmulUses(512)).map((c) => c.shapeClass)).toEqual(['matmul/nt/lll/v4', 'matmul/nn/lll/v4', 'matmul/tn/lll/v4']);
  });
});

describe('tuning stores', () => {
  const key = tuningKey(swiftshader);
  const good = table(swiftshader, { 'matmul/nt/lll/v4': entry('matmul/nt/lll/v4', 'register-8x8-wg8x8-v4') });

  it('keeps the cache under GRADSTORM_CACHE_DIR, else XDG_CACHE_HOME/gradstorm, else ~/.cache/gradstorm', () => {
    expect(tuningCacheDir({ GRADSTORM_CACHE_DIR: '/x/cache', XDG_CACHE_HOME: '/y' })).toBe('/x/cache');
    expect(tuningCacheDir({ XDG_CACHE_HOME: '/y' })).toBe('/y/gradstorm');
    expect(tuningCacheDir({})).toMatch(/\/\.cache\/gradstorm$/);
  });

  it('a file store writes one file per adapter key atomically and reads it back; a corrupt file reads as a table to set aside', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradstorm-tune-'));
    const warnings: string[] = [];
    const store = fileTuningStore(join(dir, 'nested'), (m) => warnings.push(m));
    expect(store.load(key)).toBeNull(); // nothing yet, and no folder: not a problem
    store.save(good);
    expect(readdirSync(join(dir, 'nested'))).toEqual([`tuning-${shortHash(key)}.json`]);
    expect(store.where(key)).toBe(join(dir, 'nested', `tuning-${shortHash(key)}.json`));
    expect(parseTuningTable(store.load(key), key)).toEqual(good);
    writeFileSync(store.where(key), '{"schema": "gradstorm.tuning/1", "key": ');
    expect(parseTuningTable(store.load(key), key)).toEqual({ problem: 'schema is "unreadable JSON", expected gradstorm.tuning/1' });
    expect(warnings).toEqual([]);
  });

  it('a file store in a folder it cannot write warns with the variable to set, and does not throw', () => {
    if (process.getuid?.() === 0) {
      // root writes anywhere: use a path under a regular file instead, which no one can create.
      const file = join(mkdtempSync(join(tmpdir(), 'gradstorm-tune-')), 'plain-file');
      writeFileSync(file, '');
      const warnings: string[] = [];
      fileTuningStore(join(file, 'cache'), (m) => warnings.push(m)).save(good);
      expect(warnings).toEqual([expect.stringMatching(/autotuner: cannot save .*plain-file\/cache\/tuning-[0-9a-f]{8}\.json .*set GRADSTORM_CACHE_DIR to a writable folder/)]);
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'gradstorm-tune-'));
    chmodSync(dir, 0o500);
    const warnings: string[] = [];
    fileTuningStore(dir, (m) => warnings.push(m)).save(good);
    expect(warnings).toEqual([expect.stringMatching(/autotuner: cannot save .*set GRADSTORM_CACHE_DIR to a writable folder/)]);
  });

  it('a localStorage store keeps one item per adapter key and reads garbage as a table to set aside', () => {
    const items = new Map<string, string>();
    const storage = { getItem: (k: string) => items.get(k) ?? null, setItem: (k: string, v: string) => void items.set(k, v) } as unknown as Storage;
    const store = localStorageTuningStore(storage);
    expect(store.load(key)).toBeNull();
    store.save(good);
    expect([...items.keys()]).toEqual([`gradstorm.tuning:${shortHash(key)}`]);
    expect(store.where(key)).toBe(`localStorage["gradstorm.tuning:${shortHash(key)}"]`);
    expect(parseTuningTable(store.load(key), key)).toEqual(good);
    items.set(`gradstorm.tuning:${shortHash(key)}`, 'nope');
    expect(parseTuningTable(store.load(key), key)).toMatchObject({ problem: expect.stringMatching(/unreadable/) });
  });
});

describe('what bench and tune ask the autotuner for', () => {
  it('bench tunes the model shapes and squares it times as "tuned", and every matmul of the steps it runs', () => {
    const plan = defaultBenchPlan('0.1.0');
    expect(plan.variants).toEqual(DEFAULT_BENCH_VARIANTS);
    expect(DEFAULT_BENCH_VARIANTS).toContain(TUNED_VARIANT);
    expect(benchVariantNames()).toEqual(['register', 'tiled', ...MATMUL_TILING_NAMES, TUNED_VARIANT]);
    const onlySquares = classesOf(benchTuningUses({ ...plan, kernels: ['matmul'], shapes: [], sizes: [256, 4096] }));
    expect(onlySquares.map((c) => c.shapeClass)).toEqual(['matmul/nt/lll/v4', 'matmul/nn/lll/v4', 'matmul/tn/lll/v4']);
    expect(onlySquares[0].dims).toEqual({ m: 4096, n: 4096, k: 4096 });
    // Without the tuned variant, the matmul section needs no tuning; the MLP step still does.
    expect(benchTuningUses({ ...plan, kernels: ['matmul'], variants: ['register'] })).toEqual([]);
    const mlp = classesOf(benchTuningUses({ ...plan, kernels: ['mlp-step'] }));
    expect(mlp.map((c) => c.shapeClass).sort()).toEqual(['matmul/nn/sll/v4', 'matmul/nn/sls/v4', 'matmul/nt/sll/v4', 'matmul/tn/lls/v4']);
    expect(mlp.find((c) => c.shapeClass === 'matmul/tn/lls/v4')?.dims).toEqual({ m: BENCH_MLP.width, n: BENCH_MLP.width, k: BENCH_MLP.batch });
    expect(classesOf(benchTuningUses({ ...plan, kernels: ['rnn'] })).length).toBeGreaterThanOrEqual(3);
  });

  it('bench flags: tuning on by default (file store), --retune, --no-tune drops the tuned variant, tilings by name', () => {
    const parsed = parseBench([], '0.1.0');
    if ('help' in parsed) throw new Error('unexpected help');
    expect(parsed.plan.tuning).toMatchObject({ retune: false });
    expect(parsed.plan.tuning?.store?.where('k')).toMatch(/tuning-[0-9a-f]{8}\.json$/);
    const retune = parseBench(['--retune'], '0.1.0');
    expect('plan' in retune && retune.plan.tuning?.retune).toBe(true);
    const off = parseBench(['--no-tune'], '0.1.0');
    expect('plan' in off && off.plan.tuning).toBeNull();
    expect('plan' in off && off.plan.variants).toEqual(['register', 'tiled']);
    const named = parseBench(['--variants', 'register-4x8-wg8x8-v4,tuned'], '0.1.0');
    expect('plan' in named && named.plan.variants).toEqual(['register-4x8-wg8x8-v4', 'tuned']);
  });

  it('a bench report may carry the tuning it used, and the validator checks it', () => {
    const base = {
      schema: 'gradstorm.bench/1', version: '0.1.0', runs: 5, maxSeconds: 60,
      adapter: { ...swiftshader, timestampQuery: true }, entries: [], baselines: [], ratios: [], skipped: [],
    };
    expect(validateBenchReport(base)).toBeNull();
    const tuning = { key: tuningKey(swiftshader), where: '/tmp/t.json', classes: [{ shapeClass: 'matmul/nt/lll/v4', variant: 'register-8x8-wg8x8-v4', ms: 13.6, measured: true }] };
    expect(validateBenchReport({ ...base, tuning })).toBeNull();
    expect(validateBenchReport({ ...base, tuning: { ...tuning, where: null } })).toBeNull();
    expect(validateBenchReport({ ...base, tuning: { ...tuning, classes: {} } })).toBe('tuning.classes: expected array, got an object');
    expect(validateBenchReport({ ...base, tuning: { ...tuning, classes: [{ ...tuning.classes[0], ms: -1 }] } })).toBe('tuning.classes[0].ms: expected > 0, got number -1');
  });

  it('tune: the model from the stress flags plus square products (or none), and one row per class', () => {
    const mlp = parseTune(['--depth', '3', '--width', '12', '--batch', '4', '--squares', 'none']);
    expect(classesOf(mlp.uses).map((c) => c.shapeClass).sort()).toEqual(['matmul/nn/sss/v4', 'matmul/nt/sss/v4', 'matmul/tn/sss/v4']);
    const withSquares = parseTune(['--squares', '300']);
    expect(classesOf(withSquares.uses).some((c) => c.dims.m === 300 && c.dims.n === 300)).toBe(true);
    const rnn = parseTune(['--model', 'rnn', '--seq-len', '10', '--width', '8', '--squares', 'none']);
    expect(classesOf(rnn.uses).length).toBeGreaterThan(0);
    expect(classesOf(parseTune(['--squares=300', '--depth', '2']).uses).some((c) => c.dims.m === 300)).toBe(true);
    const measured = entry('matmul/nt/lll/v4', 'register-8x8-wg8x8-v4', 2);
    // A candidate cut short after two slow samples is not the runner-up, whatever its (noisy) median.
    measured.candidates.push({ variant: 'register-4x8-wg8x8', ms: 2.5, maxError: 1e-6, runs: 2 });
    const rows = tuningRows([measured], new Set(['matmul/nt/lll/v4']));
    expect(rows).toEqual([['matmul/nt/lll/v4', 'register-8x8-wg8x8-v4', '2.00', 'tiled-4x4-wg16x16-k16 ×3.00', '4 (1 failed)', '256×256×256', 'this run']]);
  });
});

describe('the engine version in tuning keys', () => {
  it('is the package version, so a release retunes', async () => {
    const { readFileSync } = await import('node:fs');
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    expect(ENGINE_VERSION).toBe(pkg.version);
  });
});
