/**
 * PyTorch from Node: finds a Python that imports torch, and runs the bench's
 * PyTorch CPU step (bench/pytorch-baseline.ts) in it. Node only; the page and
 * the Chrome runtime have no PyTorch figure.
 */
import { execFile } from 'node:child_process';
import { availableParallelism } from 'node:os';
import type { MlpConfig } from '../models/config.ts';
import { PYTORCH_MLP_STEP_PROGRAM, parsePytorchStepOutput, pytorchStepSpec, type PytorchStepTiming } from '../../bench/pytorch-baseline.ts';

/** What to run to get PyTorch on Debian (scripts/ensure-env.js does, as root). */
export const TORCH_INSTALL = 'apt-get install -y python3-torch';

export interface TorchPython {
  /** The interpreter that imports torch. */
  python: string;
  torchVersion: string;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], options: { input?: string; timeoutMs: number }): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { encoding: 'utf8', timeout: options.timeoutMs, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : null) : 0;
      resolve({ code, stdout, stderr: stderr || (error && code === null ? error.message : '') });
    });
    child.stdin?.end(options.input ?? '');
  });
}

/**
 * The interpreters tried, in order: $GRADSTORM_PYTHON alone when set; else
 * python3 on PATH, then /usr/bin/python3 (Debian's python3-torch lives
 * there, and a pyenv or venv python3 earlier on PATH does not see it).
 */
export function pythonCandidates(env: Record<string, string | undefined> = process.env): string[] {
  if (env.GRADSTORM_PYTHON) return [env.GRADSTORM_PYTHON];
  return ['python3', '/usr/bin/python3'];
}

/** The first candidate that imports torch, or why none does (one line, with the install command). */
export async function findTorchPython(env: Record<string, string | undefined> = process.env): Promise<TorchPython | { missing: string }> {
  const tried: string[] = [];
  for (const python of pythonCandidates(env)) {
    const r = await run(python, ['-c', 'import torch; print(torch.__version__)'], { timeoutMs: 60_000 });
    if (r.code === 0 && r.stdout.trim()) return { python, torchVersion: r.stdout.trim() };
    const why = r.code === null ? 'not found' : (r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`);
    tried.push(`${python}: ${why}`);
  }
  return { missing: `no python3 with PyTorch (${tried.join('; ')}); install it: ${TORCH_INSTALL} (or pip install torch; GRADSTORM_PYTHON names the interpreter)` };
}

/**
 * The bench's MLP step in PyTorch on this machine's CPU cores, float32.
 * Throws an Error whose message is one line: PyTorch missing (with the
 * install command), or what the program said when it failed.
 */
export async function runPytorchMlpStep(config: MlpConfig, runs: number): Promise<PytorchStepTiming> {
  const found = await findTorchPython();
  if ('missing' in found) throw new Error(found.missing);
  const spec = pytorchStepSpec(config, runs, availableParallelism());
  const r = await run(found.python, ['-', JSON.stringify(spec)], { input: PYTORCH_MLP_STEP_PROGRAM, timeoutMs: 600_000 });
  if (r.code !== 0) {
    const last = r.stderr.trim().split('\n').pop() ?? '';
    throw new Error(`the PyTorch step failed (${found.python}, exit ${r.code ?? 'signal/timeout'}): ${last}`);
  }
  return parsePytorchStepOutput(r.stdout);
}
