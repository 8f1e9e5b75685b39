import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants } from 'node:zlib';
import type { Keel, KeelOptions, VitalsBeacon } from '@keel/core';
import { instrument } from '@keel/express';
import { build } from 'esbuild';
import express from 'express';
import { type BrowserContext, chromium } from 'playwright-core';

const ENTRY = fileURLToPath(new URL('../src/index.ts', import.meta.url));

/**
 * The default entry bundled the way an app's bundler would ship it:
 * `web-vitals` included, minified, ES module.
 */
export async function bundle(): Promise<string> {
  const result = await build({
    entryPoints: [ENTRY],
    bundle: true,
    format: 'esm',
    minify: true,
    target: 'es2020',
    platform: 'browser',
    write: false,
    legalComments: 'none',
  });
  return result.outputFiles[0]!.text;
}

/** Size on the wire: brotli at its best quality, as a CDN or a build step would compress it. */
export function brotliSize(text: string): number {
  return brotliCompressSync(Buffer.from(text), {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: 11,
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
    },
  }).length;
}

export const CHROMIUM = '/usr/bin/chromium';

/** Debian's Chromium, never a downloaded one, with a fresh profile. */
export async function launch(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'keel-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export interface FixtureApp {
  keel: Keel;
  base: string;
  /** Beacons the collector accepted, in order. */
  beacons: VitalsBeacon[];
  close(): Promise<void>;
}

/**
 * An Express app instrumented with `@keel/express` on port 0: it serves the
 * bundle at `/keel-web-vitals.js` and each fixture page at `/pages/<name>`.
 * A page is HTML whose `collectVitals(...)` call gets `options`; with
 * `token`, the page carries a `keel-vitals-token` meta tag made as it is
 * served, for its own page group (`'page'`) or for any (`'any'`).
 */
export async function fixtureApp(
  pages: Record<string, { body: string; options?: object; token?: 'page' | 'any' }>,
  keelOptions: KeelOptions = {},
): Promise<FixtureApp> {
  const script = await bundle();
  const app = express();
  const { keel } = instrument(app, { service: 'fixtures', runtime: false, ...keelOptions });
  const beacons: VitalsBeacon[] = [];
  const collector = keel.vitals!;
  const record = collector.record.bind(collector);
  collector.record = (beacon) => {
    beacons.push(structuredClone(beacon));
    record(beacon);
  };
  app.get('/keel-web-vitals.js', (_req, res) => {
    res.type('text/javascript').send(script);
  });
  app.get('/pages/:name', (req, res) => {
    const page = pages[req.params.name];
    if (!page) {
      res.sendStatus(404);
      return;
    }
    const token =
      page.token === undefined
        ? ''
        : `<meta name="keel-vitals-token" content="${keel.vitals!.pageToken(page.token === 'page' ? `/pages/${req.params.name}` : undefined)}">`;
    res.type('html').send(`<!doctype html>
<html><head><meta charset="utf-8"><title>${req.params.name}</title>${token}
<script type="module">
import { collectVitals } from '/keel-web-vitals.js';
collectVitals(${JSON.stringify(page.options ?? {})});
</script></head>
<body>${page.body}</body></html>`);
  });
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    keel,
    beacons,
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await keel.close();
    },
  };
}

/** Waits until `count()` reaches `n` or `ms` pass; returns the last count. */
export async function waitFor(count: () => number, n: number, ms = 5000): Promise<number> {
  const until = Date.now() + ms;
  while (count() < n && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
  return count();
}
