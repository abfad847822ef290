/**
 * gradstorm against PyTorch: small, awkward models run on the GPU through the
 * engine API with a dump, and scripts/torch-crosscheck.py rebuilds each in
 * torch float64 and compares the loss and every gradient (its contract: exit
 * 0 when all are within 1e-4 of max |g|, 1 naming the tensors that are not,
 * 2 for a dump it cannot check). PyTorch is a test dependency
 * (scripts/ensure-env.js installs python3-torch): without it these tests
 * fail and say how to install it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testGpu } from '../support/gpu.ts';
import { runStress } from '../../src/scheduler/run.ts';
import { runRnnStress } from '../../src/scheduler/rnn-run.ts';
import { MLP_DEFAULTS, type MlpConfig } from '../../src/models/config.ts';
import { RNN_DEFAULTS, type RnnConfig } from '../../src/models/rnn.ts';
import { runLstmStress } from '../../src/scheduler/lstm-run.ts';
import { LSTM_DEFAULTS, type LstmConfig } from '../../src/models/lstm.ts';
import { findTorchPython, runPytorchMlpStep, type TorchPython } from '../../src/cli/pytorch.ts';

const script = join(import.meta.dirname, '..', '..', 'scripts', 'torch-crosscheck.py');
const dir = mkdtempSync(join(tmpdir(), 'gradstorm-torch-'));
const TOLERANCE = 1e-4;

interface TensorResult {
  name: string;
  shape: number[];
  error: number | null;
  ok: boolean;
}
interface CrosscheckResult {
  dump: string;
  model?: string;
  ok: boolean;
  error?: string;
  loss?: { error: number | null; ok: boolean };
  tensors?: TensorResult[];
  failed?: string[];
}

// Non-square everywhere (input ≠ width ≠ output, batch ≠ all), as the GPU tests do.
const mlp = (over: Partial<MlpConfig>): MlpConfig => ({ ...MLP_DEFAULTS, depth: 4, width: 7, input: 5, output: 3, batch: 6, biasStd: 0.2, seed: 3, ...over });
const rnn = (over: Partial<RnnConfig>): RnnConfig => ({ ...RNN_DEFAULTS, seqLen: 7, width: 6, input: 3, output: 2, batch: 5, biasStd: 0.2, seed: 3, ...over });

const lstm = (over: Partial<LstmConfig>): LstmConfig => ({ ...LSTM_DEFAULTS, seqLen: 6, width: 5, input: 3, output: 2, batch: 4, seed: 3, ...over });

const cases: { name: string; config: MlpConfig | RnnConfig | LstmConfig }[] = [
  { name: 'plain MLP, relu, mse', config: mlp({ activation: 'relu', loss: 'mse' }) },
  { name: 'plain MLP, tanh, probe', config: mlp({ activation: 'tanh', loss: 'probe' }) },
  { name: 'residual MLP (A 0.4), relu, mse', config: mlp({ depth: 6, width: 9, batch: 5, activation: 'relu', loss: 'mse', residual: 0.4 }) },
  { name: 'residual MLP, LayerNorm pre, tanh, mse', config: mlp({ depth: 5, width: 9, batch: 5, activation: 'tanh', loss: 'mse', residual: 0.5, norm: 'layer', normPlace: 'pre' }) },
  { name: 'residual MLP, LayerNorm post, relu, probe', config: mlp({ depth: 5, width: 9, batch: 5, activation: 'relu', loss: 'probe', residual: 0.5, norm: 'layer', normPlace: 'post' }) },
  { name: 'RNN probe, tanh, loss at every step, truncated BPTT 3', config: rnn({ task: 'probe', loss: 'probe', lossAt: 'all', bptt: 3 }) },
  { name: 'RNN adding problem, relu, orthogonal W_hh, full BPTT', config: rnn({ seqLen: 9, input: 2, output: 1, task: 'adding', loss: 'mse', activation: 'relu', init: 'orthogonal' }) },
  { name: 'LSTM probe (forget bias 1)', config: lstm({ task: 'probe', loss: 'probe' }) },
  { name: 'LSTM adding problem, forget bias 0.5', config: lstm({ seqLen: 8, width: 6, input: 2, output: 1, batch: 3, task: 'adding', loss: 'mse', forgetBias: 0.5 }) },
];

let torch: TorchPython;
const results = new Map<string, CrosscheckResult>();
const dumps = new Map<string, string>();

async function needTorch(): Promise<TorchPython> {
  const found = await findTorchPython();
  if ('missing' in found) throw new Error(`the PyTorch cross-check needs python3 with torch: ${found.missing}`);
  return found;
}

function crosscheck(...files: string[]): { code: number | null; stdout: string; stderr: string; results: CrosscheckResult[] } {
  const r = spawnSync(torch.python, [script, ...files], { encoding: 'utf8', timeout: 60_000 });
  const results = r.stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as CrosscheckResult);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, results };
}

beforeAll(async () => {
  torch = await needTorch();
  const ctx = await testGpu();
  for (const [i, c] of cases.entries()) {
    const { dump } =
      c.config.model === 'mlp' ? await runStress(ctx, c.config, { dump: true }) : c.config.model === 'rnn' ? await runRnnStress(ctx, c.config, { dump: true }) : await runLstmStress(ctx, c.config, { dump: true });
    const file = join(dir, `case-${i}.json`);
    writeFileSync(file, JSON.stringify(dump));
    dumps.set(c.name, file);
  }
  // One Python process for every dump: importing torch is the slow part.
  const r = crosscheck(...dumps.values());
  expect(r.code, r.stdout + r.stderr).toBe(0);
  for (const result of r.results) results.set(result.dump, result);
});

describe('gradstorm\'s first-step gradients agree with PyTorch autograd (float64) within 1e-4 of max |g| per tensor', () => {
  it.each(cases.map((c) => c.name))('%s', (name) => {
    const file = dumps.get(name)!;
    const result = results.get(file)!;
    const dump = JSON.parse(readFileSync(file, 'utf8')) as { grads: { name: string }[] };
    expect(result.ok, JSON.stringify(result)).toBe(true);
    expect(result.loss!.error).not.toBeNull();
    expect(result.loss!.error!).toBeLessThan(TOLERANCE);
    // Every dumped gradient was compared, and each is far inside the tolerance (float32 against float64).
    expect(result.tensors!.map((t) => t.name).sort()).toEqual(dump.grads.map((g) => g.name).sort());
    for (const t of result.tensors!) {
      expect(t.error, t.name).not.toBeNull();
      expect(t.error!, t.name).toBeLessThan(TOLERANCE);
    }
  });
});

describe('torch-crosscheck.py says which tensor disagrees, and refuses what it cannot check', () => {
  it('one gradient entry moved by 1% of its tensor\'s max |g| → exit 1, naming that tensor and no other', () => {
    const dump = JSON.parse(readFileSync(dumps.get(cases[0].name)!, 'utf8')) as { grads: { name: string; data: number[] }[] };
    const W2 = dump.grads.find((g) => g.name === 'W2')!;
    const scale = Math.max(...W2.data.map(Math.abs));
    W2.data[W2.data.length - 1] += 0.01 * scale;
    const file = join(dir, 'perturbed.json');
    writeFileSync(file, JSON.stringify(dump));
    const r = crosscheck(file);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^\s+W2\s+\[7, 7\]\s+\S+\s+\S+\s+FAIL$/m);
    expect(r.stdout).toMatch(/FAILED: W2 above tolerance/);
    expect(r.results[0].failed).toEqual(['W2']);
    const error = r.results[0].tensors!.find((t) => t.name === 'W2')!.error!;
    expect(error).toBeGreaterThan(0.009);
    expect(error).toBeLessThan(0.011);
  });

  it('a model it does not know, or a dump missing a tensor → exit 2 with a message saying what', () => {
    const dump = JSON.parse(readFileSync(dumps.get(cases[0].name)!, 'utf8')) as { config: { model: string }; grads: { name: string }[] };
    const unknown = join(dir, 'unknown.json');
    writeFileSync(unknown, JSON.stringify({ ...dump, config: { ...dump.config, model: 'gru' } }));
    const missing = join(dir, 'missing.json');
    writeFileSync(missing, JSON.stringify({ ...dump, grads: dump.grads.filter((g) => g.name !== 'b3') }));
    const r = crosscheck(unknown, missing);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${unknown}: config.model: "gru" is not a model this script knows (mlp, rnn, lstm)`);
    expect(r.stderr).toContain(`${missing}: grads: tensor b3 is missing`);
  });

  it('the bench\'s PyTorch step program runs a small MLP (tanh, mse, Adam) and reports positive step times', async () => {
    const timing = await runPytorchMlpStep(mlp({ activation: 'tanh', loss: 'mse', optimizer: 'adam' }), 1);
    expect(timing.torchVersion).toBe(torch.torchVersion);
    expect(timing.samplesMs.length).toBeGreaterThanOrEqual(5);
    expect(Math.min(...timing.samplesMs)).toBeGreaterThan(0);
  });
});
