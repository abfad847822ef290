// `gradstorm sweep --model lstm` without a GPU: the flags and the grid, every
// point's config validated before anything runs, the point a run gives, the
// report against the sweep schema, the fingerprint (the model enters it),
// --resume and the merge of LSTM shards. tests/cli/cli.test.ts runs a tiny
// LSTM sweep end to end.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../src/cli/flags.ts';
import { lstmPointConfig, lstmSweepGrid, lstmSweepPoint } from '../../src/cli/lstm-sweep.ts';
import { ForeignShardError, mergeShards, shardFiles } from '../../src/cli/merge.ts';
import {
  anyPointKey,
  parseSweep,
  parseSweepCommand,
  readResumedPoints,
  runSweep,
  sweepCsv,
  sweepDocument,
  sweepFingerprint,
  sweepGridSpec,
  sweepTable,
  type AnySweepPoint,
  type LstmSweepCommand,
} from '../../src/cli/sweep.ts';
import { LSTM_DEFAULTS, type LstmConfig } from '../../src/models/lstm.ts';
import type { LstmRunReport } from '../../src/scheduler/lstm-run.ts';
import { validateReport } from '../../src/report/schema.ts';

const ADAPTER = { vendor: 'v', architecture: 'a', description: 'd', device: 'x', software: true, backend: 'vulkan' };
const GRID = ['--model', 'lstm', '--seq-lens', '4,7', '--forget-biases', '0,1.5', '--gains', '0,0.5', '--width', '5', '--batch', '3', '--task', 'adding'];

function lstmCommand(args: string[]): LstmSweepCommand {
  const c = parseSweepCommand(args);
  if (c.model !== 'lstm') throw new Error('expected an LSTM sweep');
  return c;
}

/** A run report with the fields a sweep point reads (the theory of a made-up run: decay 0.1 decades per step, predicted 0.12). */
function fakeReport(config: LstmConfig): LstmRunReport {
  const decay = -0.1 - 0.02 * config.forgetBias;
  return {
    steps: [{ loss: 0.7 }, { loss: 0.5 }],
    verdict: {
      status: 'stable', growthPerStep: decay, totalChangeDecades: decay * (config.seqLen - 1), firstNonfiniteStep: null,
      predictionMethod: 'lstm-cell-path', predictionNote: '', fittedTimesteps: [1, config.seqLen],
      cellTheory: { measuredGrowthPerStep: decay, predictedGrowthPerStep: decay - 0.02, forgetRmsGrowthPerStep: -0.3, meanForgetRms: 0.5, fittedTimesteps: [1, config.seqLen], agrees: true, tolerance: 0.05 },
    },
  } as unknown as LstmRunReport;
}

describe('sweep --model lstm: flags and grid', () => {
  it('makes seq-lens × forget-biases × gains (seq-lens innermost), each point the base with its T, b_f and W_hh gain', () => {
    const c = lstmCommand(GRID);
    expect(c.base).toMatchObject({ model: 'lstm', width: 5, batch: 3, task: 'adding', loss: 'mse', input: 2, output: 1 });
    const grid = lstmSweepGrid(c);
    expect(grid.map((p) => [p.index, p.seqLen, p.forgetBias, p.gain])).toEqual([
      [0, 4, 0, 0], [1, 7, 0, 0], [2, 4, 1.5, 0], [3, 7, 1.5, 0],
      [4, 4, 0, 0.5], [5, 7, 0, 0.5], [6, 4, 1.5, 0.5], [7, 7, 1.5, 0.5],
    ]);
    expect(lstmPointConfig(c.base, grid[6])).toEqual({ ...c.base, seqLen: 4, forgetBias: 1.5, gain: 0.5 });
    // A shard takes every n-th point; the shards together are the grid.
    const shard = lstmCommand([...GRID, '--shard', '1/3']);
    expect(lstmSweepGrid(shard).map((p) => p.index)).toEqual([1, 4, 7]);
    // Defaults: T 100, forget biases 0, 1, 3, the base's W_hh gain (its --gain default).
    const d = lstmCommand(['--model', 'lstm', '--width', '4']);
    expect([d.seqLens, d.forgetBiases, d.gains]).toEqual([[100], [0, 1, 3], [LSTM_DEFAULTS.gain]]);
    // A list starting with a negative value needs the = form (node's parseArgs).
    expect(lstmCommand(['--model', 'lstm', '--forget-biases=-2,1']).forgetBiases).toEqual([-2, 1]);
  });

  it.each([
    [['--seq-len', '5'], /sweep --model lstm takes --seq-lens \(a list\) instead of --seq-len/],
    [['--forget-bias', '1'], /takes --forget-biases \(a list\) instead of --forget-bias/],
    [['--gain', '1'], /takes --gains \(a list\) instead of --gain/],
    [['--depths', '3'], /--depths does not apply to sweep --model lstm/],
    [['--activations', 'relu'], /--activations does not apply to sweep --model lstm/],
    [['--activation', 'relu'], /--activation does not apply to --model lstm/],
    [['--dump', 'x.json'], /--dump applies to stress, not sweep/],
    [['--seq-lens', '4,0'], /--seq-lens: '0' is not an integer in \[1, /],
    [['--forget-biases', '0,101'], /--forget-biases: '101' is not a number in \[-100, 100\]/],
    [['--gains=-1'], /--gains: '-1' is not a number in \[0, 1000000\]/],
    // Every point is checked before any runs: T 1 has no adding problem (one marker in each half).
    [['--task', 'adding', '--seq-lens', '5,1'], /^--seq-lens \(at lstm T 1 forget bias 0 gain 0\.5774\): --seq-len 1: the adding problem needs T ≥ 2/],
    [['--resume'], /--resume reads the finished points from the --json file/],
  ])('%j: refused, naming the flag', (extra, message) => {
    expect(() => parseSweepCommand(['--model', 'lstm', '--width', '4', ...(extra as string[])])).toThrow(UsageError);
    expect(() => parseSweepCommand(['--model', 'lstm', '--width', '4', ...(extra as string[])])).toThrow(message);
  });

  it('the MLP sweep is what it was, and --model rnn is still refused', () => {
    expect(parseSweepCommand(['--depths', '3', '--gains', '1'])).toEqual(parseSweep(['--depths', '3', '--gains', '1']));
    expect(() => parseSweepCommand(['--model', 'rnn'])).toThrow(/an RNN runs with gradstorm stress --model rnn/);
    expect(() => parseSweepCommand(['--seq-lens', '3'])).toThrow(UsageError);
  });
});

describe('sweep --model lstm: points, report, resume, merge', () => {
  const command = lstmCommand([...GRID, '--seq-lens', '4', '--gains', '0.5']);

  it('runs one LSTM per point and keeps the measured and predicted cell-gradient rates; the report passes the sweep schema', async () => {
    const configs: LstmConfig[] = [];
    const { points, interruption } = await runSweep(null, command, undefined, {
      runLstmPoint: async (config) => {
        configs.push(config);
        return fakeReport(config);
      },
    });
    expect(interruption).toBeNull();
    expect(configs.map((c) => [c.seqLen, c.forgetBias, c.gain])).toEqual([[4, 0, 0.5], [4, 1.5, 0.5]]);
    expect(points[1]).toMatchObject({
      model: 'lstm', index: 1, seqLen: 4, forgetBias: 1.5, gain: 0.5, status: 'stable',
      measuredCellGrowthPerStep: -0.13, predictedCellGrowthPerStep: -0.15, agrees: true, growthPerStep: -0.13, meanForgetRms: 0.5,
      fittedTimesteps: [1, 4], predictionMethod: 'lstm-cell-path', finalLoss: 0.5,
    });
    const doc = JSON.parse(JSON.stringify(sweepDocument(command, '0.0.0', ADAPTER, points, null)));
    expect(doc.grid).toEqual({ model: 'lstm', seqLens: [4], forgetBiases: [0, 1.5], gains: [0.5] });
    const v = validateReport(doc);
    expect(v.ok && v.kind).toBe('sweep');
    // An MLP point in an LSTM sweep, or a point without its rate fields, is named by path.
    const mixed = { ...doc, points: [{ ...doc.points[0], model: undefined }] };
    expect(validateReport(JSON.parse(JSON.stringify(mixed)))).toMatchObject({ ok: false, errors: expect.arrayContaining([expect.stringMatching(/^points\[0\]\.depth: /)]) });
    const { predictedCellGrowthPerStep: _dropped, ...lacking } = doc.points[0];
    expect(validateReport({ ...doc, points: [lacking] })).toMatchObject({ ok: false, errors: [expect.stringMatching(/^points\[0\]\.predictedCellGrowthPerStep: expected number/)] });
    expect(validateReport({ ...doc, grid: { depths: [3], gains: [1], activations: ['relu'] } })).toMatchObject({ ok: false, errors: [expect.stringMatching(/^grid\.model: a mlp grid in a sweep of --model lstm/)] });
    // The table and the CSV have the LSTM's columns.
    expect(sweepTable(points)).toMatch(/forget bias.*measured ∂c\/step.*predicted \(forget gates\)/);
    const csv = sweepCsv(points).split('\n');
    expect(csv[0]).toBe('index,model,seqLen,forgetBias,gain,status,measuredCellGrowthPerStep,predictedCellGrowthPerStep,agrees,forgetRmsGrowthPerStep,meanForgetRms,growthPerStep,totalChangeDecades,predictionMethod,finalLoss,ms,error');
    expect(csv[2]).toMatch(/^1,lstm,4,1\.5,0\.5,stable,-0\.13,-0\.15,true,/);
  });

  it('an interrupted LSTM run ends the sweep with the finished points (the cut point dropped); a kernel error is recorded and the sweep goes on', async () => {
    let calls = 0;
    const cut = await runSweep(null, lstmCommand(GRID), undefined, {
      runLstmPoint: async (config) => {
        calls++;
        if (calls === 1) return { ...fakeReport(config), interruption: { reason: 'kernel-error', stepReached: 1, message: 'a kernel failed' } } as LstmRunReport;
        if (calls === 3) return { ...fakeReport(config), interruption: { reason: 'SIGINT', stepReached: 1, message: 'Ctrl-C' } } as LstmRunReport;
        return fakeReport(config);
      },
    });
    expect(cut.points.map((p) => [p.index, p.status, p.error ?? null])).toEqual([[0, 'error', 'a kernel failed'], [1, 'stable', null]]);
    expect(cut.interruption).toMatchObject({ reason: 'SIGINT', stepReached: 2, message: expect.stringMatching(/^sweep stopped at lstm T 4 forget bias 1\.5 gain 0 \(Ctrl-C\): 2 of 8 point\(s\) finished$/) });
    // The report of a cut sweep is valid, the error point included.
    expect(validateReport(JSON.parse(JSON.stringify(sweepDocument(lstmCommand(GRID), '0.0.0', ADAPTER, cut.points, cut.interruption))))).toMatchObject({ ok: true });
  });

  it('fingerprints the model and the grid; --resume keeps the finished points of the same sweep only', async () => {
    const { points } = await runSweep(null, command, undefined, { runLstmPoint: async (config) => fakeReport(config) });
    const fp = sweepFingerprint(sweepGridSpec(command), command.base);
    expect(fp).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(sweepFingerprint(sweepGridSpec(lstmCommand([...GRID, '--seq-lens', '5', '--gains', '0.5'])), command.base)).not.toBe(fp);
    // Same lists, other model: an MLP grid of the same gains is another sweep.
    expect(sweepFingerprint({ depths: [4], gains: [0.5], activations: ['relu'] }, command.base)).not.toBe(fp);
    const dir = mkdtempSync(join(tmpdir(), 'gradstorm-lstm-sweep-'));
    const file = join(dir, 's.json');
    writeFileSync(file, JSON.stringify(sweepDocument(command, '0.0.0', ADAPTER, points.slice(0, 1), null)));
    const resumed = readResumedPoints(file, { ...command, resume: true, json: file });
    expect(resumed.map(anyPointKey)).toEqual(['0|lstm|4|0|0.5']);
    // runSweep runs only the missing point.
    const ran: number[] = [];
    const all = await runSweep(null, command, undefined, { resumed, runLstmPoint: async (config) => (ran.push(config.forgetBias), fakeReport(config)) });
    expect(ran).toEqual([1.5]);
    expect(all.points.map((p) => p.index)).toEqual([0, 1]);
    // Another grid, or an MLP sweep, is refused by name.
    expect(() => readResumedPoints(file, lstmCommand([...GRID, '--seq-lens', '5', '--gains', '0.5', '--json', file, '--resume']))).toThrow(/holds a different sweep \(grid\.seqLens: file \[4\], this command \[5\]\)/);
    expect(() => readResumedPoints(file, parseSweep(['--depths', '4', '--json', file, '--resume']))).toThrow(/holds a different sweep \(grid\.model: file "lstm", this command undefined/);
  });

  it('merges LSTM shards into the one-process report, names a missing point, and refuses an MLP shard', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradstorm-lstm-merge-'));
    const full = lstmCommand(GRID);
    const shards = [0, 1].map((i) => ({ ...full, shard: { index: i, count: 2 } }));
    for (const [i, shard] of shards.entries()) {
      const { points } = await runSweep(null, shard, undefined, { runLstmPoint: async (config) => fakeReport(config) });
      // Shard 1 lost its last point.
      const kept: AnySweepPoint[] = i === 1 ? points.slice(0, -1) : points;
      writeFileSync(join(dir, `shard-${i}.json`), JSON.stringify(sweepDocument(shard, '0.0.0', ADAPTER, kept, null)));
    }
    const r = mergeShards(shardFiles(dir));
    expect(r.total).toBe(8);
    expect(r.document.points.map((p) => p.index)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(r.missing).toEqual([{ model: 'lstm', index: 7, seqLen: 7, forgetBias: 1.5, gain: 0.5 }]);
    expect(validateReport(JSON.parse(JSON.stringify(r.document)))).toMatchObject({ ok: true, kind: 'sweep' });
    const mlp = parseSweep(['--depths', '3', '--gains', '1', '--width', '4']);
    writeFileSync(join(dir, 'shard-2.json'), JSON.stringify(sweepDocument(mlp, '0.0.0', ADAPTER, [], null)));
    expect(() => mergeShards(shardFiles(dir))).toThrow(ForeignShardError);
  });
});
