import type { OptimiseReport } from '@keel/core';
import { afterEach, describe, expect, it } from 'vitest';
import { drive, startApp, type TestApp } from './app.js';
import { keel, project } from './helpers.js';

let app: TestApp | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const TOKEN = 'an-endpoints-token-of-16+';

describe('keel optimise', () => {
  it('captures on the app for --window, prints where the time goes, and fails on a route over budget', async () => {
    app = await startApp({ optimise: { profileMs: 0, traffic: { sampleInterval: 0 } } });
    app.slowMs = 300;
    const dir = project({ 'keel.config.json': { service: 'cli-test' } });
    const traffic = drive(app.url, ['/fast', '/slow', '/items/1'], 8);
    const run = await keel(['optimise', app.url, '--window', '2s', '--json'], dir);
    await traffic;
    expect(run.stderr).toMatch(/^capturing opt-\d+ for 2 s \(on demand \(POST \/keel\/optimise\)\)\.\.\.$/m);
    const out = JSON.parse(run.stdout) as { exitCode: number; failed: string[]; result: OptimiseReport };
    expect(out.result.schema).toBe('keel-optimise/1');
    expect(out.result.windowMs).toBe(2000);
    const slow = out.result.routes.find((r) => r.route === '/slow')!;
    expect(slow.p95).toBeGreaterThanOrEqual(300);
    expect(run.code).toBe(1);
    expect(out.failed).toEqual([
      expect.stringMatching(/^GET \/slow: p95 \d+ ms over its 200 ms budget \(api_latency\)$/),
    ]);
    // The text form shows the same report.
    const latest = await keel(['optimise', app.url, '--latest'], dir);
    expect(latest.stdout).toContain(out.result.id);
    expect(latest.stdout).toMatch(/where the time goes/);
  });

  it('says what is missing: no report yet, no app, no token', async () => {
    app = await startApp({ endpoints: { token: TOKEN } });
    const dir = project({ 'keel.config.json': { service: 'cli-test' } });
    const unauthorised = await keel(['optimise', app.url, '--latest', '--json'], dir);
    expect(unauthorised.code).toBe(3);
    expect(JSON.parse(unauthorised.stdout).incomplete[0]).toMatch(/401, the app wants its endpoints token/);
    const none = await keel(['optimise', app.url, '--latest', '--token', TOKEN], dir);
    expect(none.code).toBe(3);
    expect(none.stderr).toMatch(/no optimisation report yet/);
    const down = await keel(['optimise', 'http://127.0.0.1:9', '--latest'], dir);
    expect(down.code).toBe(3);
    const usage = await keel(['optimise', 'not a url'], dir);
    expect(usage.code).toBe(2);
    const both = await keel(['optimise', app.url, '--latest', '--window', '1s'], dir);
    expect(both.code).toBe(2);
  });
});
