import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compareRuns } from '../src/loadtest/compare.js';
import type { LoadReport, RouteLoad } from '../src/loadtest/load-report.js';
import { mixOf } from '../src/loadtest/traffic-mix.js';
import { drive, startApp, type TestApp } from './app.js';
import { keel, project } from './helpers.js';

let app: TestApp | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const CONFIG = {
  'keel.config.json': { service: 'cli-test', budgets: { page_load: false, db_latency: false } },
};

async function recorded(): Promise<string> {
  // Every request sampled (the default samples one per 100 ms): a short drive covers every route.
  app = await startApp({ optimise: { traffic: { sampleInterval: 0 } } });
  await drive(
    app.url,
    ['/fast', '/fast', '/slow', '/items/1?sort=asc&email=a%40b.c', '/items/2?sort=asc'],
    6,
  );
  const dir = project(CONFIG);
  const run = await keel(['loadtest', '--record', app.url, '--profile', 'traffic.json'], dir);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return dir;
}

describe('keel loadtest', () => {
  it('--record writes the app’s traffic profile: routes, rates, sample paths, no personal data', async () => {
    const dir = await recorded();
    const profile = JSON.parse(readFileSync(join(dir, 'traffic.json'), 'utf8'));
    expect(profile).toMatchObject({ schema: 'keel-traffic/1', service: 'cli-test', requests: 30 });
    const items = profile.routes.find((r: { route: string }) => r.route === '/items/:id');
    expect(items).toMatchObject({ method: 'GET', requests: 12, droppedKeys: ['email'] });
    for (const path of items.paths) expect(path).toMatch(/^\/items\/[12]\?sort=asc$/);
    expect(JSON.stringify(profile)).not.toContain('a%40b.c');
    // A profile that cannot be written is a bad --profile (exit 2, no stack trace), not an incomplete run.
    const unwritable = await keel(['loadtest', '--record', app!.url, '--profile', 'no/such/dir/t.json'], dir);
    expect(unwritable.code).toBe(2);
    expect(unwritable.stderr).toMatch(/^error: --profile no\/such\/dir\/t\.json: cannot write: ENOENT/);
  });

  it('replays the profile, reports each route against the budgets, and --compare fails on a slowdown', async () => {
    const dir = await recorded();
    app!.slowMs = 2;
    const before = await keel(
      ['loadtest', app!.url, '--profile', 'traffic.json', '--duration', '2s', '--connections', '2', '--json'],
      dir,
    );
    expect(before.code).toBe(0);
    const result = JSON.parse(before.stdout).result as LoadReport;
    expect(result.schema).toBe('keel-loadtest/1');
    expect(result.routes.map((r) => r.route).sort()).toEqual(['GET /fast', 'GET /items/:id', 'GET /slow']);
    expect(result.overall.requests).toBeGreaterThan(50);
    expect(result.budgets.map((b) => b.name).sort()).toEqual(['api_latency', 'error_rate']);
    expect(result.budgets.find((b) => b.name === 'api_latency')!.state).toBe('ok');
    expect(before.stderr).toMatch(/replaying 3 route\(s\)/);
    // The same requests went to the app: its own signal counted them.
    expect(app!.keel.http.series.length).toBeGreaterThan(0);

    app!.slowMs = 400;
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'before.json'), before.stdout);
    const after = await keel(
      [
        'loadtest',
        app!.url,
        '--profile',
        'traffic.json',
        '--duration',
        '2s',
        '--connections',
        '2',
        '--compare',
        'before.json',
      ],
      dir,
    );
    expect(after.code).toBe(1);
    expect(after.stdout).toMatch(/GET \/slow .* worse/);
    expect(after.stdout).toMatch(/api_latency\s+ok .* → breached/);
  });

  it('is incomplete (exit 3) when the app cannot be reached, and refuses a file that is not a profile', async () => {
    const dir = project({ ...CONFIG, 'bad.json': { schema: 'nope' } });
    const down = await keel(['loadtest', 'http://127.0.0.1:9', '--json'], dir);
    expect(down.code).toBe(3);
    expect(JSON.parse(down.stdout).incomplete[0]).toMatch(/keel\/traffic/);
    const bad = await keel(['loadtest', 'http://127.0.0.1:9', '--profile', 'bad.json'], dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not a Keel traffic profile/);
    // Bad arguments are usage errors (exit 2) whether or not the app is up: they are checked before it is asked.
    const duration = await keel(['loadtest', 'http://127.0.0.1:9', '--duration', 'soon'], dir);
    expect(duration).toMatchObject({ code: 2, stdout: '' });
    expect(duration.stderr).toMatch(/^error: --duration: not a duration/);
    // --record writes the profile only: options of a replay are refused, not silently ignored.
    const record = await keel(
      ['loadtest', '--record', 'http://127.0.0.1:9', '--connections', '3', '--rate', '5'],
      dir,
    );
    expect(record.code).toBe(2);
    expect(record.stderr).toMatch(/^error: --connections, --rate: not for --record/);
  });
});

describe('the replayed mix', () => {
  it('gives each GET route its share of the sequence, paths in turn, and says what it leaves out', () => {
    const route = (method: string, r: string, requests: number, paths: string[]) => ({
      method,
      route: r,
      requests,
      perSecond: 0,
      share: 0,
      paths,
      droppedKeys: [],
      sampled: paths.length,
      withheld: 0,
    });
    const mix = mixOf({
      schema: 'keel-traffic/1',
      service: 's',
      recordedAt: 0,
      since: 0,
      requests: 1000,
      routes: [
        route('GET', '/a', 750, ['/a?x=1', '/a?x=2']),
        route('GET', '/b', 249, ['/b']),
        route('GET', '/c', 1, ['/c']),
        route('POST', '/d', 5, ['/d']),
        route('GET', '/e', 5, []),
        { ...route('GET', '/f', 5, []), sampled: 2, withheld: 2 },
      ],
    });
    expect(mix.routes).toEqual([
      { route: 'GET /a', share: 0.75, paths: 2 },
      { route: 'GET /b', share: 0.249, paths: 1 },
      { route: 'GET /c', share: 0.001, paths: 1 },
    ]);
    expect(mix.requests.filter((r) => r.path === '/a?x=1')).toHaveLength(375);
    expect(mix.skipped.map((s) => s.route)).toEqual(['POST /d', 'GET /e', 'GET /f']);
    // A route never sampled is not blamed on personal data: recording again after more traffic cures it.
    expect(mix.skipped[1]!.reason).toMatch(/no request of it was sampled yet/);
    expect(mix.skipped[2]!.reason).toMatch(/2 sampled, each withheld: its values looked personal/);
  });
});

describe('comparing two runs', () => {
  const load = (route: string, n: number, p95: number, spread: number, errors = 0): RouteLoad => ({
    route,
    requests: n,
    errors,
    errorRate: errors / n,
    errorRateInterval: [Math.max(0, errors / n - 0.01), errors / n + 0.01],
    perSecond: n / 10,
    p50: p95 / 2,
    p95,
    p99: p95 * 1.2,
    p50Interval: [p95 / 2 - spread, p95 / 2 + spread],
    p95Interval: [p95 - spread, p95 + spread],
    p99Interval: [p95 * 1.2 - spread, p95 * 1.2 + spread],
  });
  const run = (...routes: RouteLoad[]): LoadReport => ({
    schema: 'keel-loadtest/1',
    url: 'http://x',
    profile: 'p',
    startedAt: '',
    durationMs: 10_000,
    connections: 1,
    rate: null,
    transportErrors: 0,
    overall: routes[0]!,
    routes,
    budgets: [],
    skipped: [],
  });

  it('calls a route worse only when p95 rose beyond the noise share and the intervals are apart', () => {
    const before = run(load('GET /a', 1000, 100, 5));
    // +30 %, intervals apart: worse.
    expect(compareRuns(before, run(load('GET /a', 1000, 130, 5)), 0.1).worse).toHaveLength(2);
    // +30 % but the intervals overlap (few samples): not worse.
    expect(compareRuns(before, run(load('GET /a', 20, 130, 40)), 0.1).routes[0]!.verdict).toBe('same');
    // +5 %, intervals apart (many samples): within noise.
    expect(compareRuns(before, run(load('GET /a', 100_000, 105, 1)), 0.1).routes[0]!.verdict).toBe('same');
    // Faster beyond noise: better.
    expect(compareRuns(before, run(load('GET /a', 1000, 10, 1)), 0.1).routes[0]).toMatchObject({
      verdict: 'better',
      p95Change: -0.9,
    });
    // A p95 of few requests is not bounded above by their slowest: 20 requests cannot call +50 % worse
    // nor 4 requests -40 % better, even though the clamped intervals in the report lie apart.
    const few = (n: number, p95: number): RouteLoad => ({
      ...load('GET /a', n, p95, 0),
      p95Interval: [p95 - 1, p95],
    });
    expect(compareRuns(run(few(20, 100)), run(few(20, 150)), 0.1).routes[0]!.verdict).toBe('same');
    expect(compareRuns(run(few(4, 9.7)), run(few(4, 5.9)), 0.1).routes[0]!.verdict).toBe('same');
    // From about 110 requests on, the same intervals are bounded and the verdicts stand.
    expect(compareRuns(run(few(200, 100)), run(few(200, 150)), 0.1).routes[0]!.verdict).toBe('worse');
    expect(compareRuns(run(few(200, 9.7)), run(few(200, 5.9)), 0.1).routes[0]!.verdict).toBe('better');
    // More errors, intervals apart: worse whatever the latency.
    expect(compareRuns(before, run(load('GET /a', 1000, 100, 5, 100)), 0.1).routes[0]!.verdict).toBe('worse');
  });
});
