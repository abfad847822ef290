import { describe, expect, it } from 'vitest';
import { PYTORCH_MIN_RUNS, PYTORCH_VARIANT, describePytorch, parsePytorchStepOutput, pytorchFigure, pytorchStepSpec } from '../../bench/pytorch-baseline.ts';
import { mlpBenchConfig } from '../../bench/models.ts';
import { BENCH_MLP } from '../../bench/plan.ts';
import { validateBenchReport, type BenchReport } from '../../bench/report.ts';
import { pytorchSummary } from '../../src/cli/bench.ts';
import { pythonCandidates } from '../../src/cli/pytorch.ts';

const step = { kernel: 'mlp.step', shape: 'depth 50, width 256, batch 64' };

describe('PyTorch CPU baseline of the MLP step: the spec, the output parsing, the figure and its line', () => {
  it('the spec is the bench step (same depth, width, batch, activation, loss, optimizer, init gain) with at least 5 timed runs', () => {
    const config = mlpBenchConfig(BENCH_MLP);
    const spec = pytorchStepSpec(config, 3, 16);
    expect(spec).toMatchObject({ depth: 50, width: 256, input: 256, output: 256, batch: 64, activation: 'relu', loss: 'probe', optimizer: 'sgd', lr: config.lr, gain: config.gain, threads: 16 });
    expect(spec.runs).toBe(PYTORCH_MIN_RUNS);
    expect(pytorchStepSpec(config, 9, 2).runs).toBe(9);
  });

  it('parses the last line of the program\'s output (warnings before it are ignored)', () => {
    const out = 'UserWarning: something\n{"torch": "1.13.1", "threads": 2, "samplesMs": [250.5, 240, 260]}\n';
    expect(parsePytorchStepOutput(out)).toEqual({ torchVersion: '1.13.1', threads: 2, samplesMs: [250.5, 240, 260] });
  });

  it.each([
    ['', /printed no JSON line/],
    ['Traceback (most recent call last):\n  ImportError: no torch', /printed no JSON line \(last line: "ImportError: no torch"\)/],
    ['{"threads": 2, "samplesMs": [1]}', /lacks torch \(string\) or threads/],
    ['{"torch": "1.13", "threads": 0, "samplesMs": [1]}', /lacks torch \(string\) or threads/],
    ['{"torch": "1.13", "threads": 2, "samplesMs": []}', /samplesMs must be a non-empty list of positive milliseconds/],
    ['{"torch": "1.13", "threads": 2, "samplesMs": [1, -3]}', /samplesMs must be a non-empty list/],
  ])('refuses %j with a message saying what is wrong', (out, message) => {
    expect(() => parsePytorchStepOutput(out)).toThrow(message);
  });

  it('the figure is the median of the samples, and the ratio is gradstorm\'s median over it', () => {
    const figure = pytorchFigure({ torchVersion: '1.13.1', threads: 2, samplesMs: [300, 200, 250, 260, 240] }, step, 750);
    expect(figure).toMatchObject({ ...step, label: 'PyTorch CPU (float32)', ms: 250, minMs: 200, maxMs: 300, runs: 5, gradstormMs: 750, gradstormOverPytorch: 3 });
    expect(describePytorch(figure)).toBe(
      'PyTorch CPU (float32), torch 1.13.1, 2 threads: mlp.step depth 50, width 256, batch 64 250 ms (median of 5, 200–300); gradstorm 750 ms = 3.00× PyTorch\'s time (PyTorch 3.00× faster)',
    );
    const faster = pytorchFigure({ torchVersion: '1.13.1', threads: 1, samplesMs: [400] }, step, 100);
    expect(describePytorch(faster)).toMatch(/1 thread: .* 400 ms .*gradstorm 100 ms = 0\.250× PyTorch's time \(gradstorm 4\.00× faster\)$/);
    const alone = pytorchFigure({ torchVersion: '1.13.1', threads: 1, samplesMs: [400] }, step, undefined);
    expect(alone.gradstormOverPytorch).toBeUndefined();
    expect(describePytorch(alone)).toMatch(/gradstorm's step did not run$/);
  });

  it('the CLI\'s line: the figure, else the reason it is absent, else nothing', () => {
    const figure = pytorchFigure({ torchVersion: '1.13.1', threads: 2, samplesMs: [250] }, step, 500);
    expect(pytorchSummary({ pytorch: figure, skipped: [] })).toMatch(/^PyTorch CPU \(float32\), torch 1\.13\.1/);
    const reason = 'PyTorch CPU (float32) absent: no python3 with PyTorch (python3: not found); install it: apt-get install -y python3-torch';
    expect(pytorchSummary({ skipped: [{ ...step, variant: PYTORCH_VARIANT, reason }] })).toBe(reason);
    expect(pytorchSummary({ skipped: [] })).toBeNull();
  });

  it('the report\'s pytorch field is optional and validated (gradstorm.bench/1 stays additive)', () => {
    const base: BenchReport = {
      schema: 'gradstorm.bench/1', version: '0.2.0',
      adapter: { vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader', device: 'd', software: true, backend: 'dawn-node', timestampQuery: false },
      runs: 5, maxSeconds: 60, entries: [], baselines: [], ratios: [], skipped: [],
    };
    expect(validateBenchReport(base)).toBeNull();
    const pytorch = pytorchFigure({ torchVersion: '1.13.1', threads: 2, samplesMs: [250] }, step, 500);
    expect(validateBenchReport({ ...base, pytorch })).toBeNull();
    expect(validateBenchReport({ ...base, pytorch: { ...pytorch, ms: -1 } })).toMatch(/^pytorch\.ms: /);
  });

  it('looks for torch in $GRADSTORM_PYTHON alone, else python3 then Debian\'s /usr/bin/python3', () => {
    expect(pythonCandidates({ GRADSTORM_PYTHON: '/opt/py/bin/python' })).toEqual(['/opt/py/bin/python']);
    expect(pythonCandidates({})).toEqual(['python3', '/usr/bin/python3']);
  });
});
