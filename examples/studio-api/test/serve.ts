import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createFakeClock, createKeel, type FakeClock, type Keel } from '@keel/core';
import { afterEach, beforeEach } from 'vitest';
import { createApp } from '../src/app.js';

export interface Served {
  readonly clock: FakeClock;
  readonly keel: Keel;
  /** `http://127.0.0.1:<port>` */
  readonly base: string;
}

/**
 * Serves the example app (without a database) on a free port around each test
 * of the calling file, with a fake clock and no runtime sampler.
 */
export function serveApp(): Served {
  const state = {} as { clock: FakeClock; keel: Keel; base: string; server: Server };
  beforeEach(async () => {
    state.clock = createFakeClock();
    state.keel = createKeel({ service: 'studio-api-test', clock: state.clock, runtime: false });
    const app = createApp(state.keel);
    state.server = await new Promise<Server>((resolve, reject) => {
      const s = app.listen(0, '127.0.0.1', (error?: Error) => (error ? reject(error) : resolve(s)));
    });
    state.base = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    state.server.closeAllConnections();
    await new Promise<void>((resolve) => state.server.close(() => resolve()));
    await state.keel.close();
  });
  return state;
}
