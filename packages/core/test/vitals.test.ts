import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createFakeClock, createKeel, type Keel, KeelErrorCode, type KeelOptions } from '../src/index.js';

const open: { keel: Keel; server: Server }[] = [];

/**
 * A Keel whose collector and endpoints answer on a real port. Every beacon here comes from one
 * client (127.0.0.1), so the per-client quota is raised; vitals-trust.test.ts tests the defaults.
 */
async function serve(options: KeelOptions = {}) {
  const clock = createFakeClock();
  const vitals = { perClient: { recorded: 1000, accepted: 1000 }, ...(options.vitals || {}) };
  const keel = createKeel({ runtime: false, clock, minSamples: 5, ...options, vitals });
  const server = createServer((req, res) => {
    if (keel.vitals?.matches(req.url)) keel.vitals.handle(req, res);
    else if (!keel.handle(req, res)) {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  open.push({ keel, server });
  const { port } = server.address() as AddressInfo;
  return { keel, clock, port, base: `http://127.0.0.1:${port}` };
}

afterEach(async () => {
  for (const { keel, server } of open.splice(0)) {
    await keel.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

interface Sent {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * A raw HTTP request, so tests control every header (Origin, Content-Length) and how the body is sent.
 * By default it says what a browser on one of the app's own pages says (`Sec-Fetch-Site: same-origin`).
 */
function send(
  port: number,
  options: {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    /** Write the body in pieces, pausing between them. */
    chunks?: (string | Buffer)[];
    pauseMs?: number;
  } = {},
): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'POST',
        path: options.path ?? '/keel/vitals',
        headers: {
          'content-type': 'text/plain;charset=UTF-8',
          'sec-fetch-site': 'same-origin',
          ...options.headers,
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    // A server that answers early and closes may reset a request still writing: the answer counts.
    req.on('error', reject);
    if (options.chunks) {
      let i = 0;
      const next = () => {
        if (i === options.chunks!.length) return req.end();
        req.write(options.chunks![i++]);
        setTimeout(next, options.pauseMs ?? 0);
      };
      next();
    } else {
      req.end(options.body);
    }
  });
}

const beacon = (page: string, metrics: unknown[]) => JSON.stringify({ page, metrics });

/** Everything the beacons can change, as Prometheus text: the web_vitals histograms. */
async function vitalsSeries(keel: Keel): Promise<string> {
  const text = await keel.metrics();
  return text
    .split('\n')
    .filter((l) => l.startsWith('web_vitals_'))
    .join('\n');
}

describe('web-vitals collector', () => {
  it('records a beacon into the web_vitals signals and answers 204', async () => {
    const { keel, port } = await serve();
    const res = await send(port, {
      body: beacon('/products/:id', [
        { name: 'TTI', value: 2100 },
        { name: 'LCP', value: 1800.5 },
        { name: 'INP', value: 96 },
        { name: 'CLS', value: 0.04 },
        { name: 'FCP', value: 900 },
        { name: 'TTFB', value: 120 },
      ]),
    });
    expect(res.status).toBe(204);
    expect(res.body).toBe('');
    const text = await keel.metrics();
    expect(text).toContain('web_vitals_tti_seconds_count{page_group="/products/:id"} 1');
    expect(text).toContain('web_vitals_tti_seconds_sum{page_group="/products/:id"} 2.1');
    expect(text).toContain('web_vitals_lcp_seconds_bucket{page_group="/products/:id",le="2.5"} 1');
    expect(text).toContain('web_vitals_inp_seconds_sum{page_group="/products/:id"} 0.096');
    expect(text).toContain('web_vitals_cls_bucket{page_group="/products/:id",le="0.05"} 1');
    expect(text).toContain('web_vitals_cls_bucket{page_group="/products/:id",le="0.025"} 0');
    expect(text).toContain('web_vitals_fcp_seconds_count{page_group="/products/:id"} 1');
    expect(text).toContain('web_vitals_ttfb_seconds_count{page_group="/products/:id"} 1');
    expect(text).toContain('keel_web_vitals_beacons_total{outcome="accepted"} 1');
    expect(keel.vitals!.stats()).toMatchObject({ accepted: 1, pageGroups: 1 });
  });

  it('refuses bad, oversize and hostile beacons with a 4xx and changes nothing', async () => {
    const { keel, port } = await serve();
    await send(port, { body: beacon('/', [{ name: 'LCP', value: 1000 }]) });
    const before = await vitalsSeries(keel);
    const seriesBefore = keel.signals.map((s) => s.seriesCount);

    const huge = 'x'.repeat(17_000);
    const cases: [string, Parameters<typeof send>[1], number][] = [
      ['GET', { method: 'GET' }, 405],
      ['PUT', { method: 'PUT', body: beacon('/', [{ name: 'LCP', value: 1 }]) }, 405],
      [
        'wrong media type',
        { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1' },
        415,
      ],
      ['declared too large', { body: beacon(`/${huge}`, [{ name: 'LCP', value: 1 }]) }, 413],
      [
        'chunked, too large',
        { headers: { 'transfer-encoding': 'chunked' }, chunks: ['{"page":"/","metrics":[', huge, ']}'] },
        413,
      ],
      ['not JSON', { body: '{"page":' }, 400],
      ['NaN', { body: '{"page":"/","metrics":[{"name":"LCP","value":NaN}]}' }, 400],
      ['deep nesting', { body: `${'['.repeat(8000)}${']'.repeat(8000)}` }, 422],
      ['array', { body: '[]' }, 422],
      ['unknown metric', { body: beacon('/', [{ name: 'FID', value: 10 }]) }, 422],
      ['negative', { body: beacon('/', [{ name: 'LCP', value: -1 }]) }, 422],
      ['out of range', { body: beacon('/', [{ name: 'TTI', value: 1e308 }]) }, 422],
      ['CLS out of range', { body: beacon('/', [{ name: 'CLS', value: 101 }]) }, 422],
      ['string value', { body: beacon('/', [{ name: 'LCP', value: '100' }]) }, 422],
      ['no page', { body: JSON.stringify({ metrics: [{ name: 'LCP', value: 1 }] }) }, 422],
      ['page without slash', { body: beacon('products', [{ name: 'LCP', value: 1 }]) }, 422],
      ['page with query', { body: beacon('/p?id=1', [{ name: 'LCP', value: 1 }]) }, 422],
      ['page with control', { body: beacon('/p\n# HELP', [{ name: 'LCP', value: 1 }]) }, 422],
      ['page too long', { body: beacon(`/${'a'.repeat(300)}`, [{ name: 'LCP', value: 1 }]) }, 422],
      ['no metrics', { body: beacon('/', []) }, 422],
      [
        'too many metrics',
        {
          body: beacon(
            '/',
            Array.from({ length: 17 }, () => ({ name: 'LCP', value: 1 })),
          ),
        },
        422,
      ],
      [
        'duplicate',
        {
          body: beacon('/', [
            { name: 'LCP', value: 1 },
            { name: 'LCP', value: 2 },
          ]),
        },
        422,
      ],
      ['extra field', { body: beacon('/', [{ name: 'LCP', value: 1, weight: 1000 }]) }, 422],
      ['__proto__', { body: '{"page":"/","metrics":[{"name":"LCP","value":1}],"__proto__":{"x":1}}' }, 422],
      ['censored LCP', { body: beacon('/', [{ name: 'LCP', value: 1, censored: true }]) }, 422],
      ['censored not boolean', { body: beacon('/', [{ name: 'TTI', value: 1, censored: 1 }]) }, 422],
      [
        'impossible order (FCP after LCP)',
        {
          body: beacon('/', [
            { name: 'FCP', value: 2000 },
            { name: 'LCP', value: 900 },
          ]),
        },
        422,
      ],
      [
        'token not a string',
        { body: JSON.stringify({ page: '/', token: 5, metrics: [{ name: 'LCP', value: 1 }] }) },
        422,
      ],
      [
        'one bad among good',
        {
          body: beacon('/', [
            { name: 'LCP', value: 1000 },
            { name: 'INP', value: -5 },
          ]),
        },
        422,
      ],
      [
        'cross-site page',
        {
          headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
          body: beacon('/', [{ name: 'LCP', value: 1 }]),
        },
        403,
      ],
    ];
    for (const [name, options, status] of cases) {
      const res = await send(port, options);
      expect(res.status, name).toBe(status);
      expect(res.status, name).toBeLessThan(500);
    }
    expect(await vitalsSeries(keel)).toBe(before);
    expect(keel.signals.map((s) => s.seriesCount)).toEqual(seriesBefore);
    const stats = keel.vitals!.stats();
    expect(stats.accepted).toBe(1);
    expect(Object.values(stats.rejected).reduce((a, b) => a + b, 0)).toBe(cases.length);
    expect(await keel.metrics()).toContain('keel_web_vitals_beacons_total{outcome="invalid"} 22');
  });

  it('gives up on a body that does not arrive in time (408)', async () => {
    const { keel, port } = await serve({ clock: undefined, vitals: { bodyTimeout: 200 } });
    const res = await send(port, {
      headers: { 'content-length': '100' },
      chunks: ['{"page":"/",', '"metrics":[]}'],
      pauseMs: 1000,
    }).catch((error: Error) => ({ status: 0, error }));
    expect(res.status).toBe(408);
    expect(keel.vitals!.stats().rejected.timeout).toBe(1);
  });

  it('caps page groups: further groups share the overflow series', async () => {
    const { keel, port } = await serve({ vitals: { maxPageGroups: 3 } });
    for (let i = 0; i < 10; i++) {
      const res = await send(port, { body: beacon(`/random/${i}`, [{ name: 'TTI', value: 1000 + i }]) });
      expect(res.status).toBe(204);
    }
    expect(keel.tti.seriesCount).toBe(3);
    expect(keel.vitals!.stats()).toMatchObject({ pageGroups: 3, overflowed: 7 });
    const text = await keel.metrics();
    expect(text).toContain('web_vitals_tti_seconds_count{page_group="__overflow__"} 7');
    expect(text).toContain('keel_web_vitals_page_groups 3');
  });

  it('keeps censored TTI out of the distribution unless it already misses the target', async () => {
    const { keel, port } = await serve();
    await send(port, { body: beacon('/a', [{ name: 'TTI', value: 2000, censored: true }]) });
    await send(port, { body: beacon('/a', [{ name: 'TTI', value: 4500, censored: true }]) });
    await send(port, { body: beacon('/a', [{ name: 'TTI', value: 2500, censored: false }]) });
    const text = await keel.metrics();
    expect(text).toContain('web_vitals_tti_seconds_count{page_group="/a"} 2');
    expect(text).toContain('web_vitals_tti_seconds_sum{page_group="/a"} 7');
    expect(text).toContain('keel_web_vitals_tti_censored_total{recorded="true"} 1');
    expect(text).toContain('keel_web_vitals_tti_censored_total{recorded="false"} 1');
  });

  it('answers CORS preflights and beacons from allowed origins only', async () => {
    const { port } = await serve({ vitals: { allowedOrigins: ['https://shop.example'] } });
    const preflight = (origin: string) =>
      send(port, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'sec-fetch-site': 'cross-site' },
      });
    const ok = await preflight('https://shop.example');
    expect(ok.status).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe('https://shop.example');
    expect(ok.headers['access-control-allow-methods']).toBe('POST');
    expect((await preflight('https://evil.example')).status).toBe(403);

    const post = (origin: string) =>
      send(port, {
        headers: { origin, 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' },
        body: beacon('/', [{ name: 'LCP', value: 1200 }]),
      });
    const accepted = await post('https://shop.example');
    expect(accepted.status).toBe(204);
    expect(accepted.headers['access-control-allow-origin']).toBe('https://shop.example');
    expect((await post('https://evil.example')).status).toBe(403);
    // The app's own pages need no listing.
    const own = await send(port, {
      headers: { origin: `http://127.0.0.1:${port}`, 'sec-fetch-site': 'same-origin' },
      body: beacon('/', [{ name: 'LCP', value: 1200 }]),
    });
    expect(own.status).toBe(204);
  });

  it('feeds the page_load, lcp, inp and cls budgets: /health, the score and /metrics', async () => {
    const { keel, port, base, clock } = await serve();
    for (let i = 0; i < 20; i++) {
      const res = await send(port, {
        body: beacon('/checkout', [
          { name: 'TTI', value: 4200 }, // p75 over the 3 s budget
          { name: 'LCP', value: 1900 },
          { name: 'INP', value: 150 },
          { name: 'CLS', value: 0.3 }, // over 0.1
        ]),
      });
      expect(res.status).toBe(204);
    }
    // Two evaluations: a new state is adopted after `hysteresis` (2) agree.
    clock.advance(keel.config.interval * 3);
    const health = (await (await fetch(`${base}/health`)).json()) as {
      score: number;
      budgets: { name: string; state: string; value: number; target: number }[];
    };
    const state = Object.fromEntries(health.budgets.map((b) => [b.name, b.state]));
    expect(state).toMatchObject({ page_load: 'breached', lcp: 'ok', inp: 'ok', cls: 'breached' });
    const pageLoad = health.budgets.find((b) => b.name === 'page_load')!;
    expect(pageLoad.target).toBe(3000);
    expect(pageLoad.value).toBeCloseTo(4200, -2);
    expect(health.score).toBeLessThan(8);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('keel_budget_state{budget="page_load",state="breached"} 1');
    expect(metrics).toContain('keel_budget_state{budget="cls",state="breached"} 1');
    expect(metrics).toContain('keel_budget_state{budget="lcp",state="ok"} 1');
    expect(metrics).toMatch(/keel_health_component_score\{component="budget:page_load"\} [0-7]/);
  });

  it('validates its options at startup and can be switched off', () => {
    const bad: unknown[] = [
      { path: 'vitals' },
      { path: '/v?x' },
      { allowedOrigins: ['https://a.example/'] },
      { allowedOrigins: 'https://a.example' },
      { maxPageGroups: 0 },
      { maxBodyBytes: 1_000_000 },
      { bodyTimeout: 1.5 },
      { origins: ['*'] },
      { secret: 'too short' },
      { perClient: { recorded: 0 } },
      { perClient: { recorded: 10, accepted: 5 } },
      { perClient: { weight: 1 } },
      { trustProxy: -1 },
      { tokenTtl: 10 },
      'on',
    ];
    for (const vitals of bad) {
      expect(() => createKeel({ runtime: false, vitals: vitals as never }), JSON.stringify(vitals)).toThrow(
        expect.objectContaining({ code: KeelErrorCode.InvalidOption }),
      );
    }
    const off = createKeel({ runtime: false, vitals: false });
    expect(off.vitals).toBeUndefined();
    expect(off.config.budgets.map((b) => b.name)).toContain('page_load');
    void off.close();
    const custom = createKeel({ runtime: false, vitals: { path: '/rum' } });
    expect(custom.vitals!.matches('/rum')).toBe(true);
    expect(custom.vitals!.matches('/rum?x=1')).toBe(true);
    expect(custom.vitals!.matches('/rumor')).toBe(false);
    void custom.close();
  });
});
