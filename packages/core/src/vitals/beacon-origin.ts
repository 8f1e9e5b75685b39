import type { IncomingMessage } from 'node:http';
import type { VitalsConfig } from './vitals-options.js';

/**
 * Whether a beacon comes from a page the collector takes beacons from, and
 * what CORS needs: the origin to echo in `Access-Control-Allow-Origin`,
 * `null` when no CORS header is needed (the app's own page), or `false` to
 * refuse it.
 *
 * The app's own pages: the browser says `Sec-Fetch-Site: same-origin`, or
 * the page's origin (`Origin`, else `Referer`) has the host the request was
 * sent to (`Host`, or with `trustProxy` also `X-Forwarded-Host`). Other
 * origins only from `allowedOrigins`. A request that names no page at all is
 * not from a browser page, and is refused.
 *
 * A browser cannot lie in these headers; a script can. This stops other
 * sites' pages and plain scripts from reporting, not a sender who forges
 * them: the per-client quota bounds what such a sender weighs, and page
 * tokens (`vitals.secret`) require a page the app rendered.
 */
export function pageOrigin(req: IncomingMessage, config: VitalsConfig): string | null | false {
  const { origin, referer } = req.headers;
  const allowed = config.allowedOrigins;
  if (allowed === '*') return origin === undefined ? null : '*';
  const site = req.headers['sec-fetch-site'];
  if (site === 'same-origin') return null;
  const listed = (o: string) => allowed?.has(o.toLowerCase()) === true;
  if (origin !== undefined && origin !== 'null') {
    if (listed(origin)) return origin;
    // A browser that says the page is on another site is believed.
    if (site !== undefined) return false;
    return isOwn(origin, req, config.trustProxy) ? null : false;
  }
  if (referer === undefined || site !== undefined) return false;
  const from = webUrl(referer)?.origin;
  if (from === undefined) return false;
  // Without an `Origin` there is nothing to echo: the browser did not ask for CORS.
  return listed(from) || isOwn(from, req, config.trustProxy) ? null : false;
}

/** Whether `origin`'s host (with its port) is the host the request was sent to. */
function isOwn(origin: string, req: IncomingMessage, trustProxy: number): boolean {
  const host = webUrl(origin)?.host;
  if (host === undefined) return false;
  if (host === req.headers.host?.toLowerCase()) return true;
  if (trustProxy === 0) return false;
  const forwarded = req.headers['x-forwarded-host'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',', 1)[0]?.trim().toLowerCase();
  return first !== undefined && first === host;
}

/** `text` as an http(s) URL, or `undefined`. */
function webUrl(text: string): URL | undefined {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}
