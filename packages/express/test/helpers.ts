import type { Server } from 'node:http';
import { type Agent, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createFakeClock, type FakeClock, type Keel } from '@keel/core';
import type express5 from 'express';
import { afterEach } from 'vitest';
import { instrument, type KeelExpress, type KeelExpressOptions } from '../src/index.js';

export type ExpressFactory = typeof express5;

const running: { server: Server; keel: Keel }[] = [];

// Every server a test starts is closed after it, and so is its Keel.
afterEach(async () => {
  for (const { server, keel } of running.splice(0)) {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await keel.close();
  }
});

/** Starts `app` on a free port of 127.0.0.1; the server and `keel` are closed after the test. */
export async function serve(
  app: { listen(port: number, host: string): Server },
  keel: Keel,
): Promise<{ server: Server; port: number }> {
  const server = app.listen(0, '127.0.0.1');
  running.push({ server, keel });
  return { server, port: await listen(server) };
}

export interface Started {
  app: ReturnType<ExpressFactory>;
  k: KeelExpress;
  keel: Keel;
  clock: FakeClock;
  server: Server;
  port: number;
}

/** `make()` instrumented on a fake clock, no runtime sampling, then `routes`, served on a free port. */
export async function start(
  make: ExpressFactory,
  options: KeelExpressOptions = {},
  routes?: (app: ReturnType<ExpressFactory>) => void,
): Promise<Started> {
  const app = make();
  const clock = createFakeClock();
  const k = instrument(app, { runtime: false, clock, ...options });
  routes?.(app);
  const { server, port } = await serve(app, k.keel);
  return { app, k, keel: k.keel, clock, server, port };
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A plain node:http GET (fetch's pooling hides connection behaviour the shutdown tests depend on). */
export function get(port: number, path: string, agent?: Agent, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

export function listen(server: Server): Promise<number> {
  return new Promise((resolve) => {
    if (server.listening) resolve((server.address() as AddressInfo).port);
    else server.once('listening', () => resolve((server.address() as AddressInfo).port));
  });
}

/** Runs `count` requests with at most `concurrency` in flight. */
export async function load(
  count: number,
  concurrency: number,
  next: (i: number) => Promise<unknown>,
): Promise<void> {
  let i = 0;
  const worker = async () => {
    while (i < count) await next(i++);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
