import { createFakeClock, createKeel, type KeelError, KeelErrorCode } from '@keel/core';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { type KeelFastifyOptions, keelFastify } from '../src/index.js';
import { get, sleep, start } from './helpers.js';

async function registerFails(options: unknown): Promise<KeelError> {
  const app = Fastify();
  const error = await app
    .register(keelFastify, options as KeelFastifyOptions)
    .then(() => app.ready())
    .then(
      () => undefined,
      (e: KeelError) => e,
    );
  await app.close().catch(() => {});
  if (!error) throw new Error('registration succeeded');
  return error;
}

describe('options', () => {
  it.each([
    ['mountEndpoints', { mountEndpoints: 'yes' }],
    ['serverTiming', { serverTiming: 1 }],
    ['shutdown', { shutdown: 5000 }],
    ['shutdown.signals', { shutdown: { signals: 'SIGTERM' } }],
    ['shutdown.drainTime', { shutdown: { drainTime: 1000 } }],
    ['shutdown.preStopDelay', { shutdown: { preStopDelay: -1 } }],
    ['keel', { keel: { service: 'x' } }],
    ['service', { keel: createKeel({ runtime: false }), service: 'x' }],
    ['port', { port: 9464 }],
    ['requestDeadline', { requestDeadline: 0 }],
  ])('rejects a bad `%s` at registration with KEEL_INVALID_OPTION', async (name, options) => {
    const error = await registerFails(options);
    expect(error.code).toBe(KeelErrorCode.InvalidOption);
    expect(error.message).toContain(name);
    if ('keel' in options && options.keel && 'close' in options.keel) await options.keel.close();
  });

  it.each([
    [{ mountEndpoint: false }, 'did you mean `mountEndpoints`?'],
    [{ servce: 'orders' }, 'did you mean `service`?'],
    [{ critical: ['/pay'] }, '`{ config: { keel: { critical: true } } }`'], // @keel/express's, per route here
    [{ deadline: 30_000 }, '`requestDeadline`'],
    [{ context: false }, 'its own: keel, mountEndpoints'],
  ])(
    'names a mistyped or misplaced option %j after the plugin and says what to write instead',
    async (options, hint) => {
      const error = await registerFails(options);
      expect(error.code).toBe(KeelErrorCode.InvalidOption);
      expect(error.message).toMatch(/^@keel\/fastify: option `/);
      expect(error.message).toContain(hint);
    },
  );

  it('rejects a second registration on the same app with KEEL_INVALID_OPTION, saying what to do', async () => {
    const app = Fastify();
    await app.register(keelFastify, { runtime: false, clock: createFakeClock() });
    const error = await app
      .register(keelFastify, { runtime: false, clock: createFakeClock() })
      .then(() => app.ready())
      .then(
        () => undefined,
        (e: KeelError) => e,
      );
    await app.close().catch(() => {});
    expect(error?.code).toBe(KeelErrorCode.InvalidOption);
    expect(error?.message).toContain('registered twice');
  });

  it.each([
    ['config.keel.deadline', { deadline: -5 }],
    ['config.keel.deadline', { deadline: '500' }],
    ['config.keel.critical', { critical: 'yes' }],
    ['config.keel.cache.vary', { cache: { vary: 'accept' } }],
    ['config.keel.cache.cacheControl', { cache: { cacheControl: true } }],
    ['config.keel.cache.etag', { cache: { etag: false } }],
    ['cache.ttl', { cache: { ttl: -1 } }],
    ['config.keel.cache', { cache: {} }, 'POST'],
  ])(
    'rejects a bad route `%s` when the route is added, naming the route',
    async (name, keel, method = 'GET') => {
      const app = Fastify();
      await app.register(keelFastify, { runtime: false, clock: createFakeClock() });
      let error: KeelError | undefined;
      try {
        app.route({ method, url: '/users/:id', config: { keel: keel as never }, handler: async () => 'x' });
        await app.ready();
      } catch (e) {
        error = e as KeelError;
      }
      await app.close().catch(() => {});
      expect(error?.code).toBe(KeelErrorCode.InvalidOption);
      expect(error?.message).toContain(`\`${name}\``);
      expect(error?.message).toContain(`${method} /users/:id`);
    },
  );
});

describe('failures inside Keel never fail a request', () => {
  it('survives a throwing onError, a throwing listener and a throwing recorder', async () => {
    const reported: string[] = [];
    const { keel, clock, port } = await start(
      {
        onError: (_error, where) => {
          reported.push(where);
          throw new Error('the error handler fails too');
        },
      },
      (app) => {
        app.get('/ok', async () => 'ok');
      },
    );
    keel.on('evaluation', () => {
      throw new Error('listener failed');
    });
    expect((await get(port, '/ok')).status).toBe(200);
    clock.advance(keel.config.interval * 2);
    expect(reported.filter((w) => w.includes('evaluation')).length).toBeGreaterThan(0);
    expect((await get(port, '/ok')).status).toBe(200);

    keel.recordRequest = () => {
      throw new Error('recording failed');
    };
    // Contexts are entered only once they propagate.
    keel.context.use();
    keel.context.enter = () => {
      throw new Error('context failed');
    };
    const answer = await get(port, '/ok');
    expect(answer.status).toBe(200);
    expect(answer.body).toBe('ok');
    expect((await get(port, keel.paths.health)).status).toBe(200);
    expect(reported).toContain('fastify:onRequest');
    expect(keel.errors.counts.get('fastify:onRequest')).toBe(1);
  });

  it('answers a cached route when something in the cache path throws', async () => {
    const reported: string[] = [];
    let calls = 0;
    const { keel, port } = await start({ onError: (_e, where) => reported.push(where) }, (app) => {
      app.get('/cached', { config: { keel: { cache: {} } } }, async () => `call ${++calls}`);
    });
    keel.context.addCacheTime = () => {
      throw new Error('cache time failed');
    };
    const timeout = sleep(2000).then(() => ({ status: 0, body: 'no answer' }));
    const miss = await Promise.race([get(port, '/cached'), timeout]);
    const hit = await Promise.race([get(port, '/cached'), timeout]);
    expect([miss.status, miss.body]).toEqual([200, 'call 1']);
    expect([hit.status, hit.body]).toEqual([200, 'call 1']);
    expect(reported).toEqual(['fastify:cache', 'fastify:cache']);
  });

  it('reports a failing recorder once per place and keeps answering', async () => {
    const reported: string[] = [];
    const { keel, port } = await start({ onError: (_e, where) => reported.push(where) }, (app) => {
      app.get('/ok', async () => 'ok');
    });
    keel.recordRequest = () => {
      throw new Error('recording failed');
    };
    for (let i = 0; i < 3; i++) expect((await get(port, '/ok')).status).toBe(200);
    expect(reported).toEqual(['fastify:record', 'fastify:record', 'fastify:record']);
    expect(keel.errors.counts.get('fastify:record')).toBe(3);
  });
});
