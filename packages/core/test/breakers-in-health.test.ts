import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createFakeClock, createKeel, type HealthJson, type Keel } from '../src/index.js';

const open: { keel: Keel; server: Server }[] = [];

afterEach(async () => {
  for (const { keel, server } of open.splice(0)) {
    await keel.close();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function serve() {
  const clock = createFakeClock();
  const keel = createKeel({ clock, runtime: false });
  const server = createServer((req, res) => {
    if (!keel.handle(req, res)) res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  open.push({ keel, server });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const health = async () => (await (await fetch(`${base}/health`)).json()) as HealthJson;
  const metrics = async () => (await fetch(`${base}/metrics`)).text();
  return { keel, clock, health, metrics };
}

const fail = () => Promise.reject(new Error('down'));

describe('circuit breakers in /health, /metrics and the score', () => {
  it('lists each breaker in /health with its state, since, ratios and whether it is forced', async () => {
    const { keel, clock, health } = await serve();
    const inventory = keel.breaker({ name: 'inventory', minimumCalls: 4, openFor: 30_000 });
    keel.breaker({ name: 'payments' });
    expect((await health()).breakers).toEqual([
      expect.objectContaining({ name: 'inventory', state: 'closed', forced: false, failureRatio: null }),
      expect.objectContaining({ name: 'payments', state: 'closed', forced: false, slowCallRatio: null }),
    ]);

    clock.advance(2000);
    await inventory.run(() => 'ok');
    for (let i = 0; i < 3; i++) await inventory.run(fail).catch(() => {});
    const [open] = (await health()).breakers;
    expect(open).toEqual({
      name: 'inventory',
      state: 'open',
      since: new Date(clock.now()).toISOString(),
      forced: false,
      reason: 'tripped: 3 of 4 calls failed',
      failureRatio: 0.75,
      slowCallRatio: 0,
      calls: 4,
      rejected: 0,
      opened: 1,
    });
    // Live: the state shows at once, before the next evaluation.
    clock.advance(30_000);
    expect((await health()).breakers[0]!.state).toBe('half_open');

    keel.breakers[1]!.forceOpen('maintenance');
    expect((await health()).breakers[1]).toMatchObject({
      state: 'open',
      forced: true,
      reason: 'forced: maintenance',
    });
  });

  it('costs the score while open, less while half-open or held open on purpose, nothing once closed', async () => {
    const { keel, clock, health } = await serve();
    const inventory = keel.breaker({ name: 'inventory', minimumCalls: 2, openFor: 15_000 });
    clock.advance(10_000);
    expect((await health()).components.find((c) => c.name === 'breaker:inventory')).toMatchObject({
      score: 10,
      cost: 0,
      detail: 'closed',
    });
    expect((await health()).score).toBe(10);

    for (let i = 0; i < 2; i++) await inventory.run(fail).catch(() => {});
    clock.advance(10_000);
    const opened = await health();
    expect(opened.components.find((c) => c.name === 'breaker:inventory')).toMatchObject({
      score: 7,
      cost: 3,
      detail: 'open: tripped: 2 of 2 calls failed',
    });
    expect(opened.score).toBe(7);
    expect(opened.healthy).toBe(false);

    clock.advance(10_000); // openFor ran out: half-open
    expect((await health()).components.find((c) => c.name === 'breaker:inventory')!.score).toBe(8);

    await inventory.run(() => 'back');
    clock.advance(10_000);
    expect((await health()).score).toBe(10);

    inventory.forceOpen('the monitor is shedding this dependency');
    clock.advance(10_000);
    const forced = await health();
    expect(forced.components.find((c) => c.name === 'breaker:inventory')).toMatchObject({
      score: 8,
      cost: 2,
      detail: 'open (forced): forced: the monitor is shedding this dependency',
    });
    expect(forced.score).toBe(8);
  });

  it('serves a state gauge per breaker with one series per state, and the calls it turned away', async () => {
    const { keel, metrics } = await serve();
    const inventory = keel.breaker({ name: 'inventory', minimumCalls: 2 });
    expect(await metrics()).toContain('keel_circuit_breaker_state{breaker="inventory",state="closed"} 1');
    for (let i = 0; i < 2; i++) await inventory.run(fail).catch(() => {});
    await inventory.run(() => 'never').catch(() => {});
    const text = await metrics();
    const lines = text.split('\n').filter((l) => l.startsWith('keel_circuit_breaker_'));
    expect(lines).toEqual([
      'keel_circuit_breaker_state{breaker="inventory",state="closed"} 0',
      'keel_circuit_breaker_state{breaker="inventory",state="open"} 1',
      'keel_circuit_breaker_state{breaker="inventory",state="half_open"} 0',
      'keel_circuit_breaker_rejected_total{breaker="inventory"} 1',
    ]);
    expect(text).toContain('# TYPE keel_circuit_breaker_state gauge');
  });

  it('writes no breaker families when there is no breaker', async () => {
    const { metrics, health } = await serve();
    expect(await metrics()).not.toContain('keel_circuit_breaker');
    expect((await health()).breakers).toEqual([]);
  });
});
