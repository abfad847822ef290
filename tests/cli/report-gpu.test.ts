/**
 * `gradstorm report-gpu` end to end with a tiny budget (every section capped
 * on SwiftShader), and its pure parts: the nominal-peak table, the sizing of
 * the MLP and the RNN to a budget, and the Markdown table.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateReport, type GpuReportJson } from '../../src/report/schema.ts';
import { fitMlp, fitSeqLen, gpuReportMarkdown, mlpStepFlops, nominalPeak, REPORT_SECTIONS, stressBudget } from '../../src/cli/report-gpu.ts';
import { buildPackage } from '../support/package.ts';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'gradstorm.js');

describe('report-gpu sizing and peaks (no GPU)', () => {
  it('knows the nominal f32 peak of the GPUs it names, and none for SwiftShader or an unknown adapter', () => {
    const gpu = (description: string) => ({ vendor: 'nvidia', description, device: '', software: false });
    expect(nominalPeak(gpu('NVIDIA H200'))).toEqual({ name: 'NVIDIA H200 (SXM)', gflops: 67_000 });
    expect(nominalPeak(gpu('NVIDIA H100 PCIe'))?.gflops).toBe(51_200);
    expect(nominalPeak(gpu('NVIDIA H100 80GB HBM3'))?.gflops).toBe(67_000);
    expect(nominalPeak(gpu('NVIDIA A100-SXM4-80GB'))?.gflops).toBe(19_500);
    expect(nominalPeak(gpu('Some New GPU'))).toBeNull();
    expect(nominalPeak({ vendor: 'google', description: 'SwiftShader driver', device: '', software: true })).toBeNull();
  });

  it('keeps the full MLP when it fits, else shrinks depth, then width, and says which cap applied', () => {
    const full = { depth: 1000, width: 1024, batch: 128 };
    const flops = mlpStepFlops({ ...full, input: 1024, output: 1024 });
    expect(flops).toBeCloseTo(6 * 128 * 1024 * 1024 * 1000, -3);
    // 1000 GFLOP/s and a minute: 3 steps of ~0.8 TFLOP fit.
    expect(fitMlp(full, 1000, 60_000, 3)).toEqual({ ...full, cap: null });
    // 1 GFLOP/s and 10 s: the deepest width-1024 model whose 3 steps fit (each layer ~0.8 GFLOP).
    const slow = fitMlp(full, 1, 10_000, 3);
    expect(slow.width).toBe(1024);
    expect(mlpStepFlops({ ...slow, input: 1024, output: 1024 }) * 3).toBeLessThanOrEqual(10_000 * 1e6);
    expect(mlpStepFlops({ ...slow, depth: slow.depth + 1, input: 1024, output: 1024 }) * 3).toBeGreaterThan(10_000 * 1e6);
    expect(slow.cap).toMatch(/^time budget: .*: depth 1000 → \d+$/);
    // Too slow even at depth 2: width halves.
    const tiny = fitMlp(full, 0.01, 100, 3);
    expect(tiny.width).toBeLessThan(1024);
    expect(tiny.cap).toContain('width 1024 →');
    // Memory: a model the device cannot hold is cut to what it can.
    const held = fitMlp(full, 1e6, 1e9, 3, (s) => s.depth * s.width * s.width <= 100 * 1024 * 1024);
    expect(held).toMatchObject({ depth: 100, width: 1024 });
    expect(held.cap).toMatch(/^device memory: .*: depth 1000 → 100$/);
  });

  it('a stress section\'s budget stops the run only once a step is recorded (a loaded machine may spend it all on tuning)', async () => {
    const budget = stressBudget(10);
    await new Promise((r) => setTimeout(r, 40));
    expect(budget.signal.aborted).toBe(false);
    budget.onStep();
    expect(budget.signal.aborted).toBe(true);
    budget.dispose();
    // A step before the deadline: the deadline itself aborts.
    const early = stressBudget(10);
    early.onStep();
    expect(early.signal.aborted).toBe(false);
    await new Promise((r) => setTimeout(r, 40));
    expect(early.signal.aborted).toBe(true);
    early.dispose();
  });

  it('fits T to the time a probe measured per timestep', () => {
    expect(fitSeqLen(10_000, 0.01, 1000, 2)).toEqual({ seqLen: 10_000, cap: null });
    const capped = fitSeqLen(10_000, 1, 1000, 2);
    expect(capped.seqLen).toBe(500);
    expect(capped.cap).toMatch(/^time budget: T 10000 → 500 /);
  });
});

describe('gradstorm report-gpu (tiny budget on this adapter)', () => {
  beforeAll(buildPackage, 240_000);

  it('writes a JSON report that validates and a Markdown page with the table, every section accounted for', () => {
    const out = mkdtempSync(join(tmpdir(), 'gradstorm-report-'));
    const cache = mkdtempSync(join(tmpdir(), 'gradstorm-cache-'));
    const r = spawnSync(process.execPath, [bin, 'report-gpu', '--out', out, '--max-seconds', '3', '--no-baseline'], {
      encoding: 'utf8',
      timeout: 180_000,
      env: { ...process.env, GRADSTORM_CACHE_DIR: cache },
    });
    expect(r.stderr).toContain('report-gpu: check');
    // On failure, show what the CLI said (a failed section names itself there).
    expect({ status: r.status, stderrTail: r.status === 0 ? '' : r.stderr.slice(-3000) }).toEqual({ status: 0, stderrTail: '' });
    const jsonPath = join(out, 'gpu-report.json');
    const mdPath = join(out, 'gpu-report.md');
    expect(existsSync(jsonPath) && existsSync(mdPath)).toBe(true);
    const json: unknown = JSON.parse(readFileSync(jsonPath, 'utf8'));
    const validation = validateReport(json);
    expect(validation.ok ? validation.kind : validation.errors).toBe('gpu-report');
    const report = json as GpuReportJson;
    expect(report.sections.map((s) => s.name)).toEqual([...REPORT_SECTIONS]);
    // On SwiftShader in 3 s nothing runs at full size: the check, the bench sizes, the MLP and the RNN are all capped, and say why.
    for (const s of report.sections) expect(s.status, `${s.name}: ${s.summary} ${s.error ?? ''}`).toBe('capped');
    expect(report.sections.find((s) => s.name === 'mlp')?.cap).toMatch(/depth 1000 → \d+/);
    expect(report.sections.find((s) => s.name === 'rnn')?.cap).toMatch(/^time budget: T 10000 → \d+/);
    expect(report.peak).toBeNull();
    expect(report.interrupted, 'a finished report is not marked interrupted').toBeUndefined();
    expect(report.rows.map((row) => row.what)).toEqual(expect.arrayContaining(['matmul nt', 'matmul nn', 'matmul tn', 'MLP training step (median)', 'RNN BPTT step (median)']));
    for (const row of report.rows) expect(row.gflops).toBeGreaterThan(0);
    const md = readFileSync(mdPath, 'utf8');
    expect(md).toBe(gpuReportMarkdown(report));
    expect(md).toContain('| section | what | shape | ms | GFLOP/s | TF.js GFLOP/s | × TF.js | plain JS GFLOP/s | % of peak | note |');
    expect(md).toMatch(/\| bench \| matmul nt \| 128×128×128 \| [\d.]+ \| [\d.]+ \|/);
    expect(md).toMatch(/\| mlp \| MLP training step \(median\) \| depth \d+, width \d+, batch 128 \|/);
  }, 200_000);

  it('Ctrl-C keeps the sections finished so far: exit 130, a valid report marked interrupted (SIGINT)', async () => {
    const out = mkdtempSync(join(tmpdir(), 'gradstorm-report-'));
    const cache = mkdtempSync(join(tmpdir(), 'gradstorm-cache-'));
    const child = spawn(process.execPath, [bin, 'report-gpu', '--out', out, '--max-seconds', '20', '--no-baseline'], { env: { ...process.env, GRADSTORM_CACHE_DIR: cache } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Once the check section is saved, the next section runs: stop there.
    while (!/report-gpu: check: /.test(stderr)) {
      if (child.exitCode !== null) throw new Error(`report-gpu ended before the signal: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGINT');
    expect(await exited, stderr).toBe(130);
    const json: unknown = JSON.parse(readFileSync(join(out, 'gpu-report.json'), 'utf8'));
    const validation = validateReport(json);
    expect(validation.ok ? validation.kind : validation.errors).toBe('gpu-report');
    const report = json as GpuReportJson;
    expect(report.interrupted).toBe(true);
    expect(report.interruption?.reason).toBe('SIGINT');
    expect(report.sections.length).toBeGreaterThanOrEqual(1);
    expect(report.sections.length).toBeLessThan(REPORT_SECTIONS.length);
    expect(report.interruption?.stepReached).toBe(report.sections.length);
    expect(readFileSync(join(out, 'gpu-report.md'), 'utf8')).toContain('**partial**');
  }, 200_000);
});
