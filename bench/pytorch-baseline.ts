/**
 * The PyTorch CPU baseline of the MLP step: the same step (depth, width,
 * batch, activation, loss, optimizer) in plain PyTorch, float32, on the
 * machine's CPU cores — the figure a user without a GPU compares against.
 * This module is browser-safe: the Python program as text, the spec it reads,
 * the parsing of what it prints and the report's figure. Node spawns it
 * (src/cli/pytorch.ts); the page and the Chrome runtime have no PyTorch.
 */
import type { MlpConfig } from '../src/models/config.ts';
import { OPTIMIZER_DEFAULTS } from '../src/kernels/optim.ts';
import { summarize } from './stats.ts';
import type { BenchPytorch } from './report.ts';

/** What the Python program builds and times (JSON on its command line). */
export interface PytorchStepSpec {
  depth: number;
  width: number;
  input: number;
  output: number;
  batch: number;
  activation: MlpConfig['activation'];
  loss: MlpConfig['loss'];
  optimizer: MlpConfig['optimizer'];
  lr: number;
  /** Gaussian weights N(0, gain²/fan_in), as gradstorm's init. */
  gain: number;
  momentum: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Timed steps (the median is the figure), after `warmup` untimed ones. */
  runs: number;
  warmup: number;
  /** torch.set_num_threads: the machine's cores. */
  threads: number;
}

/** At least this many timed steps: the median of several. */
export const PYTORCH_MIN_RUNS = 5;

export function pytorchStepSpec(config: MlpConfig, runs: number, threads: number): PytorchStepSpec {
  const { depth, width, input, output, batch, activation, loss, optimizer, lr, gain } = config;
  const { momentum, beta1, beta2, eps } = OPTIMIZER_DEFAULTS;
  return { depth, width, input, output, batch, activation, loss, optimizer, lr, gain, momentum, beta1, beta2, eps, runs: Math.max(runs, PYTORCH_MIN_RUNS), warmup: 1, threads };
}

/**
 * The program (run as `python3 - SPEC_JSON`, the text on stdin): builds the
 * MLP in float32 (hidden layers h = φ(h Wᵀ + b), a linear readout), and per
 * step zeroes the gradients, runs forward, the loss (probe Σ g⊙y or mse),
 * backward and the optimizer step, and reads the loss back (.item(): the
 * step is done). Prints one JSON line {torch, threads, samplesMs}.
 */
export const PYTORCH_MLP_STEP_PROGRAM = String.raw`
import json, math, sys, time
import torch
s = json.loads(sys.argv[1])
torch.set_num_threads(s['threads'])
torch.manual_seed(1)
f32 = torch.float32
params = []
for l in range(1, s['depth'] + 1):
    fan_in = s['input'] if l == 1 else s['width']
    fan_out = s['output'] if l == s['depth'] else s['width']
    params.append((torch.randn(fan_out, fan_in, dtype=f32) * (s['gain'] / math.sqrt(fan_in))).requires_grad_())
    params.append(torch.zeros(fan_out, dtype=f32, requires_grad=True))
phi = {'relu': torch.relu, 'tanh': torch.tanh, 'linear': lambda z: z}[s['activation']]
x = torch.randn(s['batch'], s['input'], dtype=f32)
target = torch.randn(s['batch'], s['output'], dtype=f32)
opt = {
    'sgd': lambda: torch.optim.SGD(params, lr=s['lr']),
    'momentum': lambda: torch.optim.SGD(params, lr=s['lr'], momentum=s['momentum']),
    'adam': lambda: torch.optim.Adam(params, lr=s['lr'], betas=(s['beta1'], s['beta2']), eps=s['eps']),
}[s['optimizer']]()
def step():
    opt.zero_grad(set_to_none=True)
    h = x
    for l in range(s['depth']):
        z = torch.nn.functional.linear(h, params[2 * l], params[2 * l + 1])
        h = z if l == s['depth'] - 1 else phi(z)
    loss = ((h - target) ** 2).mean() if s['loss'] == 'mse' else (h * target).sum()
    loss.backward()
    opt.step()
    return loss.item()
for _ in range(s['warmup']):
    step()
samples = []
for _ in range(s['runs']):
    start = time.perf_counter()
    step()
    samples.append((time.perf_counter() - start) * 1000)
print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads(), 'samplesMs': samples}))
`;

/** What the program measured. */
export interface PytorchStepTiming {
  torchVersion: string;
  threads: number;
  samplesMs: number[];
}

/**
 * The program's output: its last non-empty line is the JSON. Throws an
 * Error saying what is wrong with anything else.
 */
export function parsePytorchStepOutput(stdout: string): PytorchStepTiming {
  const last = stdout.trim().split('\n').pop()?.trim() ?? '';
  let json: unknown;
  try {
    json = JSON.parse(last);
  } catch {
    throw new Error(`the PyTorch step printed no JSON line (last line: ${JSON.stringify(last.slice(0, 120))})`);
  }
  const o = json as { torch?: unknown; threads?: unknown; samplesMs?: unknown };
  if (typeof o !== 'object' || o === null || typeof o.torch !== 'string' || !Number.isInteger(o.threads) || (o.threads as number) < 1) {
    throw new Error(`the PyTorch step's JSON lacks torch (string) or threads (integer ≥ 1): ${last.slice(0, 120)}`);
  }
  if (!Array.isArray(o.samplesMs) || o.samplesMs.length === 0 || !o.samplesMs.every((v) => typeof v === 'number' && Number.isFinite(v) && v > 0)) {
    throw new Error(`the PyTorch step's samplesMs must be a non-empty list of positive milliseconds: ${last.slice(0, 120)}`);
  }
  return { torchVersion: o.torch, threads: o.threads as number, samplesMs: o.samplesMs as number[] };
}

export const PYTORCH_LABEL = 'PyTorch CPU (float32)';
/** The `variant` of a `skipped` item that says why the PyTorch figure is absent. */
export const PYTORCH_VARIANT = 'pytorch-cpu';

export function pytorchFigure(timing: PytorchStepTiming, step: { kernel: string; shape: string }, gradstormMs: number | undefined): BenchPytorch {
  const { medianMs, minMs, maxMs, runs } = summarize(timing.samplesMs);
  return {
    kernel: step.kernel,
    shape: step.shape,
    label: PYTORCH_LABEL,
    torchVersion: timing.torchVersion,
    threads: timing.threads,
    ms: medianMs,
    minMs,
    maxMs,
    runs,
    ...(gradstormMs !== undefined ? { gradstormMs, gradstormOverPytorch: gradstormMs / medianMs } : {}),
  };
}

function ms(value: number): string {
  return value >= 100 ? value.toFixed(0) : value.toPrecision(3);
}

/** The line the CLI prints under the tables. */
export function describePytorch(p: BenchPytorch): string {
  const head = `${p.label}, torch ${p.torchVersion}, ${p.threads} thread${p.threads === 1 ? '' : 's'}: ${p.kernel} ${p.shape} ${ms(p.ms)} ms (median of ${p.runs}, ${ms(p.minMs)}–${ms(p.maxMs)})`;
  if (p.gradstormMs === undefined || p.gradstormOverPytorch === undefined) return `${head}; gradstorm's step did not run`;
  const r = p.gradstormOverPytorch;
  const verdict = r <= 1 ? `gradstorm ${(1 / r).toPrecision(3)}× faster` : `PyTorch ${r.toPrecision(3)}× faster`;
  return `${head}; gradstorm ${ms(p.gradstormMs)} ms = ${r.toPrecision(3)}× PyTorch's time (${verdict})`;
}
