#!/usr/bin/env node
// Gets a fresh machine to a working WebGPU setup before `npm test` / `npm start`:
//  1. npm packages (npm ci) when node_modules is missing or stale;
//  2. on Linux, the Vulkan loader and SwiftShader (Debian's chromium package),
//     which Dawn falls back to when the machine has no GPU. As root they are
//     installed with apt-get; otherwise this prints the exact command to run.
//  3. on Linux, Slurm and munge (Debian's slurm-wlm and munge), for the
//     one-node cluster that tests/slurm starts with scripts/slurm-local.sh.
//  4. on Linux, PyTorch (Debian's python3-torch), which tests/torch checks
//     gradstorm's gradients against and the bench times the MLP step in.
// Plain JavaScript on purpose: it runs before dependencies exist.
import { execSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (line) => process.stderr.write(`[ensure-env] ${line}\n`);

function run(command) {
  say(`running: ${command}`);
  execSync(command, { stdio: 'inherit', cwd: root, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

// 1. npm packages
const installed = join(root, 'node_modules', '.package-lock.json');
const lock = join(root, 'package-lock.json');
if (!existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs) {
  run('npm ci --no-audit --no-fund');
}

// 2. Vulkan loader + SwiftShader on Linux
if (process.platform === 'linux') {
  const swiftshader = '/usr/lib/chromium/vk_swiftshader_icd.json';
  const loaders = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1', '/usr/lib/libvulkan.so.1'];
  const missing = [];
  if (!existsSync(swiftshader)) missing.push('chromium');
  if (!loaders.some((p) => existsSync(p))) missing.push('libvulkan1');
  // 3. Slurm and munge: `gradstorm sweep --slurm` is tested on a real one-node cluster.
  if (!existsSync('/usr/bin/sbatch') || !existsSync('/usr/sbin/slurmctld') || !existsSync('/usr/sbin/slurmd')) missing.push('slurm-wlm');
  if (!existsSync('/usr/sbin/munged')) missing.push('munge');
  // 4. PyTorch: scripts/torch-crosscheck.py (tests/torch) and the bench's PyTorch CPU figure run in Debian's python3.
  if (!existsSync('/usr/lib/python3/dist-packages/torch/__init__.py')) missing.push('python3-torch');
  if (missing.length > 0) {
    const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    const hasApt = existsSync('/usr/bin/apt-get');
    if (isRoot && hasApt) {
      run('apt-get update');
      run(`apt-get install -y --no-install-recommends ${missing.join(' ')}`);
    } else {
      say(`missing ${missing.join(', ')}: WebGPU on a machine without a GPU needs SwiftShader and the Vulkan loader; the Slurm tests need slurm-wlm and munge; the PyTorch cross-check needs python3-torch.`);
      say(`install them with: sudo apt-get install -y ${missing.join(' ')}`);
      say('continuing: a hardware adapter may still answer; if none does, the GPU tests fail and say so (and without Slurm, tests/slurm fails and says so; without PyTorch, tests/torch).');
    }
  }
}
