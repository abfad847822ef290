import { describe, expect, it } from 'vitest';
import { BenchBudget, cellEstimateMs } from '../../bench/budget.ts';
import { checkMatmul, checkedIndices } from '../../bench/matmul.ts';
import { MAX_REPEAT, measure, repeatFor, type Sample } from '../../bench/measure.ts';
import { MODEL_SHAPES, parseMatmulShape } from '../../bench/plan.ts';
import { plainMatmul } from '../../bench/plain-js.ts';
import { computeRatios, validateBenchReport, type BenchBaseline, type BenchEntry, type BenchReport } from '../../bench/report.ts';
import { gbps, matmulFlops, matmulGflops, speedup, summarize } from '../../bench/stats.ts';
import { benchTables } from '../../bench/table.ts';
import { MATMUL_LAYOUTS, matmulReference } from '../../src/kernels/matmul.ts';
import { uniformData } from '../../src/conformance/data.ts';

const entry = (over: Partial<BenchEntry> = {}): BenchEntry => ({
  kernel: 'matmul.nt', shape: '512×512×512', variant: 'register', ms: 100, minMs: 90, maxMs: 120, runs: 5, repeat: 1,
  timing: 'gpu-timestamps', gflops: matmulGflops(512, 512, 512, 100), maxError: 1.5e-5, withinTolerance: true, ...over,
});
const baseline = (over: Partial<BenchBaseline> = {}): BenchBaseline => ({
  kernel: 'matmul.nt', shape: '512×512×512', variant: 'tfjs-webgpu', ms: 2000, minMs: 1900, maxMs: 2100, runs: 5, repeat: 1, timing: 'wall-clock', ...over,
});

/** A report as the suite writes it (trimmed from a SwiftShader run). */
function report(): BenchReport {
  const entries = [entry(), entry({ variant: 'tiled', ms: 400, minMs: 380, maxMs: 450 }), entry({ kernel: 'relu.forward', shape: '1048576', variant: 'elementwise', gflops: undefined, gbps: gbps(8 * 1048576, 53), ms: 53, minMs: 51, maxMs: 55, maxError: 0 }), entry({ kernel: 'mlp.step', shape: 'depth 50, width 256, batch 64', ms: 1800, minMs: 1700, maxMs: 1900, maxError: null, withinTolerance: undefined, note: 'one submit, 215 dispatches', timing: 'wall-clock' })];
  const baselines = [baseline(), baseline({ variant: 'plain-js', ms: 300, minMs: 290, maxMs: 310 })];
  return {
    schema: 'gradstorm.bench/1', version: '0.1.0',
    adapter: { vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader driver 5.0.0', device: 'swiftshader-device-subzero-', software: true, backend: 'dawn-node (SwiftShader fallback)', timestampQuery: true },
    runs: 5, maxSeconds: 60, entries, baselines, ratios: computeRatios(entries, baselines),
    skipped: [{ kernel: 'matmul.nt', shape: '4096×4096×4096', variant: 'tiled', reason: 'over the time budget: ~900 s estimated at 0.15 GFLOP/s, 12 s of 60 s left' }],
  };
}

describe('bench timing arithmetic', () => {
  it('median of an odd count is the middle sample; of an even count the mean of the two middle ones; min and max are the extremes', () => {
    expect(summarize([5, 1, 3])).toEqual({ medianMs: 3, minMs: 1, maxMs: 5, runs: 3 });
    expect(summarize([4, 1, 3, 10])).toEqual({ medianMs: 3.5, minMs: 1, maxMs: 10, runs: 4 });
    expect(summarize([7])).toEqual({ medianMs: 7, minMs: 7, maxMs: 7, runs: 1 });
    expect(() => summarize([])).toThrow(/no samples/);
  });

  it('GFLOP/s counts 2·M·N·K flops; GB/s counts the bytes moved; speedup is baseline / measured', () => {
    expect(matmulFlops(2, 3, 4)).toBe(48);
    expect(matmulGflops(1024, 1024, 1024, 1000)).toBeCloseTo(2.147483648, 12); // 2^31 flops in one second
    expect(gbps(8 * 2 ** 20, 1)).toBeCloseTo(8.388608, 12);
    expect(speedup(300, 100)).toBe(3);
  });

  it('repeats a short sample until it lasts minSampleMs (within [1, MAX_REPEAT])', () => {
    expect(repeatFor(100, 20)).toBe(1);
    expect(repeatFor(20, 20)).toBe(1);
    expect(repeatFor(3, 20)).toBe(7);
    expect(repeatFor(1e-6, 20)).toBe(MAX_REPEAT);
    expect(repeatFor(0, 20)).toBe(MAX_REPEAT);
  });

  it('measure warms up, counts a long enough first sample, and reports the median of `runs` samples per repeat', async () => {
    const calls: number[] = [];
    const times = [50, 30, 10, 20, 40];
    const long = await measure(async (repeat): Promise<Sample> => {
      calls.push(repeat);
      return { ms: times[calls.length - 1], source: 'gpu-timestamps' };
    }, 4);
    expect(calls).toEqual([1, 1, 1, 1, 1]); // warm-up, then 4 samples of which the first counts
    expect(long).toMatchObject({ medianMs: 25, minMs: 10, maxMs: 40, runs: 4, repeat: 1, timing: 'gpu-timestamps' });

    const repeats: number[] = [];
    const short = await measure(async (repeat): Promise<Sample> => {
      repeats.push(repeat);
      return { ms: 2, source: 'wall-clock' };
    }, 3);
    expect(repeats).toEqual([1, 1, 10, 10, 10]); // the 2 ms calibration sample is dropped
    expect(short).toMatchObject({ medianMs: 2, runs: 3, repeat: 10, timing: 'wall-clock' });
  });
});

describe('bench time budget', () => {
  it('estimates a cell as warm-up + check + runs samples of at least the minimum sample time', () => {
    expect(cellEstimateMs(1, 1e9, 5)).toBeCloseTo(7000, 9); // 1 GFLOP at 1 GFLOP/s: 1 s, 7 times
    expect(cellEstimateMs(1000, 1e6, 5, 20)).toBeCloseTo(2 * 0.001 + 5 * 20, 9);
  });

  it("runs a runner's first cell, predicts the next from its measured GFLOP/s (time ∝ flops), and skips what would pass the budget", () => {
    let now = 0;
    const budget = new BenchBudget(60_000, () => now);
    const flops = (n: number) => matmulFlops(n, n, n);
    expect(budget.decide('register/nt', flops(256), 5)).toEqual({ run: true, estimateMs: null });
    now = 2_000;
    budget.record('register/nt', flops(256), 30); // ≈ 1.1 GFLOP/s
    const at512 = budget.decide('register/nt', flops(512), 5);
    expect(at512.run).toBe(true);
    expect(at512.estimateMs).toBeCloseTo(7 * 30 * 8, 6); // 8× the flops, 7 runs' worth
    now = 50_000;
    budget.record('register/nt', flops(512), 240);
    const at1024 = budget.decide('register/nt', flops(1024), 5); // 7 × 1.92 s = 13.4 s > 10 s left
    expect(at1024).toEqual({ run: false, estimateMs: 7 * 240 * 8, leftMs: 10_000 });
    expect(budget.decide('tiled/nt', flops(4096), 5).run).toBe(true); // another runner: nothing known yet
    expect(budget.gflops('register/nt')).toBeCloseTo(flops(512) / 240e6, 9);
  });
});

describe('bench ratios and tables', () => {
  it('pairs each gradstorm entry with every baseline of the same kernel and shape', () => {
    const ratios = computeRatios([entry(), entry({ variant: 'tiled', ms: 400 }), entry({ shape: '256×256×256' })], [baseline(), baseline({ variant: 'plain-js', ms: 300 })]);
    expect(ratios).toEqual([
      { kernel: 'matmul.nt', shape: '512×512×512', variant: 'register', baseline: 'tfjs-webgpu', speedup: 20 },
      { kernel: 'matmul.nt', shape: '512×512×512', variant: 'register', baseline: 'plain-js', speedup: 3 },
      { kernel: 'matmul.nt', shape: '512×512×512', variant: 'tiled', baseline: 'tfjs-webgpu', speedup: 5 },
      { kernel: 'matmul.nt', shape: '512×512×512', variant: 'tiled', baseline: 'plain-js', speedup: 0.75 },
    ]);
  });

  it('prints ratios beside each entry, baselines and skipped cells under their shape, and only the ratio columns a table has', () => {
    const [matmul, bandwidth, steps] = benchTables(report());
    expect(matmul.title).toMatch(/matmul/);
    expect(matmul.header).toEqual(['kernel', 'shape', 'variant', 'median ms', 'min–max ms', 'GFLOP/s', 'vs TF.js', 'vs plain JS', 'max |Δ|', 'timing', 'note']);
    expect(matmul.rows[0].slice(0, 8)).toEqual(['matmul.nt', '512×512×512', 'register', '100', '90.00–120', (2 * 512 ** 3 / 1e8).toPrecision(3), '20.0×', '3.00×']);
    expect(matmul.rows.map((r) => r[2])).toEqual(['register', 'tiled', 'tfjs-webgpu', 'plain-js', 'tiled']);
    expect(matmul.rows[4]).toContain('skipped');
    expect(bandwidth.header).not.toContain('vs TF.js');
    expect(steps.rows[0]).toContain('one submit, 215 dispatches');
  });

  it('marks an entry that failed its float64 check', () => {
    const r = report();
    r.entries[0] = entry({ maxError: 3, withinTolerance: false });
    expect(benchTables(r)[0].rows[0]).toContain('FAIL 3.0e+0');
  });
});

describe('bench report schema (gradstorm.bench/1)', () => {
  it('accepts a report as the suite writes it, through JSON', () => {
    expect(validateBenchReport(JSON.parse(JSON.stringify(report())))).toBeNull();
  });

  it('rejects what is not an object', () => {
    expect(validateBenchReport(42)).toMatch(/must be a JSON object/);
    expect(validateBenchReport([report()])).toMatch(/must be a JSON object/);
  });

  const REMOVE = Symbol('remove');
  it.each<[string, (string | number)[], unknown, RegExp]>([
    ['another schema', ['schema'], 'gradstorm.run/1', /^schema: expected "gradstorm.bench\/1", got "gradstorm.run\/1"$/],
    ['no runs', ['runs'], REMOVE, /^runs: expected number, got nothing \(missing\)$/],
    ['adapter without timestampQuery', ['adapter', 'timestampQuery'], REMOVE, /^adapter\.timestampQuery: expected boolean, got nothing/],
    ['entries not a list', ['entries'], {}, /^entries: expected array, got an object$/],
    ['a negative time', ['entries', 1, 'ms'], -1, /^entries\[1\]\.ms: expected > 0, got number -1$/],
    ['no repeat count', ['baselines', 0, 'repeat'], REMOVE, /^baselines\[0\]\.repeat: expected number, got nothing/],
    ['median outside min–max', ['entries', 0, 'minMs'], 101, /^entries\[0\]: expected minMs ≤ ms ≤ maxMs, got 101 ≤ 100 ≤ 120$/],
    ['gflops and gbps together', ['entries', 0, 'gbps'], 1, /^entries\[0\]: has both gflops and gbps/],
    ['an unknown timing source', ['entries', 0, 'timing'], 'stopwatch', /^entries\[0\]\.timing: expected "gpu-timestamps" \| "wall-clock", got string "stopwatch"$/],
    ['maxError a string', ['entries', 0, 'maxError'], '1e-5', /^entries\[0\]\.maxError: expected number, got string "1e-5"$/],
    ['an unknown baseline', ['baselines', 0, 'variant'], 'numpy', /^baselines\[0\]\.variant: expected "tfjs-webgpu" \| "plain-js", got string "numpy"$/],
    ['a ratio without speedup', ['ratios', 0, 'speedup'], REMOVE, /^ratios\[0\]\.speedup: expected number, got nothing/],
    ['a skipped cell without a reason', ['skipped', 0, 'reason'], '', /^skipped\[0\]\.reason: expected a non-empty string/],
  ])('rejects %s with a message naming the field', (_, path, value, message) => {
    const r: unknown = JSON.parse(JSON.stringify(report()));
    let parent = r as Record<string | number, unknown>;
    for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
    const last = path[path.length - 1];
    if (value === REMOVE) delete parent[last];
    else parent[last] = value;
    expect(validateBenchReport(r)).toMatch(message);
  });
});

describe('bench matmul helpers (CPU)', () => {
  const dims = { m: 7, n: 13, k: 33 };
  const a = uniformData(dims.m * dims.k, 1);
  const b = uniformData(dims.k * dims.n, 2);

  it.each(MATMUL_LAYOUTS)('plain-JS matmul %s agrees with the float64 reference within the matmul contract', (layout) => {
    const c = new Float32Array(dims.m * dims.n).fill(NaN);
    plainMatmul(layout, dims, a, b, c);
    const check = checkMatmul(layout, dims, a, b, c, checkedIndices(c.length, 1000));
    expect(check.withinTolerance).toBe(true);
    const ref = matmulReference(layout, dims, a, b).c;
    expect(Math.max(...Array.from(c, (v, i) => Math.abs(v - ref[i])))).toBeCloseTo(check.maxError, 12);
  });

  it('the check catches a wrong element and a NaN', () => {
    const c = Float32Array.from(matmulReference('nn', dims, a, b).c);
    c[17] += 0.01;
    expect(checkMatmul('nn', dims, a, b, c, checkedIndices(c.length, 1000))).toMatchObject({ withinTolerance: false });
    c[17] = NaN;
    expect(checkMatmul('nn', dims, a, b, c, checkedIndices(c.length, 1000)).withinTolerance).toBe(false);
  });

  it('checks every element of a small C and a seeded sample of a large one', () => {
    expect(checkedIndices(5, 512)).toEqual([0, 1, 2, 3, 4]);
    const sample = checkedIndices(4096 * 4096, 512);
    expect(sample).toHaveLength(512);
    expect(sample.every((i) => Number.isInteger(i) && i >= 0 && i < 4096 * 4096)).toBe(true);
    expect(checkedIndices(4096 * 4096, 512)).toEqual(sample);
  });

  it('parses model shape names and layout:MxNxK, and explains anything else', () => {
    expect(parseMatmulShape('rnn-weight-grad')).toEqual(MODEL_SHAPES.find((s) => s.name === 'rnn-weight-grad'));
    expect(MODEL_SHAPES.find((s) => s.name === 'rnn-weight-grad')?.dims).toEqual({ m: 128, n: 128, k: 6400 });
    expect(parseMatmulShape('tn:256x256x64')).toEqual({ name: 'tn:256×256×64', layout: 'tn', dims: { m: 256, n: 256, k: 64 } });
    expect(parseMatmulShape('xx:1x2x3')).toMatch(/neither a model shape .* nor layout:MxNxK/);
    expect(parseMatmulShape('nt:0x2x3')).toMatch(/must be integers in \[1, 65536\]/);
  });
});
