import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type HealthReport, healthJson, type Readiness } from '../health/report.js';
import type { EndpointName, EndpointsConfig } from './endpoint-options.js';
import { send } from './respond.js';

/** What the endpoints need from an instance; kept narrow so they are easy to test and mount. */
export interface EndpointSource {
  readonly config: { readonly endpoints: EndpointsConfig };
  readiness(): Readiness;
  health(): HealthReport;
  metricsBuffer(): Promise<Buffer>;
  /** Takes back what `metricsBuffer()` gave once the response has sent it. */
  releaseMetricsBuffer?(bytes: Buffer): void;
  reportError(where: string, error: unknown): void;
}

export type EndpointHandler = (req: IncomingMessage, res: ServerResponse) => void;

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * Builds the four handlers plus a router that answers only Keel's paths and
 * returns `false` for anything else, so a framework can fall through to the app.
 */
export function createEndpoints(source: EndpointSource): {
  handlers: Record<EndpointName, EndpointHandler>;
  handle: (req: IncomingMessage, res: ServerResponse) => boolean;
  paths: Readonly<Record<EndpointName, string>>;
} {
  const { prefix, token, public: open } = source.config.endpoints;
  const expected = token === undefined ? undefined : Buffer.from(`Bearer ${token}`);

  const authorized = (name: EndpointName, req: IncomingMessage): boolean => {
    if (!expected || open.includes(name)) return true;
    const given = req.headers.authorization;
    if (typeof given !== 'string' || given.length !== expected.length) return false;
    return timingSafeEqual(Buffer.from(given), expected);
  };

  const guard =
    (name: EndpointName, body: EndpointHandler): EndpointHandler =>
    (req, res) => {
      try {
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { allow: 'GET, HEAD' });
          return;
        }
        if (!authorized(name, req)) {
          send(res, 401, 'text/plain; charset=utf-8', 'unauthorized\n', { 'www-authenticate': 'Bearer' });
          return;
        }
        body(req, res);
      } catch (error) {
        source.reportError(`endpoint:${name}`, error);
        if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
        else res.end();
      }
    };

  const handlers: Record<EndpointName, EndpointHandler> = {
    // Liveness never looks at dependencies: a database outage must not restart the fleet.
    livez: guard('livez', (req, res) => send(res, 200, 'text/plain; charset=utf-8', 'ok\n', undefined, req)),
    readyz: guard('readyz', (req, res) => {
      const { ready, reasons } = source.readiness();
      const text = ready ? 'ready\n' : `not ready: ${reasons.join('; ')}\n`;
      send(res, ready ? 200 : 503, 'text/plain; charset=utf-8', text, undefined, req);
    }),
    health: guard('health', (req, res) => {
      const report = source.health();
      // 200 while the process can answer: the status is in the body, probes use /readyz.
      send(
        res,
        200,
        'application/json; charset=utf-8',
        `${JSON.stringify(healthJson(report))}\n`,
        undefined,
        req,
      );
    }),
    metrics: guard('metrics', (req, res) => {
      source.metricsBuffer().then(
        (bytes) => {
          // Only after 'finish' is the socket done with the bytes; an aborted response keeps them.
          if (source.releaseMetricsBuffer) res.once('finish', () => source.releaseMetricsBuffer!(bytes));
          send(res, 200, PROMETHEUS_CONTENT_TYPE, bytes, undefined, req);
        },
        (error) => {
          source.reportError('endpoint:metrics', error);
          send(res, 500, 'text/plain; charset=utf-8', 'metrics unavailable\n');
        },
      );
    }),
  };

  const paths = Object.freeze({
    livez: `${prefix}/livez`,
    readyz: `${prefix}/readyz`,
    health: `${prefix}/health`,
    metrics: `${prefix}/metrics`,
  });
  const byPath = new Map<string, EndpointHandler>(
    (Object.keys(paths) as EndpointName[]).map((name) => [paths[name], handlers[name]]),
  );

  const handle = (req: IncomingMessage, res: ServerResponse): boolean => {
    const handler = byPath.get(pathOf(req.url));
    if (!handler) return false;
    handler(req, res);
    return true;
  };

  return { handlers, handle, paths };
}

/** The path of a request URL, without its query string. */
export function pathOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}
