import { type Agent, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createFakeClock, type FakeClock, type Keel } from '@keel/core';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { afterEach } from 'vitest';
import { type KeelFastifyOptions, keelFastify } from '../src/index.js';

const running: { app: FastifyInstance; keel: Keel }[] = [];

// Every app a test starts is closed, and so is its Keel (even one the test passed in).
afterEach(async () => {
  for (const { app, keel } of running.splice(0)) {
    app.server.closeAllConnections();
    await app.close();
    await keel.close();
  }
});

export interface Started {
  app: FastifyInstance;
  keel: Keel;
  clock: FakeClock;
  port: number;
}

/**
 * A Fastify app with the plugin registered first (on a fake clock, no runtime
 * sampling unless `keel` is given), then `routes`, listening on a free port.
 */
export async function start(
  options: KeelFastifyOptions = {},
  routes?: (app: FastifyInstance) => unknown,
  fastifyOptions: FastifyServerOptions = {},
): Promise<Started> {
  const clock = createFakeClock();
  const app = Fastify(fastifyOptions);
  await app.register(keelFastify, options.keel ? options : { runtime: false, clock, ...options });
  running.push({ app, keel: app.keel });
  await routes?.(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, keel: app.keel, clock, port: (app.server.address() as AddressInfo).port };
}

/** Like `start` without listening, for `app.inject`. */
export async function build(
  options: KeelFastifyOptions = {},
  routes?: (app: FastifyInstance) => unknown,
): Promise<Omit<Started, 'port'>> {
  const clock = createFakeClock();
  const app = Fastify();
  await app.register(keelFastify, options.keel ? options : { runtime: false, clock, ...options });
  running.push({ app, keel: app.keel });
  await routes?.(app);
  await app.ready();
  return { app, keel: app.keel, clock };
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A plain node:http request (fetch's pooling hides the connection behaviour shutdown tests depend on). */
export function get(
  port: number,
  path: string,
  agent?: Agent,
  method = 'GET',
  headers?: Record<string, string>,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

export interface RecordedSeries {
  method: string;
  route: string;
  status: number;
  count: number;
}

/** What `keel.http` holds, one entry per label combination that has samples. */
export function recorded(keel: Keel): RecordedSeries[] {
  return keel.http.series
    .map((s) => ({
      method: s.labelValues[0]!,
      route: s.labelValues[1]!,
      status: Number(s.labelValues[2]),
      count: s.le.reduce((a, b) => a + b, 0),
    }))
    .filter((s) => s.count > 0);
}

/** `recorded(keel)` in route order, for comparing with a list. */
export function recordedByRoute(keel: Keel): RecordedSeries[] {
  return recorded(keel).sort((a, b) => a.route.localeCompare(b.route));
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
