/**
 * Chrome for the `--runtime chrome` runtime and gradstorm/puppeteer: which
 * binary, which flags (SwiftShader only where there is no GPU), and a close
 * that leaves no Chrome process behind — puppeteer starts Chrome as the
 * leader of its own process group, so when close() hangs the whole group is
 * killed.
 */
import { accessSync, constants, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, LaunchOptions } from 'puppeteer';
import { vulkanDriverManifestPresent } from '../gpu/node.ts';

/** Flags every launch gets (DESIGN.md "Chrome headless"): WebGPU on, and nothing that reaches the network. */
export const CHROME_FLAGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
] as const;
/** Chrome's WebGPU on SwiftShader, its CPU Vulkan driver: for machines with no GPU. */
export const SWIFTSHADER_FLAG = '--use-webgpu-adapter=swiftshader';
/** The prefix of our temporary profile folders: a Chrome started by gradstorm has it on its command line. */
export const USER_DATA_DIR_PREFIX = 'gradstorm-chrome-';

/** Chrome cannot be found or started: the message says what to install or which flag to use. Exit code 1. */
export class BrowserUnavailableError extends Error {
  override name = 'BrowserUnavailableError';
}

const SYSTEM_BROWSERS: Record<string, string[]> = {
  linux: ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable', '/opt/google/chrome/chrome', '/snap/bin/chromium'],
  darwin: ['/Applications/Google Chrome.app/Contents/MacOS/Google Chrome', '/Applications/Chromium.app/Contents/MacOS/Chromium'],
  win32: ['C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe', 'C:\\Program Files (x86)\\Google\\Chrome\\Application\\chrome.exe'],
};

const INSTALL_HINT =
  process.platform === 'linux'
    ? 'install Chromium (as root: apt-get install -y chromium) or Google Chrome, or give its path with --browser PATH'
    : 'install Google Chrome or Chromium, or give its path with --browser PATH';

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The browser to launch: `--browser PATH` when given (it must exist), else
 * $PUPPETEER_EXECUTABLE_PATH, the system's Chrome or Chromium, else
 * puppeteer's own download when one is installed.
 */
export async function findBrowser(path?: string): Promise<string> {
  if (path !== undefined) {
    if (!existsSync(path)) throw new BrowserUnavailableError(`--browser ${path}: no such file; ${INSTALL_HINT}`);
    if (!isExecutable(path)) throw new BrowserUnavailableError(`--browser ${path}: not an executable; give the path of the chrome or chromium binary`);
    return path;
  }
  const env = process.env.PUPPETEER_EXECUTABLE_PATH;
  if (env && isExecutable(env)) return env;
  for (const candidate of SYSTEM_BROWSERS[process.platform] ?? []) if (isExecutable(candidate)) return candidate;
  try {
    const puppeteer = (await import('puppeteer')).default;
    const own = puppeteer.executablePath();
    if (own && isExecutable(own)) return own;
  } catch {
    // puppeteer's own browser is not downloaded: fall through to the hint.
  }
  throw new BrowserUnavailableError(`no Chrome or Chromium found; ${INSTALL_HINT}`);
}

/** How {@link launchChrome} starts the browser: which executable, headed or not, extra flags. */
export interface ChromeLaunchOptions {
  /** The browser binary (findBrowser's answer is used when absent). */
  executablePath?: string;
  headed?: boolean;
  /** true: SwiftShader; false: the GPU; undefined: SwiftShader exactly when this machine has no GPU driver. */
  swiftShader?: boolean;
  /** More Chrome flags. */
  args?: readonly string[];
}

/** Whether Chrome should be told to use SwiftShader: on Linux, when the Vulkan loader finds no driver (no GPU). */
export function machineNeedsSwiftShader(): boolean {
  return process.platform === 'linux' && !vulkanDriverManifestPresent();
}

/** A browser {@link launchChrome} started: puppeteer's Browser, its version, and a close that leaves no process behind. */
export interface LaunchedChrome {
  browser: Browser;
  executablePath: string;
  swiftShader: boolean;
  /** "Chrome/131.0.6778.85" (HeadlessChrome/… when headless). */
  version: string;
  /** Closes the browser (killing its process group when close() does not finish in time) and removes the profile folder. Safe to call twice. */
  close(): Promise<void>;
  /** Synchronous last resort (process exit): SIGKILL to the process group. */
  killNow(): void;
}

/** Launches Chrome/Chromium for WebGPU (the system's, else puppeteer's own), adding the SwiftShader flags on a machine with no GPU driver. */
export async function launchChrome(options: ChromeLaunchOptions = {}): Promise<LaunchedChrome> {
  const executablePath = options.executablePath ?? (await findBrowser());
  let puppeteer: typeof import('puppeteer').default;
  try {
    puppeteer = (await import('puppeteer')).default;
  } catch (error) {
    throw new BrowserUnavailableError(`puppeteer could not be loaded (${(error as Error).message}): install it beside gradstorm ('npm install puppeteer'; in a gradstorm checkout, 'npm install')`);
  }
  const swiftShader = options.swiftShader ?? machineNeedsSwiftShader();
  const userDataDir = mkdtempSync(join(tmpdir(), USER_DATA_DIR_PREFIX));
  const launch: LaunchOptions = {
    executablePath,
    headless: !options.headed,
    args: [...CHROME_FLAGS, ...(swiftShader ? [SWIFTSHADER_FLAG] : []), ...(options.args ?? []), `--user-data-dir=${userDataDir}`],
    // The caller owns the signals: it closes the browser and writes the partial report itself.
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
    timeout: 60_000,
    protocolTimeout: 0,
  };
  let browser: Browser;
  try {
    browser = await puppeteer.launch(launch);
  } catch (error) {
    // A Chrome that failed to start may still create its profile folder on the way out: remove it once it has.
    rmSync(userDataDir, { recursive: true, force: true });
    await new Promise((r) => setTimeout(r, 1000));
    rmSync(userDataDir, { recursive: true, force: true });
    const noDisplay = options.headed && process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY;
    throw new BrowserUnavailableError(
      `${executablePath} could not be started: ${(error as Error).message.split('\n')[0].replace(/\.$/, '')}. ` + (noDisplay ? '--headed needs a display (DISPLAY is unset): drop --headed, or run under xvfb-run' : INSTALL_HINT),
    );
  }
  const pid = browser.process()?.pid;
  const killNow = () => {
    if (pid === undefined) return;
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  };
  let closing: Promise<void> | null = null;
  const version = await browser.version().catch(() => 'unknown');
  return {
    browser,
    executablePath,
    swiftShader,
    version,
    killNow,
    close() {
      closing ??= (async () => {
        const closed = browser.close().then(
          () => true,
          () => false,
        );
        const inTime = await Promise.race([closed, new Promise<false>((r) => setTimeout(() => r(false), 5000).unref())]);
        // Chrome's helpers (GPU, renderer, zygote) share its process group; after a clean close this kills nothing.
        killNow();
        if (!inTime) await new Promise((r) => setTimeout(r, 100));
        rmSync(userDataDir, { recursive: true, force: true });
      })();
      return closing;
    },
  };
}
