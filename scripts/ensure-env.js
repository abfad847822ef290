#!/usr/bin/env node
// Gets a fresh machine to a working WebGPU setup before `npm test` / `npm start`:
//  1. npm packages (npm ci) when node_modules is missing or stale;
//  2. on Linux, the Vulkan loader and SwiftShader (Debian's chromium package),
//     which Dawn falls back to when the machine has no GPU. As root they are
//     installed with apt-get; otherwise this prints the exact command to run.
//  3. on Linux, Slurm and munge (Debian's slurm-wlm and munge), for the
//     one-node cluster that tests/slurm starts with scripts/slurm-local.sh.
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
  if (missing.length > 0) {
    const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    const hasApt = existsSync('/usr/bin/apt-get');
    if (isRoot && hasApt) {
      run('apt-get update');
      run(`apt-get install -y --no-install-recommends ${missing.join(' ')}`);
    } else {
      say(`missing ${missing.join(', ')}: WebGPU on a machine without a GPU needs SwiftShader and the Vulkan loader; the Slurm tests need slurm-wlm and munge.`);
      say(`install them with: sudo apt-get install -y ${missing.join(' ')}`);
      say('continuing: a hardware adapter may still answer; if none does, the GPU tests fail and say so (and without Slurm, tests/slurm fails and says so).');
    }
  }
}
