/**
 * Tests that run gradstorm as it ships (the bin, the packed tarball) need
 * dist/ built from the current sources. `npm test` builds it first; these
 * helpers build again (incremental: about 2 s when nothing changed, and no
 * file is rewritten) so that one test file run alone never tests a stale dist.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');

/**
 * The environment for a child process that must behave as on a user's
 * machine: no npm_* settings of the `npm test` around us, no vitest
 * variables, no loader options.
 */
export function userEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || /^(npm_|VITEST|VITE_)/i.test(key) || key === 'NODE_OPTIONS' || key === 'NODE_PATH') continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

/** `npm run build` in the repository; throws with the compiler's output when it fails. */
export function buildPackage(): void {
  const r = spawnSync('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT, encoding: 'utf8', env: userEnv(), timeout: 240_000 });
  if (r.status !== 0) throw new Error(`npm run build failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
}
