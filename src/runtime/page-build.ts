/**
 * Where the runtime page lives and how it gets built. The page is the second
 * input of the demo's Vite build (demo/dist/runtime.html beside the demo's
 * index.html, one engine chunk for both). An installed package ships it
 * built, in dist/page; in a checkout the CLI builds it when it is missing or
 * older than the sources (vite is a devDependency).
 */
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RUNTIME_PAGE } from './protocol.ts';

/** The folder holding gradstorm's package.json: walked up to from this file, so it holds from src/ (tsx, vitest) and from a compiled dist/ alike. */
export function packageRoot(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'gradstorm') return dir;
      } catch {
        // Not ours (or unreadable): keep walking up.
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find gradstorm's package.json above ${from}`);
    dir = parent;
  }
}

/**
 * The built demo folder the runtime page is served from: demo/dist in a
 * checkout (where the e2e tests and `--runtime chrome` build it), dist/page in
 * an installed package (`npm pack` builds it there: prepack), so packing never
 * rewrites a folder a test may be serving.
 */
export function builtPageDir(root: string = packageRoot()): string {
  return existsSync(join(root, 'demo', 'vite.config.ts')) ? join(root, 'demo', 'dist') : join(root, 'dist', 'page');
}

/** The page cannot be built or found: the message says what to do. */
export class RuntimePageError extends Error {
  override name = 'RuntimePageError';
}

/** Newest modification time under the page's sources (demo/, src/, shaders/, bench/), or 0 when they are not there (an installed package). */
function newestSource(root: string): number {
  let newest = 0;
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (name === 'dist' || name === 'node_modules' || name.startsWith('.')) continue;
      const path = join(dir, name);
      const info = statSync(path, { throwIfNoEntry: false });
      if (!info) continue;
      if (info.isDirectory()) walk(path);
      else if (/\.(ts|html|css)$/.test(name)) newest = Math.max(newest, info.mtimeMs);
    }
  };
  for (const folder of ['demo', 'src', 'shaders', 'bench']) walk(join(root, folder));
  return newest;
}

/**
 * The folder to serve, built first when a checkout lacks it or its sources
 * changed since. The build goes to a temporary folder that is then renamed
 * into place, so a page being served is never half rewritten.
 */
export async function ensureRuntimePage(options: { root?: string; say?: (text: string) => void } = {}): Promise<string> {
  // A prebuilt folder (tests, CI images): served as it is.
  const given = process.env.GRADSTORM_RUNTIME_PAGE_DIR;
  if (given) {
    if (!existsSync(join(given, RUNTIME_PAGE))) throw new RuntimePageError(`GRADSTORM_RUNTIME_PAGE_DIR=${given} has no ${RUNTIME_PAGE}; build it with 'npx vite build --config demo/vite.config.ts --outDir ${given}' or unset it`);
    return given;
  }
  const root = options.root ?? packageRoot();
  const dir = builtPageDir(root);
  const page = join(dir, RUNTIME_PAGE);
  const built = statSync(page, { throwIfNoEntry: false });
  const config = join(root, 'demo', 'vite.config.ts');
  if (!existsSync(config)) {
    if (built) return dir;
    throw new RuntimePageError(`the runtime page ${page} is missing from this installation (and its sources are not here to build it); reinstall gradstorm`);
  }
  if (built && built.mtimeMs >= newestSource(root)) return dir;
  options.say?.(`runtime page: ${built ? 'sources changed, rebuilding' : 'building'} ${page} (vite)\n`);
  const temporary = join(root, 'demo', `.dist-${process.pid}-${Date.now()}`);
  try {
    await buildRuntimePage(temporary, root);
    const old = `${dir}.old-${process.pid}`;
    if (existsSync(dir)) renameSync(dir, old);
    renameSync(temporary, dir);
    rmSync(old, { recursive: true, force: true });
  } catch (error) {
    rmSync(temporary, { recursive: true, force: true });
    if (error instanceof RuntimePageError && !built) throw error;
    if (existsSync(page)) return dir; // built before (or by another process meanwhile)
    throw new RuntimePageError(`building the runtime page failed: ${(error as Error).message}`);
  }
  return dir;
}

/** Builds the demo and the runtime page (one Vite build, two inputs) into `outDir`. */
export async function buildRuntimePage(outDir: string, root: string = packageRoot()): Promise<string> {
  let vite: typeof import('vite');
  try {
    vite = await import('vite');
  } catch {
    throw new RuntimePageError(`the runtime page is not built and vite (a devDependency) is not installed: run 'npm install' in ${root}, then 'npx vite build --config demo/vite.config.ts'`);
  }
  await vite.build({ configFile: join(root, 'demo', 'vite.config.ts'), logLevel: 'error', build: { outDir, emptyOutDir: true } });
  return outDir;
}
