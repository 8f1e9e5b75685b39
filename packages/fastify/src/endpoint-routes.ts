import { type EndpointName, type Keel, OPTIMISE_PATHS } from '@keel/core';
import type { FastifyInstance } from 'fastify';
import type { KeelFastifyConfig } from './options.js';
import { endpointConfig } from './route-state.js';

/**
 * Mounts what core answers itself as Fastify routes, each marked as Keel's
 * own (never shed, never recorded): the endpoints at `keel.paths` (the `/keel`
 * dashboard included), the optimiser's admin endpoints, and the web-vitals beacon.
 */
export function mountEndpoints(app: FastifyInstance, keel: Keel, config: KeelFastifyConfig): void {
  if (config.mountEndpoints) {
    // Every endpoint core has (`keel.paths`), the dashboard at /keel included.
    for (const name of Object.keys(keel.paths) as EndpointName[]) {
      const handler = keel.handlers[name];
      app.route({
        // Both methods explicitly, so HEAD works even with `exposeHeadRoutes: false`.
        method: ['GET', 'HEAD'],
        url: keel.paths[name],
        config: endpointConfig(),
        handler(request, reply) {
          // Core writes status, headers and body itself; Fastify must not add its own.
          reply.hijack();
          handler(request.raw, reply.raw);
        },
      });
    }
  }

  // The optimiser's admin endpoints (report, on-demand capture, traffic profile): core answers them.
  if (config.mountEndpoints && keel.optimiser) {
    for (const path of Object.values(OPTIMISE_PATHS)) {
      app.route({
        method: ['GET', 'HEAD', 'POST'],
        url: `${keel.config.endpoints.prefix}${path}`,
        config: endpointConfig(),
        handler(request, reply) {
          reply.hijack();
          keel.handle(request.raw, reply.raw);
        },
      });
    }
  }

  const vitals = config.mountVitals ? keel.vitals : undefined;
  if (vitals) {
    app.route({
      method: ['POST', 'OPTIONS'],
      url: vitals.path,
      config: endpointConfig(),
      // Answered before Fastify parses the body: the collector reads it itself, bounded in size and time.
      async onRequest(request, reply) {
        reply.hijack();
        vitals.handle(request.raw, reply.raw);
        return reply;
      },
      handler() {},
    });
  }
}
