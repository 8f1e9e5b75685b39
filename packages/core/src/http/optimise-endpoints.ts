import type { IncomingMessage, ServerResponse } from 'node:http';
import { KeelError, KeelErrorCode } from '../errors.js';
import type { Optimiser } from '../optimise/optimiser.js';
import { bearerCheck } from './bearer.js';
import type { EndpointsConfig } from './endpoint-options.js';
import { pathOf } from './endpoints.js';
import { send } from './respond.js';

const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';

/** The optimiser's admin endpoints, relative to `endpoints.prefix`. */
export const OPTIMISE_PATHS = Object.freeze({ optimise: '/keel/optimise', traffic: '/keel/traffic' });

/**
 * The optimiser's admin endpoints, always behind `endpoints.token` when one
 * is set (they are never public):
 *
 * - `GET /keel/optimise`: `{ status, report }`, the latest report in full;
 * - `POST /keel/optimise[?windowMs=N]`: starts a capture (or joins the one
 *   running) and answers 202 with it at once; poll `GET` for the report;
 * - `GET /keel/traffic`: the traffic profile `keel loadtest` replays.
 *
 * Returns a router answering only these paths (`false` for any other).
 */
export function optimiseEndpoints(
  optimiser: Optimiser,
  endpoints: EndpointsConfig,
  reportError: (where: string, error: unknown) => void,
): {
  paths: Readonly<{ optimise: string; traffic: string }>;
  handle(req: IncomingMessage, res: ServerResponse): boolean;
} {
  const authorized = bearerCheck(endpoints.token);
  const paths = Object.freeze({
    optimise: `${endpoints.prefix}${OPTIMISE_PATHS.optimise}`,
    traffic: `${endpoints.prefix}${OPTIMISE_PATHS.traffic}`,
  });

  const optimise = (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'POST') {
      const raw = new URL(req.url ?? '/', 'http://keel').searchParams.get('windowMs');
      const windowMs = raw === null ? undefined : Number(raw);
      if (windowMs !== undefined && !(Number.isInteger(windowMs) && windowMs > 0)) {
        send(res, 400, TEXT_TYPE, 'windowMs must be a positive integer (ms)\n');
        return;
      }
      // Drain the (ignored) body so the connection can be reused.
      req.resume();
      const running = optimiser.run({ reason: `on demand (POST ${paths.optimise})`, windowMs });
      const capture = optimiser.capture;
      if (capture === null) {
        // Refused at once (closed, or a window out of range): say why.
        running.then(
          () => send(res, 500, TEXT_TYPE, 'the capture ended at once\n'),
          (error: Error) => send(res, 400, TEXT_TYPE, `${error.message}\n`),
        );
        return;
      }
      running.catch((error) => {
        // Keel closing mid-capture is not a failure.
        if (!(error instanceof KeelError && error.code === KeelErrorCode.Closed))
          reportError('endpoint:optimise', error);
      });
      send(res, 202, JSON_TYPE, `${JSON.stringify({ capture, status: optimiser.status() })}\n`);
      return;
    }
    send(
      res,
      200,
      JSON_TYPE,
      `${JSON.stringify({ status: optimiser.status(), report: optimiser.latest })}\n`,
      undefined,
      req,
    );
  };

  const traffic = (req: IncomingMessage, res: ServerResponse) => {
    const profile = optimiser.trafficProfile();
    if (profile === null) send(res, 404, TEXT_TYPE, 'traffic recording is off (optimise.traffic: false)\n');
    else send(res, 200, JSON_TYPE, `${JSON.stringify(profile)}\n`, undefined, req);
  };

  const routes = new Map<string, { methods: readonly string[]; answer: typeof optimise }>([
    [paths.optimise, { methods: ['GET', 'HEAD', 'POST'], answer: optimise }],
    [paths.traffic, { methods: ['GET', 'HEAD'], answer: traffic }],
  ]);

  const handle = (req: IncomingMessage, res: ServerResponse): boolean => {
    const route = routes.get(pathOf(req.url));
    if (route === undefined) return false;
    try {
      if (!route.methods.includes(req.method ?? '')) {
        send(res, 405, TEXT_TYPE, 'method not allowed\n', { allow: route.methods.join(', ') });
      } else if (!authorized(req)) {
        send(res, 401, TEXT_TYPE, 'unauthorized\n', { 'www-authenticate': 'Bearer' });
      } else {
        route.answer(req, res);
      }
    } catch (error) {
      reportError('endpoint:optimise', error);
      if (!res.headersSent) send(res, 500, TEXT_TYPE, 'internal error\n');
      else res.end();
    }
    return true;
  };

  return { paths, handle };
}
