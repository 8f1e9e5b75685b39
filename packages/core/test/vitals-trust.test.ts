import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type BudgetChangeEvent,
  createFakeClock,
  createKeel,
  type Keel,
  KeelErrorCode,
  type KeelOptions,
} from '../src/index.js';
import { ClientQuota, normalizeAddress } from '../src/vitals/client-quota.js';
import { random } from './helpers.js';

// Who may move a budget with beacons (the threat model in the core README):
// only the app's own pages, each client weighing at most `perClient.recorded`
// beacons per window, and with `vitals.secret` only pages the app rendered.
// Every request here goes over real HTTP; "clients" are distinct loopback
// addresses (127.0.0.2, 127.0.0.3, ...), which Linux routes like any other.

const open: { keel: Keel; server: Server; agents: Map<string, Agent> }[] = [];

async function serve(options: KeelOptions = {}) {
  const clock = createFakeClock();
  const keel = createKeel({ runtime: false, clock, ...options });
  const server = createServer((req, res) => {
    if (keel.vitals?.matches(req.url)) keel.vitals.handle(req, res);
    else if (!keel.handle(req, res)) res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const agents = new Map<string, Agent>();
  open.push({ keel, server, agents });
  const { port } = server.address() as AddressInfo;
  const events: BudgetChangeEvent[] = [];
  keel.on('budget', (e) => events.push(e));

  /** POSTs a body from `client` (a local address), with `headers` (a same-origin page's by default). */
  const post = (
    body: unknown,
    client = '127.0.0.1',
    headers: Record<string, string> = { origin: `http://127.0.0.1:${port}` },
  ) =>
    new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
      let agent = agents.get(client);
      if (!agent) {
        agent = new Agent({ keepAlive: true, maxSockets: 1 });
        agents.set(client, agent);
      }
      const req = request(
        {
          host: '127.0.0.1',
          port,
          localAddress: client,
          agent,
          method: 'POST',
          path: '/keel/vitals',
          headers: { 'content-type': 'text/plain;charset=UTF-8', ...headers },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers }));
        },
      );
      req.on('error', reject);
      req.end(typeof body === 'string' ? body : JSON.stringify(body));
    });
  const pageLoad = () => keel.health().budgets.find((b) => b.name === 'page_load')!;
  return { keel, clock, port, post, events, pageLoad };
}

afterEach(async () => {
  for (const { keel, server, agents } of open.splice(0)) {
    for (const agent of agents.values()) agent.destroy();
    await keel.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

const tti = (value: number, page = '/checkout') => ({ page, metrics: [{ name: 'TTI', value }] });
const clients = (n: number, from = 2) => Array.from({ length: n }, (_, i) => `127.0.0.${from + i}`);

describe('beacons are trusted only as far as they deserve', () => {
  it('takes beacons only from the app’s own pages', async () => {
    const { keel, port, post } = await serve();
    const own = `http://127.0.0.1:${port}`;
    const cases: [string, Record<string, string>, number][] = [
      ['no Origin, no Referer (not a browser page)', {}, 403],
      ['Sec-Fetch-Site: same-origin', { 'sec-fetch-site': 'same-origin' }, 204],
      ['Origin of the host asked', { origin: own }, 204],
      ['Referer on the host asked', { referer: `${own}/checkout?step=2` }, 204],
      ['Origin of another host', { origin: 'http://127.0.0.1:1' }, 403],
      ['Referer on another host', { referer: 'https://elsewhere.example/page' }, 403],
      [
        'same-site but not same-origin',
        { origin: 'https://www.shop.example', 'sec-fetch-site': 'same-site' },
        403,
      ],
      ['cross-site page claiming our Origin', { origin: own, 'sec-fetch-site': 'cross-site' }, 403],
      ['opaque Origin', { origin: 'null' }, 403],
      ['Referer that is not a URL', { referer: 'javascript:alert(1)' }, 403],
    ];
    for (const [name, headers, status] of cases) {
      expect((await post(tti(1000), '127.0.0.1', headers)).status, name).toBe(status);
    }
    expect(keel.vitals!.stats().rejected.forbidden_origin).toBe(7);
  });

  it('weighs at most `perClient.recorded` beacons of one client per window, then answers 429', async () => {
    const { keel, clock, post } = await serve();
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) statuses.push((await post(tti(1000 + i))).status);
    // 3 recorded, 27 more answered (a browser would only resend them) but not recorded, then 429.
    expect(statuses).toEqual([...Array(30).fill(204), ...Array(10).fill(429)]);
    expect(keel.vitals!.stats()).toMatchObject({ accepted: 3, capped: 27 });
    expect(keel.vitals!.stats().rejected.rate_limited).toBe(10);
    expect(await keel.metrics()).toContain('web_vitals_tti_seconds_count{page_group="/checkout"} 3');
    const limited = await post(tti(1000));
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(300);
    // Other clients have quotas of their own.
    expect((await post(tti(1000), '127.0.0.2')).status).toBe(204);
    expect(keel.vitals!.stats().accepted).toBe(4);
    // A new window, a new quota.
    clock.advance(300_000);
    expect((await post(tti(1000))).status).toBe(204);
    expect(keel.vitals!.stats().accepted).toBe(5);
    const metrics = await keel.metrics();
    expect(metrics).toContain('keel_web_vitals_beacons_total{outcome="capped"} 27');
    expect(metrics).toContain('keel_web_vitals_beacons_total{outcome="rate_limited"} 11');
  });

  it('tells clients behind `trustProxy` proxies apart by X-Forwarded-For, and cannot be fooled by its left part', async () => {
    const { keel, port, post } = await serve({ vitals: { trustProxy: 1 } });
    const via = (forwarded: string) => ({ origin: `http://127.0.0.1:${port}`, 'x-forwarded-for': forwarded });
    for (const user of ['198.51.100.1', '198.51.100.2', '198.51.100.3']) {
      for (let i = 0; i < 3; i++) expect((await post(tti(1000), '127.0.0.1', via(user))).status).toBe(204);
    }
    expect(keel.vitals!.stats()).toMatchObject({ accepted: 9, capped: 0 });
    // One sender varying what it writes itself: the proxy appended its real address.
    for (let i = 0; i < 5; i++) await post(tti(1000), '127.0.0.1', via(`10.9.9.${i}, 203.0.113.50`));
    expect(keel.vitals!.stats()).toMatchObject({ accepted: 12, capped: 2 });
    // IPv6: one client is its /64, however many addresses it takes from it.
    for (let i = 0; i < 5; i++) await post(tti(1000), '127.0.0.1', via(`2001:db8:1:2::${i + 1}`));
    expect(keel.vitals!.stats()).toMatchObject({ accepted: 15, capped: 4 });
  });

  it('with a secret, takes only beacons that carry a page token the app made for that page', async () => {
    const secret = 'k'.repeat(40);
    const { keel, clock, post } = await serve({ vitals: { secret, tokenTtl: 3_600_000 } });
    const token = keel.vitals!.pageToken('/checkout');
    const any = keel.vitals!.pageToken();
    const sendWith = (t: unknown, page = '/checkout') => post({ ...tti(1000, page), token: t }, '127.0.0.5');
    expect((await post(tti(1000), '127.0.0.5')).status).toBe(403); // none
    expect((await sendWith('forged.AAAAAAAAAAAAAAAAAAAAAA')).status).toBe(403);
    expect((await sendWith(`${token.slice(0, -2)}AA`)).status).toBe(403); // altered MAC
    expect((await sendWith(token, '/account')).status).toBe(403); // another page group
    const otherSecret = createKeel({ runtime: false, clock, vitals: { secret: 'z'.repeat(40) } });
    expect((await sendWith(otherSecret.vitals!.pageToken('/checkout'))).status).toBe(403);
    await otherSecret.close();
    expect(keel.vitals!.stats().rejected.invalid_token).toBe(5);
    // (Refused beacons count against their client's quota too: these come from fresh clients.)
    expect((await post({ ...tti(1000), token }, '127.0.0.7')).status).toBe(204);
    expect((await post({ ...tti(1000, '/account'), token: any }, '127.0.0.8')).status).toBe(204);
    clock.advance(3_600_000 + 1000);
    expect((await post({ ...tti(1000), token }, '127.0.0.6')).status).toBe(403); // expired
    expect(keel.vitals!.stats().accepted).toBe(2);

    const plain = createKeel({ runtime: false });
    expect(() => plain.vitals!.pageToken('/checkout')).toThrow(
      expect.objectContaining({ code: KeelErrorCode.InvalidOption }),
    );
    expect(() => keel.vitals!.pageToken('checkout')).toThrow(
      expect.objectContaining({ code: KeelErrorCode.InvalidOption }),
    );
    await plain.close();
  });

  it('forged beacons from one or a few clients never judge an empty budget, let alone breach it', async () => {
    const { keel, clock, post, events, pageLoad } = await serve();
    // Well-formed, slow, from pages claiming to be ours: 1,000 from one client, 300 each from two more.
    for (let i = 0; i < 1000; i++) await post(tti(25_000 + i));
    for (const client of clients(2)) for (let i = 0; i < 300; i++) await post(tti(25_000 + i), client);
    for (let i = 0; i < 6; i++) clock.advance(10_000);
    const { accepted, capped, rejected } = keel.vitals!.stats();
    console.log(
      `forged: 1,600 sent from 3 clients, ${accepted} recorded, ${capped} capped, ` +
        `${rejected.rate_limited} refused (429); page_load ${pageLoad().state}`,
    );
    // 3 clients × 3: fewer samples than the 10 (minSamples) a budget needs to be judged.
    expect(accepted).toBe(9);
    expect(pageLoad()).toMatchObject({ state: 'no_data', samples: 9 });
    expect(events.filter((e) => e.budget === 'page_load')).toEqual([]);
    expect(keel.health().score).toBe(10);

    // The limit, stated: ceil(minSamples / perClient.recorded) = 4 clients get an empty budget judged.
    await post(tti(25_000), '127.0.0.9');
    for (let i = 0; i < 3; i++) clock.advance(10_000);
    expect(pageLoad().samples).toBe(10);
    expect(pageLoad().state).toBe('breached');
  });

  it('forged beacons from a few clients do not move a budget that real users feed', async () => {
    const { clock, post, events, pageLoad } = await serve();
    // 20 real users, two page views each, all fast.
    for (const user of clients(20, 10)) for (const v of [1100, 1300]) await post(tti(v), user);
    for (let i = 0; i < 2; i++) clock.advance(10_000);
    const before = pageLoad();
    expect(before).toMatchObject({ state: 'ok', samples: 40 });

    // Three attackers send 500 forged slow beacons each: random but well-formed, over the 3 s target.
    const rand = random(7);
    for (const attacker of clients(3)) {
      for (let i = 0; i < 500; i++) await post(tti(3001 + Math.floor(rand() * 500_000)), attacker);
    }
    for (let i = 0; i < 3; i++) clock.advance(10_000);
    const after = pageLoad();
    console.log(
      `page_load p75 ${before.value} -> ${after.value} ms (${before.samples} -> ${after.samples} samples) ` +
        `after 1,500 forged beacons from 3 clients`,
    );
    expect(after.samples).toBe(49);
    expect(after.state).toBe('ok');
    expect(after.value).toBe(before.value);
    expect(events.filter((e) => e.budget === 'page_load' && e.to !== 'ok')).toEqual([]);
  });

  it('random beacons without a page of the app behind them change nothing at all', async () => {
    const { keel, clock, post } = await serve();
    const rand = random(99);
    const names = ['TTI', 'LCP', 'INP', 'CLS', 'FCP', 'TTFB'];
    for (let i = 0; i < 300; i++) {
      const metrics = names.filter(() => rand() < 0.5).map((name) => ({ name, value: rand() * 60_000 }));
      const body = {
        page: `/${Math.floor(rand() * 1e6)}`,
        metrics: metrics.length ? metrics : [{ name: 'TTI', value: 9e4 }],
      };
      expect((await post(body, clients(1, 2 + (i % 50))[0], {})).status).toBe(403);
    }
    clock.advance(20_000);
    expect(keel.vitals!.stats()).toMatchObject({ accepted: 0, capped: 0, pageGroups: 0 });
    expect(
      keel.signals
        .filter((s) => s.definition.name.startsWith('web_vitals.'))
        .every((s) => s.seriesCount === 0),
    ).toBe(true);
  });

  it('counts clients in fixed memory, never below a client’s true count, however many clients there are', () => {
    const quota = new ClientQuota(300_000, 16_384);
    const rand = random(5);
    const truth = new Map<string, number>();
    let over = 0;
    // 200,000 beacons from 50,000 addresses: three times more clients than counters per row (16,384).
    for (let i = 0; i < 200_000; i++) {
      const client = `10.${Math.floor(rand() * 50_000) >> 8}.${Math.floor(rand() * 256)}.7`;
      const n = (truth.get(client) ?? 0) + 1;
      truth.set(client, n);
      const counted = quota.add(client, 1000);
      expect(counted).toBeGreaterThanOrEqual(n);
      if (counted > n) over++;
    }
    console.log(`client quota: ${truth.size} clients, ${over} of 200,000 counts raised by a collision`);
    // A new window starts from zero.
    expect(quota.add('10.0.0.7', 300_000)).toBe(1);

    // An ordinary busy window: 8,192 clients (half the counters per row), three page views each.
    const busy = new ClientQuota(300_000, 16_384);
    const ids = Array.from({ length: 8192 }, (_, i) => `2001:db8:${i.toString(16)}::1`);
    let lost = 0;
    for (let view = 1; view <= 3; view++) {
      for (const id of ids) if (busy.add(normalizeAddress(id), 1000) > 3 && view === 3) lost++;
    }
    console.log(`client quota: ${lost} of 8,192 clients lose their third page view to a collision`);
    expect(lost / ids.length).toBeLessThan(0.01);
    expect(normalizeAddress('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(normalizeAddress('2001:DB8:0:1:aaaa::1')).toBe('2001:db8:0:1::/64');
    expect(normalizeAddress('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(normalizeAddress('[fe80::1%eth0]')).toBe('fe80:0:0:0::/64');
  });
});
