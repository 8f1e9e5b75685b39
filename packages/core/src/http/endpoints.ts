import type { IncomingMessage, ServerResponse } from 'node:http';
import { Dashboard, type DashboardSource } from '../dashboard/dashboard-endpoint.js';
import { type HealthReport, healthJson, type Readiness, type ReportOptions } from '../health/report.js';
import { bearerCheck } from './bearer.js';
import { ENDPOINT_NAMES, type EndpointName, type EndpointsConfig } from './endpoint-options.js';
import { send } from './respond.js';

/** What the endpoints need from an instance; kept narrow so they are easy to test and mount. */
export interface EndpointSource extends DashboardSource {
  readonly config: DashboardSource['config'] & { readonly endpoints: EndpointsConfig };
  readiness(options?: ReportOptions): Readiness;
  health(options?: ReportOptions): HealthReport;
  metricsBuffer(): Promise<Buffer>;
  /** Takes back what `metricsBuffer()` gave once the response has sent it. */
  releaseMetricsBuffer?(bytes: Buffer): void;
  reportError(where: string, error: unknown): void;
}

export type EndpointHandler = (req: IncomingMessage, res: ServerResponse) => void;

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** An endpoint's answer, told whether this caller may see dependency error details. */
type Body = (req: IncomingMessage, res: ServerResponse, details: boolean) => void;

/**
 * Builds the endpoints' handlers plus a router that answers only Keel's paths and
 * returns `false` for anything else, so a framework can fall through to the
 * app, and `handleAdmin`, the same router for the admin port (whose callers
 * count as authorised for `endpoints.details`).
 */
export function createEndpoints(source: EndpointSource): {
  handlers: Record<EndpointName, EndpointHandler>;
  handle: (req: IncomingMessage, res: ServerResponse) => boolean;
  handleAdmin: (req: IncomingMessage, res: ServerResponse) => boolean;
  paths: Readonly<Record<EndpointName, string>>;
} {
  const { prefix, token, public: open, details } = source.config.endpoints;
  const bearer = bearerCheck(token);
  // With no token configured, nobody "has" it: details stay for the admin port (or `always`).
  const hasToken = (req: IncomingMessage): boolean => token !== undefined && bearer(req);
  const authorized = (name: EndpointName, req: IncomingMessage): boolean =>
    token === undefined || open.includes(name) || bearer(req);
  // Dependency errors can name internal addresses: shown only to those `endpoints.details` allows.
  const showDetails = (req: IncomingMessage, admin: boolean): boolean =>
    details === 'always' ||
    (details === 'authorized' && (admin || hasToken(req))) ||
    (details === 'token' && hasToken(req));

  /** `open`: answered without the token (the dashboard's page, which holds no data). */
  const guard =
    (name: EndpointName, body: Body, open?: (req: IncomingMessage) => boolean) =>
    (req: IncomingMessage, res: ServerResponse, admin: boolean): void => {
      try {
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { allow: 'GET, HEAD' });
          return;
        }
        if (!open?.(req) && !authorized(name, req)) {
          send(res, 401, 'text/plain; charset=utf-8', 'unauthorized\n', { 'www-authenticate': 'Bearer' });
          return;
        }
        body(req, res, name === 'readyz' || name === 'health' ? showDetails(req, admin) : false);
      } catch (error) {
        source.reportError(`endpoint:${name}`, error);
        if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
        else res.end();
      }
    };

  const dashboard = new Dashboard(source);
  const guarded = {
    // Liveness never looks at dependencies: a database outage must not restart the fleet.
    livez: guard('livez', (req, res) => send(res, 200, 'text/plain; charset=utf-8', 'ok\n', undefined, req)),
    readyz: guard('readyz', (req, res, details) => {
      const { ready, reasons } = source.readiness({ details });
      const text = ready ? 'ready\n' : `not ready: ${reasons.join('; ')}\n`;
      send(res, ready ? 200 : 503, 'text/plain; charset=utf-8', text, undefined, req);
    }),
    health: guard('health', (req, res, details) => {
      const report = source.health({ details });
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
    dashboard: guard(
      'dashboard',
      (req, res) =>
        dashboard.wantsData(req) ? dashboard.serveData(req, res) : dashboard.servePage(req, res),
      (req) => !dashboard.wantsData(req),
    ),
  };

  const names = Object.keys(guarded) as EndpointName[];
  const handlers = Object.fromEntries(
    names.map((name): [EndpointName, EndpointHandler] => [
      name,
      (req, res) => guarded[name](req, res, false),
    ]),
  ) as Record<EndpointName, EndpointHandler>;

  const paths = Object.freeze({
    livez: `${prefix}/livez`,
    readyz: `${prefix}/readyz`,
    health: `${prefix}/health`,
    metrics: `${prefix}/metrics`,
    dashboard: `${prefix}/keel`,
  });
  const byPath = new Map<string, (typeof guarded)[EndpointName]>(
    ENDPOINT_NAMES.map((name) => [paths[name], guarded[name]]),
  );

  const router =
    (admin: boolean) =>
    (req: IncomingMessage, res: ServerResponse): boolean => {
      const handler = byPath.get(pathOf(req.url));
      if (!handler) return false;
      handler(req, res, admin);
      return true;
    };

  return { handlers, handle: router(false), handleAdmin: router(true), paths };
}

/** The path of a request URL, without its query string. */
export function pathOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}
