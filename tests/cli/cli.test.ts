import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { numberListFlag } from '../../src/cli/flags.ts';
import { parseShard, sweepGrid } from '../../src/cli/sweep.ts';
import { validateBenchReport } from '../../bench/report.ts';
import { buildPackage } from '../support/package.ts';
import { validateReport } from '../../src/report/schema.ts';

/** Every report the CLI writes validates against its schema (src/report/schema.ts); the errors, if not. */
function expectValid(path: string, kind: string): void {
  const result = validateReport(JSON.parse(readFileSync(path, 'utf8')));
  expect(result.ok ? result.kind : result.errors).toBe(kind);
}

const bin = join(import.meta.dirname, '..', '..', 'bin', 'gradstorm.js');

// The bin runs the compiled engine (dist/): build it from the current sources first.
beforeAll(buildPackage, 240_000);

// The autotuner's tables go to a folder of this test file's own, not the user's ~/.cache.
const cacheDir = mkdtempSync(join(tmpdir(), 'gradstorm-cache-'));

function gradstormWithCache(cache: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, GRADSTORM_CACHE_DIR: cache } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function gradstorm(...args: string[]) {
  return gradstormWithCache(cacheDir, ...args);
}

describe('gradstorm CLI: bad input gets a message naming the flag and exit code 2', () => {
  it.each([
    [['stress', '--depth', '0'], /--depth: '0' is not an integer in \[1, 100000\]/],
    [['stress', '--activation', 'gelu'], /--activation: unknown value 'gelu'; choose from linear, relu, tanh/],
    [['stress', '--gain', 'abc'], /--gain: 'abc' is not a number/],
    [['stress', '--clip', 'norm:-1'], /--clip norm:-1: use none, norm:C or value:C/],
    [['stress', '--optimizer', 'rmsprop'], /--optimizer: unknown value 'rmsprop'/],
    [['stress', '--bogus'], /Unknown option '--bogus'/],
    [['stress', '--model', 'mlp', '--seq-len', '10'], /--seq-len applies to --model rnn/],
    [['stress', '--model', 'rnn', '--forget-bias', '2'], /--forget-bias applies to --model lstm .*this run is --model rnn/],
    [['sweep', '--forget-bias=2'], /--forget-bias applies to --model lstm .*this run is --model mlp/],
    [['stress', '--model', 'lstm', '--model', 'mlp', '--seq-len', '10'], /--seq-len applies to --model rnn and --model lstm/],
    [['stress', '--model', 'rnn', '--model', 'lstm', '--depth', '3'], /--depth does not apply to --model lstm/],
    [['sweep', '--shard', '2/2'], /--shard 2\/2: use i\/n with 0 ≤ i < n/],
    [['sweep', '--depth', '5'], /sweep takes --depths/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['bench', '--kernels', 'fft'], /--kernels: unknown value 'fft'; choose from matmul, relu, reduce, mlp-step, rnn/],
    [['bench', '--sizes', '256,0'], /--sizes: '0' is not an integer in \[1, 16384\]/],
    [['bench', '--shapes', 'mlp-forward,big'], /--shapes: 'big' is neither a model shape \(mlp-forward, .*\) nor layout:MxNxK/],
    [['bench', '--max-seconds', '0'], /--max-seconds: '0' is not a number in \[0.001, 1000000\]/],
    [['bench', '--runs', '0'], /--runs: '0' is not an integer in \[1, 1000\]/],
    [['bench', '--baselines', 'numpy'], /--baselines: unknown value 'numpy'; choose from tfjs-webgpu, plain-js/],
    [['bench', '--no-baseline', '--baselines', 'plain-js'], /--no-baseline and --baselines contradict each other/],
    [['bench', '--variants', 'register-9x9'], /--variants: unknown value 'register-9x9'; choose from register, tiled, register-8x8-wg8x8, .*, tuned/],
    [['bench', '--no-tune', '--retune'], /--no-tune and --retune contradict each other/],
    [['bench', '--no-tune', '--variants', 'tuned'], /--variants tuned needs the autotuner/],
    [['stress', '--retune', '--variant', 'tiled'], /--retune measures the matmul variants again, --variant fixes one/],
    [['stress', '--variant', 'register-3x3'], /--variant: unknown value 'register-3x3'/],
    [['tune', '--variant', 'tiled'], /tune measures them all \(drop --variant\)/],
    [['tune', '--squares', '0'], /--squares: '0' is not an integer in \[1, 16384\]/],
    [['sweep', '--model', 'rnn'], /sweep runs MLPs \(over depth and gain\) and LSTMs \(--model lstm\); an RNN runs with gradstorm stress --model rnn/],
  ])('%j', (args, message) => {
    const r = gradstorm(...(args as string[]));
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
  });
});

describe('gradstorm CLI: runtime flags only where there is a Chrome runtime', () => {
  it('merge and report-gpu refuse --runtime chrome, --browser and --headed (exit 2) instead of running in Node', () => {
    const merge = gradstorm('merge', tmpdir(), '--runtime', 'chrome');
    expect(merge.code).toBe(2);
    expect(merge.stderr).toMatch(/merge does not take --runtime chrome: it reads shard files/);
    const report = gradstorm('report-gpu', '--runtime', 'chrome', '--headed', '--max-seconds', '1');
    expect(report.code).toBe(2);
    expect(report.stderr).toMatch(/report-gpu does not take --runtime chrome, --headed: it runs in Node/);
  });

  it('sweep --slurm refuses --headed (compute nodes have no display)', () => {
    const r = gradstorm('sweep', '--depths', '3', '--gains', '1', '--slurm', '1', '--out', join(tmpdir(), 'gradstorm-headed'), '--dry-run', '--runtime', 'chrome', '--headed');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--headed with --slurm: the tasks run on compute nodes without a display/);
  });
});

describe('gradstorm CLI on the GPU', () => {
  it('refuses a model that does not fit the adapter, with both sizes and the flag to change, writing nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradstorm-'));
    const json = join(dir, 'r.json');
    const r = gradstorm('stress', '--depth', '3', '--width', '40000', '--batch', '4', '--json', json);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/does not fit the adapter: its parameters need one buffer of [\d.]+ GiB, the adapter binds at most [\d.]+ (GiB|MiB).*Reduce --depth or --width/);
    expect(r.stderr).not.toMatch(/autotuner/); // refused before any tuning
    expect(existsSync(json)).toBe(false);
  });

  it('stress writes a gradstorm.run/1 report and a gradstorm.dump/1 dump atomically', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradstorm-'));
    const r = gradstorm('stress', '--depth', '5', '--width', '9', '--input', '4', '--output', '3', '--batch', '2', '--loss', 'mse', '--steps', '3', '--optimizer', 'adam', '--json', join(dir, 'r.json'), '--dump', join(dir, 'd.json'));
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/verdict: (STABLE|EXPLODING|VANISHING|DIVERGED)/);
    const report = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8'));
    expect(report.schema).toBe('gradstorm.run/1');
    expect(report.steps).toHaveLength(3);
    expect(report.steps[0].layers).toHaveLength(5);
    expect(Object.keys(report.steps[0].layers[0]).sort()).toEqual(
      ['activationNorm', 'biasGradNorm', 'deltaNorm', 'index', 'maxAbsGrad', 'nonfinite', 'weightGradNorm', 'weightNorm'].sort(),
    );
    expect(report.adapter.vendor).toBeTruthy();
    expect(['stable', 'exploding', 'vanishing', 'diverged']).toContain(report.verdict.status);
    const dump = JSON.parse(readFileSync(join(dir, 'd.json'), 'utf8'));
    expect(dump.schema).toBe('gradstorm.dump/1');
    expect(dump.params.map((p: { name: string }) => p.name)).toEqual(['W1', 'b1', 'W2', 'b2', 'W3', 'b3', 'W4', 'b4', 'W5', 'b5']);
    expect(dump.params[0].shape).toEqual([9, 4]);
    expect(dump.grads[8].shape).toEqual([3, 9]);
    expect(dump.input.shape).toEqual([2, 4]);
    expect(readdirSync(dir).sort()).toEqual(['d.json', 'r.json']); // no temporary files left
    expectValid(join(dir, 'r.json'), 'run-mlp');
    expectValid(join(dir, 'd.json'), 'dump');
    // The two verdicts, one line each, under the status line.
    expect(r.stdout).toMatch(/^gradient at init: (exploding|vanishing|stable): /m);
    expect(r.stdout).toMatch(/^training: (finite|diverged|rescued by clipping) — /m);
    expect(report.verdict.training).toMatchObject({ steps: 3 });
  });

  it('stress --model rnn writes a run report and a dump that validate, and prints the two verdicts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradstorm-'));
    const r = gradstorm('stress', '--model', 'rnn', '--seq-len', '4', '--width', '3', '--batch', '2', '--steps', '2', '--clip', 'norm:0.001', '--json', join(dir, 'r.json'), '--dump', join(dir, 'd.json'));
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expectValid(join(dir, 'r.json'), 'run-rnn');
    expectValid(join(dir, 'd.json'), 'dump');
    expect(r.stdout).toMatch(/^gradient at init: \w+: /m);
    // A clip threshold of 0.001 clips every step; tanh at gain 1 does not explode, so that is no rescue.
    expect(r.stdout).toMatch(/^training: finite — all 2 steps are finite, clipped at 2 of 2 steps/m);
  });

  it('sweep --shard 1/2 runs every other grid point and writes JSON and CSV', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradstorm-'));
    const r = gradstorm('sweep', '--depths', '3,6', '--gains', '1:1.5:0.5', '--activations', 'relu', '--width', '8', '--batch', '2', '--shard', '1/2', '--json', join(dir, 's.json'));
    expect(r.code).toBe(0);
    const sweep = JSON.parse(readFileSync(join(dir, 's.json'), 'utf8'));
    expect(sweep.schema).toBe('gradstorm.sweep/1');
    expect(sweep.points.map((p: { index: number }) => p.index)).toEqual([1, 3]);
    const csv = readFileSync(join(dir, 's.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toMatch(/^index,activation,depth,gain,status,measuredGrowthPerLayer,predictedGrowthPerLayer/);
    expect(csv).toHaveLength(3);
    expectValid(join(dir, 's.json'), 'sweep');
  });

  it('bench prints the tables with plain-JS ratios and writes a valid gradstorm.bench/1 report atomically', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradstorm-'));
    const json = join(dir, 'bench.json');
    const r = gradstorm('bench', '--kernels', 'matmul', '--sizes', '48', '--shapes', 'nt:5x9x17', '--variants', 'register', '--runs', '2', '--baselines', 'plain-js', '--json', json);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^matmul \(GFLOP\/s\)$/m);
    expect(r.stdout).toMatch(/^matmul\.nn\s+48×48×48\s+register\s.*\d×\s/m);
    expect(r.stdout).toMatch(/^matmul\.nt\s+5×9×17\s+plain-js\s/m);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    expect(validateBenchReport(report)).toBeNull();
    expectValid(json, 'bench');
    expect(report.entries).toHaveLength(4);
    expect(report.ratios).toHaveLength(4);
    expect(readdirSync(dir)).toEqual(['bench.json']);
  });

  it('bench --kernels mlp-step prints the PyTorch CPU (float32) line beside the step and records it in the report', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradstorm-'));
    const json = join(dir, 'bench.json');
    // plain JS has no training step: gradstorm's step and PyTorch's only (tests/torch needs python3-torch too).
    const r = gradstorm('bench', '--kernels', 'mlp-step', '--no-tune', '--runs', '1', '--baselines', 'plain-js', '--json', json);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^mlp\.step\s+depth 50, width 256, batch 64\s/m);
    expect(r.stdout).toMatch(/^PyTorch CPU \(float32\), torch \S+, \d+ threads?: mlp\.step depth 50, width 256, batch 64 [\d.]+ ms \(median of \d+, .*\); gradstorm [\d.]+ ms = [\d.]+× PyTorch's time \((gradstorm|PyTorch) [\d.]+× faster\)$/m);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    expectValid(json, 'bench');
    expect(report.pytorch).toMatchObject({ kernel: 'mlp.step', shape: 'depth 50, width 256, batch 64', label: 'PyTorch CPU (float32)' });
    expect(report.pytorch.gradstormMs).toBe(report.entries[0].ms);
    expect(report.pytorch.gradstormOverPytorch).toBeCloseTo(report.entries[0].ms / report.pytorch.ms, 10);
  });

  it('tune measures a model\'s shape classes once, keeps them per adapter, and stress then uses them without measuring', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradstorm-'));
    // A cache of this test's own: what it measures must not depend on the other tests.
    const cache = mkdtempSync(join(tmpdir(), 'gradstorm-cache-'));
    const gradstorm = (...args: string[]) => gradstormWithCache(cache, ...args);
    const model = ['--depth', '3', '--width', '12', '--batch', '4'];
    const first = gradstorm('tune', ...model, '--squares', 'none', '--json', join(dir, 't.json'));
    expect(first.stderr).not.toMatch(/Error/);
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(/autotuner: measuring 3 matmul shape class\(es\)/);
    // Which tiling wins at these tiny shapes is a timing outcome (register or subgroup here); the row names one.
    expect(first.stdout).toMatch(/^matmul\/nt\/sss\/v4\s+(register|tiled|subgroup)-\S+\s+[\d.]+\s.*this run$/m);
    const table = JSON.parse(readFileSync(join(dir, 't.json'), 'utf8'));
    expect(table.schema).toBe('gradstorm.tuning/1');
    expect(Object.keys(table.entries).sort()).toEqual(['matmul/nn/sss/v4', 'matmul/nt/sss/v4', 'matmul/tn/sss/v4']);
    // The cache holds the table; a stress run of the same model reads it and measures nothing.
    expect(readdirSync(cache)).toEqual([expect.stringMatching(/^tuning-[0-9a-f]{8}\.json$/)]);
    const stress = gradstorm('stress', ...model);
    expect(stress.code).toBe(0);
    expect(stress.stderr).not.toMatch(/autotuner/);
  });

  it('check runs a kernel family, reports passes and writes a gradstorm.check/1 report that validates', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradstorm-'));
    const r = gradstorm('check', '--family', 'elementwise', '--json', join(dir, 'c.json'));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^42 passed, 0 failed/m);
    expectValid(join(dir, 'c.json'), 'check');
  });
});

describe('flag helpers', () => {
  it('expands gain ranges with the stop included', () => {
    expect(numberListFlag('gains', '0.8:1.2:0.1', 0, 10)).toEqual([0.8, 0.9, 1, 1.1, 1.2]);
    expect(numberListFlag('gains', '1,2.5', 0, 10)).toEqual([1, 2.5]);
    expect(() => numberListFlag('gains', '1:0:0.1', 0, 10)).toThrow(/start:stop:step/);
  });
  it('splits a grid into disjoint shards that cover it', () => {
    const grid = { depths: [1, 2, 3], gains: [1, 2], activations: ['relu' as const], shard: { index: 0, count: 1 } };
    const all = sweepGrid(grid).map((p) => p.index);
    const parts = [0, 1, 2].flatMap((i) => sweepGrid({ ...grid, shard: parseShard(`${i}/3`) }).map((p) => p.index));
    expect(parts.sort((a, b) => a - b)).toEqual(all);
  });
});

describe('gradstorm CLI: --model lstm', () => {
  it.each([
    [['stress', '--model', 'lstm', '--bptt', '3'], /--bptt does not apply to --model lstm: the LSTM runs full BPTT/],
    [['stress', '--model', 'lstm', '--activation', 'relu'], /--activation does not apply to --model lstm/],
    [['stress', '--model', 'lstm', '--forget-bias', 'x'], /--forget-bias: 'x' is not a number in \[-100, 100\]/],
    [['stress', '--model', 'lstm', '--task', 'adding', '--output', '2'], /--output 2: the adding problem has 1 output/],
    [['sweep', '--model', 'lstm', '--seq-len', '5'], /sweep --model lstm takes --seq-lens \(a list\) instead of --seq-len/],
  ])('%j: exit 2 and the flag named', (args, message) => {
    const r = gradstorm(...(args as string[]));
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
  });

  it('stress --model lstm --task adding writes a run report and a dump (W_ih, W_hh, b, W_hy, b_y) that validate, and prints the forget-gate theory line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradstorm-'));
    const r = gradstorm('stress', '--model', 'lstm', '--task', 'adding', '--seq-len', '6', '--width', '3', '--batch', '2', '--forget-bias', '2', '--variant', 'register', '--json', join(dir, 'r.json'), '--dump', join(dir, 'd.json'));
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expectValid(join(dir, 'r.json'), 'run-lstm');
    expectValid(join(dir, 'd.json'), 'dump');
    const dump = JSON.parse(readFileSync(join(dir, 'd.json'), 'utf8'));
    expect(dump.params.map((p: { name: string; shape: number[] }) => [p.name, p.shape])).toEqual([['W_ih', [12, 2]], ['W_hh', [12, 3]], ['b', [12]], ['W_hy', [1, 3]], ['b_y', [1]]]);
    expect(r.stdout).toMatch(/^t\s+‖∂L\/∂h_t‖\s+‖∂L\/∂c_t‖\s+‖f⊙∂c‖\s+rms f/m);
    expect(r.stdout).toMatch(/^theory: cell path ∂c_\{t−1\} = f_t ⊙ ∂c_t: .* forget bias 2 \(σ\(b_f\) = 0\.881\)$/m);
    expect(r.stdout).toMatch(/^cell gradient per step: measured -?\d\.\d+ decades, predicted from the forget gates -?\d\.\d+/m);
  });
  it('sweep --model lstm runs a seq-len × forget-bias grid, one LSTM per point, and records the measured and predicted cell-gradient rates', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradstorm-'));
    const json = join(dir, 's.json');
    const r = gradstorm('sweep', '--model', 'lstm', '--task', 'adding', '--seq-lens', '4,7', '--forget-biases', '0,3', '--width', '5', '--batch', '2', '--variant', 'register', '--json', json);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^sweep: 4 point\(s\) \(shard 0\/1\) of an LSTM \(width 5, batch 2, task adding\) over seq-lens 4,7 × forget biases 0,3 × W_hh gains 0\.5774$/m);
    expectValid(json, 'sweep');
    const sweep = JSON.parse(readFileSync(json, 'utf8'));
    expect(sweep.grid).toEqual({ model: 'lstm', seqLens: [4, 7], forgetBiases: [0, 3], gains: [sweep.base.gain] });
    expect(sweep.points.map((p: { seqLen: number; forgetBias: number }) => [p.seqLen, p.forgetBias])).toEqual([[4, 0], [7, 0], [4, 3], [7, 3]]);
    for (const p of sweep.points) {
      // The rates are per step back, negative (the cell gradient decays); the forget gates' prediction is their own number.
      expect(p.measuredCellGrowthPerStep).toBeLessThan(0);
      expect(p.predictedCellGrowthPerStep).toBeLessThan(0);
      expect(p.growthPerStep).toBe(p.measuredCellGrowthPerStep);
      expect(p.fittedTimesteps[1]).toBe(p.seqLen);
      expect(p.predictionMethod).toBe('lstm-cell-path');
    }
    // A larger forget bias keeps more of the cell gradient per step (σ(3) = 0.95 against σ(0) = 0.5), measured and predicted.
    const at = (T: number, b: number) => sweep.points.find((p: { seqLen: number; forgetBias: number }) => p.seqLen === T && p.forgetBias === b);
    expect(at(7, 3).measuredCellGrowthPerStep).toBeGreaterThan(at(7, 0).measuredCellGrowthPerStep);
    expect(at(7, 3).predictedCellGrowthPerStep).toBeGreaterThan(at(7, 0).predictedCellGrowthPerStep);
    expect(at(7, 3).meanForgetRms).toBeGreaterThan(0.9);
    expect(r.stdout).toMatch(/^T\s+forget bias\s+gain\s+status\s+measured ∂c\/step\s+predicted \(forget gates\)/m);
    expect(readFileSync(join(dir, 's.csv'), 'utf8').split('\n')[0]).toMatch(/^index,model,seqLen,forgetBias,gain,status,measuredCellGrowthPerStep,predictedCellGrowthPerStep,agrees,/);
  });
});
