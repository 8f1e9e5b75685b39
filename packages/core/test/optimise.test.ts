import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  type CpuProfileReport,
  createFakeClock,
  createKeel,
  type IndexBottleneck,
  type Keel,
  KeelErrorCode,
  type KeelOptions,
  keepUrl,
  type OptimiseReport,
  type OptimiseSource,
  type PoolBottleneck,
  type RequestContext,
  summariseProfile,
} from '../src/index.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const ORDERS_FP = 'select id, total from orders where customer_id = ? order by created_at desc limit ?';
const CUSTOMER_FP = 'select name from customers where id = ?';
const RECENT_FP = 'select id, customer_id from orders order by id desc limit ?';

function setup(options: KeelOptions = {}) {
  const clock = createFakeClock();
  const keel = createKeel({
    runtime: false,
    clock,
    ...options,
    optimise: { profileMs: 0, captureMs: 5000, ...(options.optimise || {}) },
  });
  keel.context.use();
  return { keel, clock };
}

/** What an adapter and @keel/pg do for one request: a context, its queries, then the record. */
function serve(
  keel: Keel,
  method: string,
  route: string,
  ms: number,
  queries: [string, number][] = [],
  extra: (ctx: RequestContext) => void = () => {},
): void {
  const ctx = keel.context.create(undefined);
  for (const [fp, queryMs] of queries) {
    ctx.dbMs += queryMs;
    ctx.dbCalls++;
    ctx.profile?.query(fp, queryMs);
  }
  extra(ctx);
  keel.recordRequest(method, route, 200, ms, '', ctx);
}

async function capture(
  keel: Keel,
  clock: ReturnType<typeof createFakeClock>,
  during: () => void,
): Promise<OptimiseReport> {
  const report = keel.optimise({ reason: 'test', windowMs: 5000 });
  during();
  await clock.advanceAsync(5000);
  return report;
}

describe('the optimisation loop', () => {
  it('splits each route’s time into database (per fingerprint), pool wait, cache and the rest', async () => {
    const { keel, clock } = setup();
    const report = await capture(keel, clock, () => {
      for (let i = 0; i < 40; i++)
        serve(keel, 'GET', '/api/orders', 300, [[ORDERS_FP, 250]], (ctx) => {
          ctx.profile!.acquireMs += 10;
        });
      for (let i = 0; i < 10; i++) {
        const queries: [string, number][] = [[RECENT_FP, 2]];
        for (let k = 0; k < 20; k++) queries.push([CUSTOMER_FP, 0.5]);
        serve(keel, 'GET', '/api/orders/recent', 30, queries);
      }
    });
    expect(report.schema).toBe('keel-optimise/1');
    expect(report.requests).toBe(50);
    const orders = report.routes.find((r) => r.route === '/api/orders')!;
    expect(orders).toMatchObject({
      method: 'GET',
      requests: 40,
      p95: 300,
      budget: 'api_latency',
      targetMs: 200,
    });
    expect(orders.split).toEqual({ dbMs: 250, acquireMs: 10, cacheMs: 0, cacheLoadMs: 0, restMs: 40 });
    expect(orders.trafficShare).toBe(0.8);
    expect(orders.perMinute).toBe(480);
    expect(orders.fingerprints[0]).toMatchObject({ fingerprint: ORDERS_FP, calls: 40, perRequest: 1 });
    const recent = report.routes.find((r) => r.route === '/api/orders/recent')!;
    expect(recent.queriesPerRequest).toBe(21);
    expect(recent.fingerprints.find((f) => f.fingerprint === CUSTOMER_FP)).toMatchObject({
      calls: 200,
      perRequest: 20,
      maxPerRequest: 20,
    });
    // The N+1 is reported with its fingerprint and count.
    const n1 = report.bottlenecks.find((b) => b.kind === 'n-plus-one')!;
    expect(n1).toMatchObject({ route: 'GET /api/orders/recent', fingerprint: CUSTOMER_FP, effort: 'code' });
    expect(n1.fix).toBe(
      `N+1: 20 identical queries per request (${CUSTOMER_FP}): load them in one query (WHERE … = ANY($1)) or a JOIN`,
    );
    // 200 queries × 0.5 ms in 5 s: 1.2 user-seconds per minute.
    expect(n1.impact.userSecondsPerMinute).toBe(1.2);
    await keel.close();
  });

  it('ranks a missing index first, with the statement and plan costs from its source', async () => {
    const { keel, clock } = setup({ optimise: { instances: 2 } });
    const asked: unknown[] = [];
    const source: OptimiseSource = {
      name: 'test-db',
      async analyse(question) {
        asked.push(question);
        return {
          indexes: [
            {
              fingerprint: ORDERS_FP,
              statement: 'CREATE INDEX CONCURRENTLY orders_customer_id_idx ON orders (customer_id);',
              table: 'orders',
              columns: ['customer_id'],
              costBefore: 5000,
              costAfter: 50,
              hypopg: true,
            },
          ],
          pool: null,
          notes: ['a note from the source'],
        };
      },
    };
    keel.optimiser!.addSource(source);
    const report = await capture(keel, clock, () => {
      for (let i = 0; i < 40; i++) serve(keel, 'GET', '/api/orders', 300, [[ORDERS_FP, 250]]);
      const many: [string, number][] = Array.from({ length: 20 }, () => [CUSTOMER_FP, 0.5]);
      for (let i = 0; i < 10; i++) serve(keel, 'GET', '/api/orders/recent', 30, many);
    });
    expect(asked).toEqual([
      {
        fingerprints: [
          { fingerprint: ORDERS_FP, meanMs: 250, calls: 40 },
          { fingerprint: CUSTOMER_FP, meanMs: 0.5, calls: 200 },
        ],
        windowMs: 5000,
        instances: 2,
      },
    ]);
    const first = report.bottlenecks[0] as IndexBottleneck;
    expect(first).toMatchObject({ rank: 1, kind: 'index', effort: 'index', route: 'GET /api/orders' });
    expect(first.fix).toBe('CREATE INDEX CONCURRENTLY orders_customer_id_idx ON orders (customer_id);');
    // 40 × 250 ms in 5 s = 120 user-seconds per minute; the planner expects 99 % of it gone.
    expect(first.impact).toEqual({ userSecondsPerMinute: 120, overshootShare: 1, trafficShare: 0.8 });
    expect(first.expectedGain).toEqual({
      userSecondsPerMinute: 118.8,
      basis: 'planner cost 5000 → 50 with a hypothetical index (hypopg)',
    });
    expect(report.bottlenecks.map((b) => b.rank)).toEqual(report.bottlenecks.map((_, i) => i + 1));
    expect(report.notes).toContain('a note from the source');
    await keel.close();
  });

  it('suggests raising the pool when queries wait for connections, from its source’s numbers, priced', async () => {
    const { keel, clock } = setup({
      cost: { instanceHourly: 0.1, currency: 'USD', dbConnectionHourly: 0.01, instances: 2 },
    });
    keel.optimiser!.addSource({
      name: 'pool',
      analyse: async () => ({
        indexes: [],
        pool: {
          pool: 'main',
          from: 4,
          to: 9,
          demand: 8.2,
          maxConnections: 100,
          serverConnections: 12,
          instances: 1,
          waitMs: 6000,
          busyMs: 5000,
        },
        notes: [],
      }),
    });
    const report = await capture(keel, clock, () => {
      for (let i = 0; i < 50; i++)
        serve(keel, 'GET', '/api/items', 250, [['select 1', 100]], (ctx) => {
          ctx.profile!.acquireMs += 120;
        });
    });
    const pool = report.bottlenecks.find((b) => b.kind === 'pool') as PoolBottleneck;
    expect(pool.fix).toBe(
      'raise pool max from 4 to 9 (createPool(keel, { pg: { max: 9 } })): fits max_connections 100 with 1 instance(s)',
    );
    expect(pool.impact.userSecondsPerMinute).toBe(72);
    expect(pool.details.acquireShare).toBe(0.48);
    expect(pool.effort).toBe('pool');
    // Five more connections on each of two instances, at 0.01 USD an hour each, 730 hours a month.
    expect(pool.cost).toEqual({
      monthly: 73,
      currency: 'USD',
      text: '+5 connections per instance (×2 instances): +73.00 USD/month, +10 connections in total',
    });
    expect(keel.optimiser!.status().latest!.top.find((b) => b.kind === 'pool')!.cost).toBe(pool.cost!.text);
    await keel.close();
  });

  it('suggests caching a GET route whose answers repeat, with the expected hit ratio', async () => {
    const { keel, clock } = setup();
    const report = await capture(keel, clock, () => {
      for (let i = 0; i < 100; i++) {
        serve(keel, 'GET', '/api/catalog', 80);
        keel.traffic!.sample('GET', '/api/catalog', `/api/catalog?page=${i % 4}`, 200, `W/"page-${i % 4}"`);
      }
    });
    const cache = report.bottlenecks.find((b) => b.kind === 'cache')!;
    expect(cache).toMatchObject({ route: 'GET /api/catalog', effort: 'cache' });
    // 20 requests per second over 4 URLs: 1 s of TTL leaves one miss in 6 requests per URL.
    expect(cache.details).toEqual({
      method: 'GET',
      route: '/api/catalog',
      ttlSeconds: 1,
      expectedHitRatio: 0.833,
      unchangedShare: 1,
      samples: 100,
    });
    expect(cache.fix).toMatch(
      /^cache GET \/api\/catalog for 1 s with Keel's response cache .*: expected hit ratio 83 %$/,
    );
    await keel.close();
  });

  it('starts a capture by itself when a route’s p95 passes optimise.triggerMs, then waits out the cooldown', async () => {
    const { keel, clock } = setup({ optimise: { triggerMs: 500, cooldown: 60_000 } });
    const captures: string[] = [];
    keel.optimiser!.on('capture', (c) => captures.push(c.reason));
    const reports: OptimiseReport[] = [];
    keel.optimiser!.on('report', (r) => reports.push(r));
    for (let i = 0; i < 30; i++) keel.recordRequest('GET', '/fast', 200, 20);
    clock.advance(10_000);
    expect(captures).toEqual([]);
    for (let i = 0; i < 30; i++) keel.recordRequest('GET', '/slow', 200, 900);
    clock.advance(10_000);
    expect(captures).toHaveLength(1);
    expect(captures[0]).toMatch(/^route \/slow: p95 9\d\d ms over the last 6 interval\(s\) > 500 ms$/);
    expect(keel.health().sections?.optimise).toMatchObject({ state: 'capturing' });
    await clock.advanceAsync(5000);
    expect(reports).toHaveLength(1);
    // Still slow, but within the cooldown: no second capture.
    for (let i = 0; i < 30; i++) keel.recordRequest('GET', '/slow', 200, 900);
    await clock.advanceAsync(20_000);
    expect(captures).toHaveLength(1);
    await clock.advanceAsync(40_000);
    for (let i = 0; i < 30; i++) keel.recordRequest('GET', '/slow', 200, 900);
    await clock.advanceAsync(10_000);
    expect(captures).toHaveLength(2);
    await keel.close();
  });

  it('shows a bounded optimise section in /health', async () => {
    const { keel, clock } = setup();
    await capture(keel, clock, () => {
      for (let route = 0; route < 12; route++)
        for (let i = 0; i < 6; i++)
          serve(
            keel,
            'GET',
            `/r${route}`,
            100,
            Array.from({ length: 6 }, () => [`select ${route}`, 10] as [string, number]),
          );
    });
    const section = keel.health().sections?.optimise as {
      state: string;
      latest: { bottlenecks: number; top: unknown[] };
    };
    expect(section.state).toBe('idle');
    expect(section.latest.bottlenecks).toBe(12);
    expect(section.latest.top).toHaveLength(5);
    await keel.close();
  });

  it('notes when requests carry no context, and tallies their wall time only', async () => {
    const clock = createFakeClock();
    const keel = createKeel({ runtime: false, clock, optimise: { profileMs: 0 } });
    const report = keel.optimise({ windowMs: 1000 });
    keel.recordRequest('GET', '/x', 200, 40);
    await clock.advanceAsync(1000);
    const done = await report;
    expect(done.routes[0]).toMatchObject({ route: '/x', requests: 1, split: null, profiled: 0 });
    expect(done.notes[0]).toMatch(/^no request carried a context/);
    await keel.close();
  });

  it('costs nothing when off: no optimiser, no profiles, and keel.optimise() refuses', async () => {
    const keel = createKeel({ runtime: false, clock: createFakeClock(), optimise: false });
    expect(keel.optimiser).toBeUndefined();
    expect(keel.traffic).toBeUndefined();
    keel.context.use();
    expect(keel.context.create(undefined).profile).toBeUndefined();
    await expect(keel.optimise()).rejects.toMatchObject({ code: KeelErrorCode.InvalidOption });
    expect(keel.health().sections?.optimise).toBeUndefined();
    await keel.close();
  });

  it('gives request contexts a profile only while capturing', async () => {
    const { keel, clock } = setup();
    expect(keel.context.create(undefined).profile).toBeUndefined();
    const done = keel.optimise({ windowMs: 1000 });
    expect(keel.context.create(undefined).profile).toBeDefined();
    await clock.advanceAsync(1000);
    await done;
    expect(keel.context.create(undefined).profile).toBeUndefined();
    await keel.close();
  });

  it('takes the fleet size from cost.instances unless optimise.instances says otherwise', async () => {
    const fleet = setup({ cost: { instanceHourly: 0.1, currency: 'USD', instances: 4 } });
    expect(fleet.keel.config.optimise!.instances).toBe(4);
    const own = setup({
      cost: { instanceHourly: 0.1, currency: 'USD', instances: 4 },
      optimise: { instances: 2 },
    });
    expect(own.keel.config.optimise!.instances).toBe(2);
    expect(setup().keel.config.optimise!.instances).toBe(1);
    for (const k of [fleet.keel, own.keel]) await k.close();
  });

  it('rejects bad options at setup and bad windows on demand', async () => {
    for (const optimise of [
      { triggerMs: 0 },
      { profileMs: 20_000 },
      { captureMs: -1 },
      { nPlusOne: 1 },
      { instances: 1.5 },
      { trigger: 5 },
      { traffic: { pathsPerRoute: 0 } },
    ])
      expect(() => createKeel({ optimise } as KeelOptions)).toThrow(
        expect.objectContaining({ code: KeelErrorCode.InvalidOption }),
      );
    const { keel } = setup();
    await expect(keel.optimise({ windowMs: 0 })).rejects.toMatchObject({ code: KeelErrorCode.InvalidOption });
    await keel.close();
    await expect(keel.optimise()).rejects.toMatchObject({ code: KeelErrorCode.Closed });
  });
});

describe('CPU profiles', () => {
  it('names the functions with the most self time, with file and line', async () => {
    const keel = createKeel({ runtime: false, optimise: { profileMs: 300, captureMs: 300 } });
    const done = keel.optimise({ windowMs: 300 });
    // Busy in slices, as a server is between requests: the profiler starts at the first yield.
    const until = performance.now() + 250;
    while (performance.now() < until) {
      await new Promise((resolve) => setImmediate(resolve));
      for (let i = 0; i < 10; i++) spinForAMillisecond();
    }
    const report = await done;
    expect(report.cpu).not.toBeNull();
    const spin = report.cpu!.top.find((f) => f.function === 'spinForAMillisecond')!;
    // The file as loaded; its line is vitest's transformed code's (see the subprocess test for lines).
    expect(spin).toMatchObject({ file: 'packages/core/test/optimise.test.ts', origin: 'app' });
    expect(spin.selfShare).toBeGreaterThan(0.5);
    expect(report.cpu!.costMs).toBeGreaterThan(0);
    // The next capture within the cooldown takes none, and says why.
    const next = keel.optimise({ windowMs: 10 });
    const second = await next;
    expect(second.cpu).toBeNull();
    expect(second.cpuSkipped).toMatch(/^one CPU profile per cooldown/);
    await keel.close();
  });

  it('gives the line of the code as loaded, or of the source when source maps are on', () => {
    const run = (...flags: string[]) => {
      const child = spawnSync(process.execPath, [...flags, 'test/fixtures/cpu-busy.mjs'], {
        cwd: packageDir,
        encoding: 'utf8',
      });
      expect(child.stderr).toBe('');
      return (JSON.parse(child.stdout) as CpuProfileReport).top.find(
        (f) => f.function === 'spinForAMillisecond',
      );
    };
    expect(run()).toMatchObject({ file: 'test/fixtures/cpu-busy.mjs', line: 6, origin: 'app' });
    // Its source map puts every line 10 further down in busy.ts.
    expect(run('--enable-source-maps')).toMatchObject({ file: 'test/fixtures/busy.ts', line: 16 });
  });

  it('summarises a V8 profile: self samples, idle and GC shares', () => {
    const frame = (functionName: string, url = '', lineNumber = -1) => ({ functionName, url, lineNumber });
    const summary = summariseProfile(
      {
        nodes: [
          { id: 1, callFrame: frame('(root)'), hitCount: 0 },
          { id: 2, callFrame: frame('(idle)'), hitCount: 50 },
          { id: 3, callFrame: frame('(garbage collector)'), hitCount: 5 },
          { id: 4, callFrame: frame('render', 'file:///srv/app/src/render.js', 9), hitCount: 30 },
          { id: 5, callFrame: frame('render', 'file:///srv/app/src/render.js', 9), hitCount: 5 },
          { id: 6, callFrame: frame('parse', 'file:///srv/app/node_modules/x/index.js', 0), hitCount: 10 },
        ],
      },
      '/srv/app',
    );
    expect(summary).toEqual({
      samples: 100,
      idleShare: 0.5,
      gcShare: 0.05,
      top: [
        {
          function: 'render',
          file: 'src/render.js',
          line: 10,
          origin: 'app',
          selfSamples: 35,
          selfShare: 0.7,
        },
        {
          function: 'parse',
          file: 'node_modules/x/index.js',
          line: 1,
          origin: 'dependency',
          selfSamples: 10,
          selfShare: 0.2,
        },
      ],
    });
  });
});

describe('traffic profiles', () => {
  it('keeps ids, flags and options; drops personal data, secrets and searches', () => {
    expect(keepUrl('/api/orders', '/api/orders?customer=42&sort=created_at&desc=true&page=2')).toEqual({
      url: '/api/orders?customer=42&sort=created_at&desc=true&page=2',
      dropped: [],
    });
    expect(
      keepUrl(
        '/api/orders',
        '/api/orders?email=ada%40example.com&name=ada&token=abc123&phone=4155550100&q=shoes&ref=x&n=12345678901&id=Ada&k=ab12cd34ef56#top',
      ),
    ).toEqual({
      url: '/api/orders',
      dropped: ['email', 'name', 'token', 'phone', 'q', 'ref', 'n', 'id', 'k'],
    });
    expect(keepUrl('/api/users/:id', '/api/users/42')).toEqual({ url: '/api/users/42', dropped: [] });
    expect(keepUrl('/api/users/:id', '/api/users/3f2b1c4d-1111-4222-8333-444455556666').url).not.toBeNull();
    expect(keepUrl('/api/users/:id', '/api/users/ada%40example.com').url).toBeNull();
    expect(keepUrl('/files/*', '/files/a/b').url).toBeNull();
  });

  it('profiles routes with their rates and a sample of concrete paths, leaving out Keel’s own answers', () => {
    const clock = createFakeClock();
    const keel = createKeel({
      runtime: false,
      clock,
      optimise: { traffic: { pathsPerRoute: 3, sampleInterval: 0 } },
    });
    for (let i = 0; i < 30; i++) {
      keel.recordRequest('GET', '/api/users/:id', 200, 5);
      keel.traffic!.sample('GET', '/api/users/:id', `/api/users/${i}?email=x%40y.z`, 200);
    }
    for (let i = 0; i < 10; i++) keel.recordRequest('GET', '/api/orders', 200, 5);
    keel.recordRequest('GET', '/api/orders', 503, 1, 'shed');
    keel.recordRequest('GET', '__unmatched__', 404, 1);
    clock.advance(10_000);
    const profile = keel.optimiser!.trafficProfile()!;
    expect(profile).toMatchObject({
      schema: 'keel-traffic/1',
      requests: 40,
      since: profile.recordedAt - 10_000,
    });
    expect(profile.routes[0]).toMatchObject({
      method: 'GET',
      route: '/api/users/:id',
      requests: 30,
      perSecond: 3,
      share: 0.75,
      droppedKeys: ['email'],
    });
    expect(profile.routes[0]!.paths).toHaveLength(3);
    for (const path of profile.routes[0]!.paths) expect(path).toMatch(/^\/api\/users\/\d+$/);
    expect(profile.routes[1]).toMatchObject({ route: '/api/orders', requests: 10, paths: [] });
  });

  it('samples one request per sampleInterval outside a capture, every request during one', async () => {
    const { keel, clock } = setup();
    const traffic = keel.traffic!;
    expect(traffic.sampling).toBe(true);
    traffic.sample('GET', '/a', '/a', 200);
    expect(traffic.sampling).toBe(false);
    clock.advance(100);
    expect(traffic.sampling).toBe(true);
    const done = keel.optimise({ windowMs: 1000 });
    for (let i = 0; i < 5; i++) {
      traffic.sample('GET', '/a', '/a', 200);
      expect(traffic.sampling).toBe(true);
    }
    await clock.advanceAsync(1000);
    await done;
    traffic.sample('GET', '/a', '/a', 200);
    expect(traffic.sampling).toBe(false);
    await keel.close();
  });
});

describe('admin endpoints', () => {
  async function call(keel: Keel, method: string, path: string, token?: string) {
    const admin = await keel.listen(0, '127.0.0.1');
    const port = (admin.server.address() as AddressInfo).port;
    return new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, method, path, headers: token ? { authorization: `Bearer ${token}` } : {} },
        (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  it('starts a capture on POST, serves the report on GET and the traffic profile, behind the token', async () => {
    const token = 'a-token-of-16-chars-or-more';
    const { keel, clock } = setup({ endpoints: { token } });
    expect((await call(keel, 'GET', '/keel/optimise')).status).toBe(401);
    expect((await call(keel, 'GET', '/keel/traffic')).status).toBe(401);
    expect((await call(keel, 'DELETE', '/keel/optimise', token)).status).toBe(405);
    expect((await call(keel, 'POST', '/keel/optimise?windowMs=abc', token)).status).toBe(400);
    const started = await call(keel, 'POST', '/keel/optimise?windowMs=2000', token);
    expect(started.status).toBe(202);
    const { capture } = JSON.parse(started.body) as { capture: { id: string; endsAt: number } };
    expect(capture.endsAt - Number(capture.id.slice(4))).toBe(2000);
    serve(keel, 'GET', '/api/orders', 120, [[ORDERS_FP, 100]]);
    await clock.advanceAsync(2000);
    const got = JSON.parse((await call(keel, 'GET', '/keel/optimise', token)).body) as {
      status: { state: string };
      report: OptimiseReport;
    };
    expect(got.status.state).toBe('idle');
    expect(got.report.id).toBe(capture.id);
    expect(got.report.routes[0]!.route).toBe('/api/orders');
    const traffic = await call(keel, 'GET', '/keel/traffic', token);
    expect(JSON.parse(traffic.body)).toMatchObject({ schema: 'keel-traffic/1' });
    await keel.close();
  });
});

function spinForAMillisecond(): number {
  // Pure arithmetic, about a millisecond: its samples are its own, not a native call's.
  let x = 0;
  for (let i = 0; i < 200_000; i++) x += Math.sqrt(x + i);
  return x;
}
