import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '@keel/cli';
import type { IndexBottleneck, NPlusOneBottleneck, OptimiseReport, TrafficProfile } from '@keel/core';
import { findPostgres } from '@keel/dev-postgres';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { type Started, startStudioApi, waitFor } from './support/processes.js';
import { scaledConfig } from './support/scaled-config.js';

// The proof of the optimisation loop, against the real app and a real
// PostgreSQL: record the app's traffic, replay it with `keel loadtest`, see
// the loop trigger on its own and rank the missing index first with the exact
// CREATE INDEX, build it, replay again with --compare and see p95 fall and the
// budget met; the N+1 is reported with its fingerprint. Windows are scaled
// down to seconds so the loop fires within a short load test.

const dir = mkdtempSync(join(tmpdir(), 'keel-optimise-'));
const cleanups: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

/** The scaled config, with a loop that triggers on 3 s of p95 over the API budget and captures 4 s. */
const scaled = {
  ...scaledConfig,
  // Every request sampled for the traffic profile, so a few seconds of traffic cover every route.
  optimise: {
    triggerMs: 200,
    triggerWindow: 3000,
    captureMs: 4000,
    profileMs: 2000,
    traffic: { sampleInterval: 0 },
  },
};

async function keel(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await run(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), cwd: dir });
  return { code, stdout, stderr };
}

/** `keel loadtest` of the recorded traffic: 8 s, 8 connections, JSON. */
const loadtest = (...extra: string[]) =>
  keel([
    'loadtest',
    '--profile',
    'traffic.json',
    '--duration',
    '8s',
    '--connections',
    '8',
    '--json',
    ...extra,
  ]);

async function sql(url: string, text: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

/** The app's database, on the machine's PostgreSQL (else an embedded one), dropped afterwards. */
async function database(): Promise<string> {
  const server = await findPostgres({ prefix: 'keel-optimise-pg-' });
  cleanups.push(() => server.stop());
  const name = `keel_optimise_${process.pid}`;
  await sql(server.url, `DROP DATABASE IF EXISTS ${name}`);
  await sql(server.url, `CREATE DATABASE ${name}`);
  cleanups.push(async () => {
    await sql(server.url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  return url.toString();
}

describe('the optimisation loop on studio-api', () => {
  it('finds the missing index and the N+1, and the load test proves the index fixed the budget', async () => {
    const url = await database();
    const configFile = join(dir, 'keel.config.json');
    writeFileSync(configFile, JSON.stringify(scaled));
    const app: Started & { base: string } = await startStudioApi({
      KEEL_CONFIG: configFile,
      DATABASE_URL: url,
      KEEL_MONITOR_DIR: join(dir, 'monitor'),
      // The monitor only recommends: a mitigation (shedding) would change the traffic measured here.
      KEEL_MONITOR_DRY_RUN: '1',
    });
    cleanups.push(() => app.stop());
    const { base } = app;
    const [{ hypopg }] = (
      await sql(url, "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'hypopg') AS hypopg")
    ).rows as [{ hypopg: boolean }];

    // 1. Normal traffic, one request at a time, then the profile the app recorded of it.
    for (let i = 0; i < 45; i++) {
      await (await fetch(`${base}/api/orders?customer=${1 + (i % 25)}`)).arrayBuffer();
      if (i % 3 === 0) await (await fetch(`${base}/api/orders/recent`)).arrayBuffer();
      if (i % 4 === 0) await (await fetch(`${base}/api/users`)).arrayBuffer();
    }
    const recorded = await keel(['loadtest', '--record', base, '--profile', 'traffic.json']);
    expect(recorded.code, recorded.stderr).toBe(0);
    const profile = JSON.parse(readFileSync(join(dir, 'traffic.json'), 'utf8')) as TrafficProfile;
    expect(profile.routes.map((r) => r.route).sort()).toEqual([
      '/api/orders',
      '/api/orders/recent',
      '/api/users',
    ]);
    for (const path of profile.routes.find((r) => r.route === '/api/orders')!.paths)
      expect(path).toMatch(/^\/api\/orders\?customer=\d+$/);

    // 2. The load test before: the scan breaks the API budget.
    const before = await loadtest(base);
    expect(before.code, before.stderr).toBe(1);
    writeFileSync(join(dir, 'before.json'), before.stdout);
    const beforeRun = JSON.parse(before.stdout).result as {
      routes: { route: string; p95: number }[];
      budgets: { name: string; state: string }[];
    };
    expect(beforeRun.budgets.find((b) => b.name === 'api_latency')!.state).toBe('breached');
    const ordersBefore = beforeRun.routes.find((r) => r.route === 'GET /api/orders')!.p95;
    expect(ordersBefore).toBeGreaterThan(200);

    // 3. The loop triggered by itself during the load test, and ranked the missing index first.
    const report = await waitFor('the loop’s report', async () => {
      const got = (await (await fetch(`${base}/keel/optimise`)).json()) as { report: OptimiseReport | null };
      return got.report ?? undefined;
    });
    expect(report.reason).not.toMatch(/^on demand/);
    const index = report.bottlenecks[0] as IndexBottleneck;
    expect(index).toMatchObject({ rank: 1, kind: 'index', effort: 'index', route: 'GET /api/orders' });
    expect(index.fix).toBe(
      'CREATE INDEX CONCURRENTLY studio_orders_customer_id_idx ON studio_orders (customer_id);',
    );
    expect(index.details.hypopg).toBe(hypopg);
    if (hypopg) expect(index.details.costAfter!).toBeLessThan(index.details.costBefore / 2);
    const n1 = report.bottlenecks.find((b) => b.kind === 'n-plus-one') as NPlusOneBottleneck;
    expect(n1).toMatchObject({
      route: 'GET /api/orders/recent',
      fingerprint: 'select name from studio_customers where id = ?',
    });
    expect(n1.details.perRequest).toBe(20);
    // The same report from the CLI.
    const latest = await keel(['optimise', base, '--latest']);
    expect(latest.stdout).toContain(`fix: ${index.fix}`);
    expect(latest.stdout).toContain(
      'N+1: 20 identical queries per request (select name from studio_customers where id = ?)',
    );

    // 4. The fix, then the load test again, compared with the first.
    await sql(url, index.fix);
    const after = await loadtest(base, '--compare', 'before.json');
    expect(after.code, after.stdout).toBe(0);
    const afterRun = JSON.parse(after.stdout).result as {
      budgets: { name: string; state: string }[];
      compare: { routes: { route: string; verdict: string; after: { p95: number } }[]; worse: string[] };
    };
    expect(afterRun.budgets.find((b) => b.name === 'api_latency')!.state).toBe('ok');
    const orders = afterRun.compare.routes.find((r) => r.route === 'GET /api/orders')!;
    expect(orders.verdict).toBe('better');
    expect(orders.after.p95).toBeLessThan(ordersBefore / 2);
    expect(afterRun.compare.worse).toEqual([]);
  }, 180_000);
});
