import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createFakeClock, createKeel, type FakeClock, type Keel, type KeelOptions } from '@keel/core';

export interface Receiver {
  readonly url: string;
  readonly deliveries: { headers: IncomingHttpHeaders; body: string }[];
  /** How the next requests are answered: a status, or 'hang' (never answer). */
  mode: number | 'hang';
  /** Requests seen, answered or not. */
  attempts: number;
  /** The next this many requests are answered 500, whatever `mode` says. */
  failNext: number;
  close(): Promise<void>;
}

/** A real HTTP receiver on port 0 that records what it was sent. */
export async function startReceiver(): Promise<Receiver> {
  const deliveries: Receiver['deliveries'] = [];
  const hanging = new Set<import('node:http').ServerResponse>();
  const receiver = {
    url: '',
    deliveries,
    mode: 200 as number | 'hang',
    attempts: 0,
    failNext: 0,
    close: async () => {},
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      receiver.attempts++;
      if (receiver.failNext > 0) {
        receiver.failNext--;
        res.statusCode = 500;
        res.end();
        return;
      }
      if (receiver.mode === 'hang') {
        hanging.add(res);
        return;
      }
      if (receiver.mode >= 200 && receiver.mode < 300)
        deliveries.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.statusCode = receiver.mode;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/keel`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return receiver;
}

export interface Scenario {
  keel: Keel;
  clock: FakeClock;
  /** Latency of the simulated dependency, ms (on the fake clock). */
  dependencyMs: number;
  /** Runs `ms` of traffic: `perInterval` requests at the start of each 10 s interval. */
  run(ms: number, perInterval?: number): Promise<void>;
}

/**
 * A service whose `/products` route calls one dependency through a circuit
 * breaker (fallback: a cached answer). All time is the fake clock's.
 */
export function scenario(options: KeelOptions = {}): Scenario {
  const clock = createFakeClock();
  const keel = createKeel({
    clock,
    runtime: false,
    service: 'shop',
    budgets: { page_load: false, db_latency: false },
    ...options,
  });
  const breaker = keel.breaker({ name: 'inventory' });
  const s: Scenario = {
    keel,
    clock,
    dependencyMs: 20,
    async run(ms, perInterval = 12) {
      const interval = keel.config.interval;
      for (let t = 0; t < ms; t += interval) {
        for (let i = 0; i < perInterval; i++) {
          const start = clock.now();
          void breaker
            .run(
              () => new Promise<string>((resolve) => clock.setTimeout(() => resolve('live'), s.dependencyMs)),
              () => 'fallback',
            )
            .then(() => keel.recordRequest('GET', '/products', 200, clock.now() - start + 5));
        }
        await clock.advanceAsync(interval);
      }
    },
  };
  return s;
}
