import {
  createKeel,
  GracefulShutdown,
  handleSignals,
  type Keel,
  KeelError,
  KeelErrorCode,
  type ShutdownReport,
} from '@keel/core';
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { mountEndpoints } from './endpoint-routes.js';
import { type KeelFastifyOptions, type KeelRouteOptions, resolvePluginOptions } from './options.js';
import { requestRecording } from './request-recording.js';
import { routeCaching } from './route-caching.js';
import { routeStates } from './route-state.js';

// The plugin wires the parts: each route's state (`route-state.ts`), the
// response cache (`route-caching.ts`), the per-request hook
// (`request-recording.ts`), Keel's own routes (`endpoint-routes.ts`), and
// graceful shutdown here.

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Keel's settings for this route. */
    keel?: KeelRouteOptions;
  }
  interface FastifyInstance {
    /** The Keel instance this app feeds. */
    readonly keel: Keel;
    /**
     * Shuts the app down without dropping a request (see `shutdown` in the
     * plugin options). Runs once; later calls return the same promise.
     */
    keelShutdown(): Promise<ShutdownReport>;
  }
}

const plugin: FastifyPluginAsync<KeelFastifyOptions> = async (app, options) => {
  if (app.hasDecorator('keel')) {
    throw new KeelError(
      KeelErrorCode.InvalidOption,
      '@keel/fastify is registered twice on this app (it would record every request twice): register it once, on the root instance; pass `keel` to share one Keel between apps.',
    );
  }
  const config = resolvePluginOptions(options);
  const owned = config.keel === undefined;
  const keel = config.keel ?? createKeel(config.keelOptions);
  let shutdown: GracefulShutdown;
  try {
    shutdown = new GracefulShutdown(keel, config.shutdown);
  } catch (error) {
    // Invalid shutdown durations: don't leave the instance we just created ticking.
    if (owned) await keel.close();
    throw error;
  }

  const report = (where: string, error: unknown) => keel.reportError(`fastify:${where}`, error);
  const caching = routeCaching(keel, app, report);
  const states = routeStates(keel, caching.cacheRoute, report);

  app.decorate('keel', keel);
  // Installed last, once nothing else here can fail.
  let removeSignals: (() => void) | undefined;
  app.decorate('keelShutdown', () => {
    const done = shutdown.shutdown();
    // Started by the app rather than a signal: once it is over, a signal has nothing left to stop.
    if (removeSignals !== undefined) done.then(removeSignals, removeSignals);
    return done;
  });

  app.addHook('onRoute', states.onRoute);
  app.addHook(
    'onRequest',
    requestRecording({ keel, shutdown, stateOf: states.stateOf, timing: config.serverTiming, report }),
  );
  // Registered before any plugin the app adds later, so a miss is captured
  // before a compression hook rewrites the payload.
  app.addHook('onSend', caching.onSend);
  mountEndpoints(app, keel, config);

  // The server exists from `Fastify()` on, so requests are tracked from the first one.
  // HTTP/2 servers have no keep-alive sockets to drain; shutdown then still runs its other steps.
  if (typeof app.server.closeIdleConnections === 'function')
    shutdown.attach(app.server, { trackRequests: false });
  // Fastify's own close (preClose/onClose hooks of every plugin) runs as a cleanup, after the drain.
  const removeCleanup = keel.onShutdown(() => app.close(), 'fastify');
  if (config.signals) removeSignals = handleSignals(shutdown);

  app.addHook('onClose', async () => {
    removeCleanup();
    // While a signal-driven shutdown runs, a second signal must still find its handler.
    if (!shutdown.shuttingDown) removeSignals?.();
    if (owned) await keel.close();
  });
};

/**
 * The Fastify 5 plugin: records every request into Keel, mounts its
 * endpoints, sheds load, carries a request context with a deadline, adds
 * `Server-Timing`, caches routes that ask for it, and shuts down gracefully
 * with `app.keelShutdown()`.
 *
 * ```ts
 * await app.register(keelFastify, { service: 'checkout' });
 * ```
 */
export const keelFastify = fp(plugin, { fastify: '5.x', name: '@keel/fastify' });
