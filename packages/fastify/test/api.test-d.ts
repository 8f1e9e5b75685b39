import type { Keel, KeelOptions, ShutdownReport } from '@keel/core';
import Fastify from 'fastify';
import { describe, expectTypeOf, it } from 'vitest';
import { type KeelFastifyOptions, type KeelRouteOptions, keelFastify } from '../src/index.js';

describe('public types', () => {
  it('takes KeelOptions plus its own options', () => {
    expectTypeOf<KeelOptions>().toMatchTypeOf<KeelFastifyOptions>();
    expectTypeOf<{
      service: 'api';
      mountEndpoints: false;
      shutdown: { signals: true };
    }>().toMatchTypeOf<KeelFastifyOptions>();
    const app = Fastify();
    void app.register(keelFastify, { serverTiming: false, shutdown: { preStopDelay: 0 } });
    // @ts-expect-error mountEndpoints is a boolean
    void app.register(keelFastify, { mountEndpoints: 'yes' });
  });

  it('decorates the instance', () => {
    const app = Fastify();
    expectTypeOf(app.keel).toEqualTypeOf<Keel>();
    expectTypeOf(app.keelShutdown).returns.toEqualTypeOf<Promise<ShutdownReport>>();
  });

  it('types route config.keel', () => {
    const app = Fastify();
    app.get('/a', { config: { keel: { critical: true, deadline: 500 } } }, async () => 'a');
    app.get('/b', { config: { keel: { deadline: false } } }, async () => 'b');
    app.get(
      '/d',
      { config: { keel: { cache: { ttl: 1000, vary: ['accept-language'], cacheControl: false } } } },
      async () => 'd',
    );
    // @ts-expect-error vary lists header names
    app.get('/e', { config: { keel: { cache: { vary: 'accept' } } } }, async () => 'e');
    // @ts-expect-error deadline is ms or false
    app.get('/c', { config: { keel: { deadline: '500' } } }, async () => 'c');
    expectTypeOf<KeelRouteOptions['deadline']>().toEqualTypeOf<number | false | undefined>();
  });
});
