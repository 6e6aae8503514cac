// For the live page's tests: Debian's Chromium driven by playwright-core (never a downloaded
// browser), one fresh profile per launch, and what each page printed to its console.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.TRAINPILOT_CHROMIUM ?? '/usr/bin/chromium';

/** In CI a missing Chromium fails the tests; elsewhere they are skipped. */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.CI) throw new Error(`${CHROMIUM} is missing: the page tests need Debian's chromium (.ci/run installs it)`);
  return false;
}

/** The flags the machine notes give for a headless Chromium that reaches nothing outside. */
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'trainpilot-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1280, height: 1000 },
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export interface WatchedPage {
  page: Page;
  /** Console errors and uncaught exceptions, as text. */
  errors: string[];
  /** Every URL the page requested. */
  requests: string[];
}

export async function openPage(b: Browser, url: string): Promise<WatchedPage> {
  const page = await b.context.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(url);
  return { page, errors, requests };
}

/** Step reports spread evenly after `after` (unix seconds; by default n × 0.1 s ago) up to now. */
export function liveSteps(from: number, n: number, o: { samples?: number; duration?: number; wait?: number; after?: number } = {}) {
  const now = Date.now() / 1000;
  const after = o.after ?? now - n * 0.1;
  return Array.from({ length: n }, (_, i) => ({
    step: from + i,
    ts: after + ((i + 1) * (now - after)) / n,
    duration_s: (o.duration ?? 0.1) * (1 + ((i * 7) % 5) / 50),
    data_wait_s: o.wait ?? 0.04,
    samples: o.samples ?? 32,
    loss: 2.5 * Math.exp(-(from + i) / 300),
  }));
}
