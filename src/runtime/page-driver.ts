/**
 * Drives the runtime page (demo/runtime.ts) in a puppeteer Page: serves the
 * built demo folder on 127.0.0.1, exposes the functions the page streams its
 * events and reaches the tuning store through, opens the page's GPU device,
 * and runs commands. A page or browser crash mid-run rejects with
 * RuntimeCrashError (the events received before it are the caller's partial
 * data). Used by the CLI's `--runtime chrome` and by gradstorm/puppeteer.
 */
import type { Page } from 'puppeteer';
import type { AdapterSummary } from '../gpu/context.ts';
import { DeviceLostError, GpuKernelError, GpuLimitError, GpuUnavailableError } from '../gpu/errors.ts';
import { INTERRUPTION_REASONS, RunInterruptedError, type InterruptionReason } from '../scheduler/interruption.ts';
import type { TuningStore, TuningTable } from '../tune/tuner.ts';
import { ensureRuntimePage } from './page-build.ts';
import { HOST_FUNCTIONS, RUNTIME_PAGE, decodeJson, type PageCommand, type PageEvent, type PageResult, type RuntimePageApi } from './protocol.ts';
import { serveStatic, type StaticServer } from './static-server.ts';

/** The page or the browser died under a run. */
export class RuntimeCrashError extends Error {
  override name = 'RuntimeCrashError';
  constructor(
    readonly reason: 'page-crash' | 'browser-crash',
    message: string,
  ) {
    super(message);
  }
}

/** An engine error from the page, as the class Node would have thrown (so exit codes and messages match). */
export function engineError(error: { name: string; message: string }): Error {
  let result: Error;
  switch (error.name) {
    case 'GpuUnavailableError':
      result = new GpuUnavailableError(error.message);
      break;
    case 'GpuLimitError':
      result = new GpuLimitError(error.message);
      break;
    case 'GpuKernelError':
      result = new GpuKernelError(error.message, 'page');
      break;
    case 'DeviceLostError':
      result = new DeviceLostError('page', '');
      result.message = error.message;
      break;
    case 'RunInterruptedError': {
      // The page's run was stopped before its first step; the reason travels in the message ("stopped (SIGINT) before …").
      const said = /^stopped \(([^)]+)\)/.exec(error.message)?.[1];
      const reason: InterruptionReason = (INTERRUPTION_REASONS as readonly string[]).includes(said ?? '') ? (said as InterruptionReason) : 'aborted';
      result = new RunInterruptedError(reason);
      break;
    }
    default:
      result = new Error(error.message);
      result.name = error.name;
  }
  return result;
}

export interface RuntimePage {
  page: Page;
  adapter: AdapterSummary;
  userAgent: string;
  /** Runs a command, calling onEvent for each streamed step, case or bench cell. */
  run(command: PageCommand, onEvent?: (event: PageEvent) => void): Promise<PageResult>;
  /** Asks the page to stop its run at the next step or cell. */
  abort(reason: string): Promise<void>;
  /** Stops the static server (the page and browser are the caller's). */
  close(): Promise<void>;
}

export interface OpenRuntimePageOptions {
  /** The built demo folder; by default the package's (built first in a checkout where it is missing or stale). */
  pageDir?: string;
  /** Where tuning tables live; null: the page tunes without keeping anything. */
  tuningStore?: TuningStore | null;
  /** Build messages. */
  say?: (text: string) => void;
}

/** Per page: the functions can be exposed once, so they dispatch to whichever run is current. */
interface Wiring {
  onEvent: ((event: PageEvent) => void) | null;
  store: TuningStore | null;
}
const wired = new WeakMap<Page, Wiring>();

async function wire(page: Page, store: TuningStore | null): Promise<Wiring> {
  let wiring = wired.get(page);
  if (wiring) {
    wiring.store = store;
    return wiring;
  }
  const created: Wiring = { onEvent: null, store };
  wiring = created;
  wired.set(page, created);
  await page.exposeFunction(HOST_FUNCTIONS.emit, (text: string) => {
    try {
      created.onEvent?.(decodeJson<PageEvent>(text));
    } catch (error) {
      // puppeteer would swallow it: a failing handler is a bug to see, not a silent gap in the progress.
      process.stderr.write(`gradstorm: handling a page event failed: ${(error as Error).stack ?? String(error)}\n`);
    }
  });
  await page.exposeFunction(HOST_FUNCTIONS.tuningLoad, (key: string) => ({
    table: created.store?.load(key) ?? null,
    where: created.store?.where(key) ?? 'not kept',
  }));
  await page.exposeFunction(HOST_FUNCTIONS.tuningSave, (table: TuningTable) => created.store?.save(table) ?? false);
  return created;
}

export async function openRuntimePage(page: Page, options: OpenRuntimePageOptions = {}): Promise<RuntimePage> {
  const dir = options.pageDir ?? (await ensureRuntimePage({ say: options.say }));
  const server: StaticServer = await serveStatic(dir);
  try {
    const wiring = await wire(page, options.tuningStore ?? null);
    await page.goto(new URL(RUNTIME_PAGE, server.url).href, { waitUntil: 'load' });
    await page.waitForFunction(() => 'gradstormRuntime' in window, { timeout: 30_000 });
    const opened = await page.evaluate(() => (window as unknown as { gradstormRuntime: RuntimePageApi }).gradstormRuntime.open());
    if (!opened.ok) throw engineError(opened.error);

    /** Rejects when the page or its browser dies. */
    const crashed = (): { promise: Promise<never>; dispose(): void } => {
      let reject: (error: Error) => void = () => {};
      const promise = new Promise<never>((_, r) => (reject = r));
      const onPageError = (error: Error) => reject(new RuntimeCrashError('page-crash', `the page crashed: ${error.message}`));
      const onClose = () => reject(new RuntimeCrashError('page-crash', 'the page was closed'));
      const onDisconnect = () => reject(new RuntimeCrashError('browser-crash', 'the browser exited or lost its connection'));
      page.on('error', onPageError);
      page.on('close', onClose);
      page.browser().on('disconnected', onDisconnect);
      promise.catch(() => {});
      return {
        promise,
        dispose() {
          page.off('error', onPageError);
          page.off('close', onClose);
          page.browser().off('disconnected', onDisconnect);
        },
      };
    };

    return {
      page,
      adapter: opened.adapter,
      userAgent: opened.userAgent,
      async run(command, onEvent) {
        let finished: (result: PageResult) => void = () => {};
        const done = new Promise<PageResult>((resolve) => (finished = resolve));
        wiring.onEvent = (event) => {
          if (event.type === 'done') finished(event.result);
          else onEvent?.(event);
        };
        const crash = crashed();
        try {
          await Promise.race([page.evaluate((c) => (window as unknown as { gradstormRuntime: RuntimePageApi }).gradstormRuntime.run(c), command), crash.promise]);
          return await Promise.race([done, crash.promise]);
        } catch (error) {
          // A protocol error after the target died is the crash, said as one.
          if (error instanceof RuntimeCrashError) throw error;
          if (page.isClosed() || !page.browser().connected) throw new RuntimeCrashError(page.browser().connected ? 'page-crash' : 'browser-crash', `the ${page.browser().connected ? 'page' : 'browser'} died: ${(error as Error).message}`);
          throw error;
        } finally {
          crash.dispose();
          wiring.onEvent = null;
        }
      },
      async abort(reason) {
        // Bounded: a page too busy (or too dead) to answer must not hold up closing the browser.
        const asked = page.evaluate((r) => (window as unknown as { gradstormRuntime: RuntimePageApi }).gradstormRuntime.abort(r), reason).catch(() => {});
        await Promise.race([asked, new Promise((r) => setTimeout(r, 1000).unref())]);
      },
      close: () => server.close(),
    };
  } catch (error) {
    await server.close();
    throw error;
  }
}
