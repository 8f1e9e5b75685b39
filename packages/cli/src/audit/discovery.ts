import { probe } from './http-probe.js';

/** Where a route came from, for the report. */
export type RouteSource = '--routes' | 'route listing' | '/health';

export interface DiscoveredRoute {
  /** As listed: `GET /api/users`, `/health` top group `/api/users`... */
  readonly route: string;
  /** What is requested: the path, without listed query parameters. */
  readonly path: string;
  readonly source: RouteSource;
  /** Why it is not requested (a path parameter the audit cannot guess), or `null`. */
  readonly skipped: string | null;
}

export interface Discovery {
  readonly routes: readonly DiscoveredRoute[];
  /** HTML pages for Lighthouse. */
  readonly pages: readonly string[];
  /** The app's `/metrics` path (from the listing's `endpoints`, else `/metrics`). */
  readonly metricsPath: string;
  readonly notes: readonly string[];
}

/** Keel's own endpoints are answered by Keel (no-store by design), not the app: never audited as routes. */
const KEEL_ENDPOINTS = ['/livez', '/readyz', '/health', '/metrics'];

function json(body: Buffer, type: string | undefined): unknown {
  if (!/json/i.test(type ?? '')) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];

/** `GET /api/users?limit=N` → `{ method: 'GET', path: '/api/users' }`; a bare path is a GET. */
export function parseRoute(route: string): { method: string; path: string } {
  const match = /^\s*(?:([A-Z]+)\s+)?(\/\S*)\s*$/.exec(route);
  if (!match) return { method: '', path: '' };
  return { method: match[1] ?? 'GET', path: match[2]!.split('?')[0]! };
}

function skipReason(path: string): string | null {
  if (/\/:[^/]+|\*|\{/.test(path)) return 'has a path parameter: pass a concrete path with --routes';
  return null;
}

/**
 * What to audit, as the app says: `--routes` and `--pages` when given; else
 * the JSON route listing at `/` (`{ routes: ["GET /x", ...], pages: ["/app"],
 * endpoints: { metrics } }`, the shape Keel's example answers), plus the
 * routes Keel has recorded traffic on (the hot spots of `/health`). Only GET
 * routes are requested; pages default to `/` when it answers HTML.
 */
export async function discover(
  base: string,
  given: { routes: readonly string[]; pages: readonly string[] },
): Promise<Discovery> {
  const notes: string[] = [];
  const routes = new Map<string, DiscoveredRoute>();
  const add = (route: string, source: RouteSource, exclude: ReadonlySet<string>) => {
    const { method, path } = parseRoute(route);
    if (method !== 'GET' || !path || exclude.has(path) || routes.has(path)) return;
    routes.set(path, { route: route.trim(), path, source, skipped: skipReason(path) });
  };

  const root = await probe(new URL('/', base).href, { accept: 'application/json, text/html;q=0.9' });
  const listing = json(root.body, root.headers['content-type']) as
    | { routes?: unknown; pages?: unknown; endpoints?: Record<string, unknown> }
    | undefined;
  const endpoints = listing?.endpoints && typeof listing.endpoints === 'object' ? listing.endpoints : {};
  const keel = new Set([
    ...KEEL_ENDPOINTS,
    ...Object.values(endpoints).filter((v): v is string => typeof v === 'string'),
  ]);
  const metricsPath = typeof endpoints.metrics === 'string' ? endpoints.metrics : '/metrics';

  if (given.routes.length > 0) {
    for (const route of given.routes) add(route, '--routes', new Set());
  } else {
    for (const route of strings(listing?.routes)) add(route, 'route listing', keel);
    const healthPath = typeof endpoints.health === 'string' ? endpoints.health : '/health';
    try {
      const health = await probe(new URL(healthPath, base).href, { accept: 'application/json' });
      const report = json(health.body, health.headers['content-type']) as
        | { signals?: { name?: string; top?: { group?: string }[] }[] }
        | undefined;
      const http = report?.signals?.find((s) => s.name === 'http.server.request.duration');
      for (const top of http?.top ?? [])
        if (typeof top.group === 'string' && top.group.startsWith('/')) add(top.group, '/health', keel);
    } catch {
      // No /health (not a Keel app, or on an admin port): the listing is all there is.
    }
    if (routes.size === 0)
      notes.push(
        'no routes found: the app has no JSON route listing at / and no recorded routes in /health; pass --routes',
      );
  }

  let pages = [...given.pages];
  if (pages.length === 0) {
    pages = strings((listing as { pages?: unknown } | undefined)?.pages).filter((p) => p.startsWith('/'));
    if (pages.length === 0 && /html/i.test(root.headers['content-type'] ?? '')) pages = ['/'];
    if (pages.length === 0)
      notes.push('no HTML pages found: / is not a page and the route listing names no pages; pass --pages');
  }
  return { routes: [...routes.values()], pages, metricsPath, notes };
}

const ASSET = /\.(m?js|css|png|jpe?g|gif|webp|avif|svg|ico|woff2?|ttf|otf)$/i;

/** Same-origin static files an HTML page references (src, href, srcset), as absolute URLs. */
export function assetsInHtml(html: string, pageUrl: string): string[] {
  const origin = new URL(pageUrl).origin;
  const found = new Set<string>();
  const consider = (ref: string) => {
    try {
      const url = new URL(ref.trim(), pageUrl);
      if (url.origin === origin && ASSET.test(url.pathname)) found.add(`${url.origin}${url.pathname}`);
    } catch {
      // Not a URL: ignored.
    }
  };
  for (const m of html.matchAll(/\s(?:src|href)\s*=\s*["']([^"']+)["']/gi)) consider(m[1]!);
  for (const m of html.matchAll(/\s(?:srcset|imagesrcset)\s*=\s*["']([^"']+)["']/gi))
    for (const candidate of m[1]!.split(',')) consider(candidate.trim().split(/\s+/)[0] ?? '');
  return [...found];
}
