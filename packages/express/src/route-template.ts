import { pathOf } from '@keel/core';
import type { Request } from 'express';

/**
 * Route templates for Express 4 and 5.
 *
 * `req.route.path` is the route's own pattern, and `req.baseUrl` is the
 * *matched* prefix of every router it is mounted under. A mount path with a
 * parameter (`app.use('/t/:tenant', router)`) would put every tenant in the
 * label, so the prefix is turned back into the mount patterns by walking the
 * app's router stack once per distinct prefix and caching the answer.
 */

/** A layer as Express 4 (`regexp`, `keys`, `match`) or Express 5 / router 2 (`rawPath`, `matchers`) builds it. */
interface Layer {
  handle?: { stack?: Layer[] };
  route?: unknown;
  // Express 5
  rawPath?: unknown;
  matchers?: ((path: string) => { path: string } | false)[];
  // Express 4
  regexp?: RegExp;
  keys?: { name: string | number }[];
  match?: (path: string) => boolean;
  path?: string;
  params?: Record<string, string>;
}

interface AppLike {
  router?: { stack?: Layer[] };
  _router?: { stack?: Layer[] };
}

const ROUTE_TEMPLATES = Symbol('keel.routeTemplates');
const TOP_LEVEL = Symbol('keel.topLevelRoute');
/** Prefixes remembered per route; past this, templates are still computed, just not cached. */
const MAX_PREFIXES_PER_ROUTE = 64;

interface RouteLike {
  path: unknown;
  [ROUTE_TEMPLATES]?: Map<string, string>;
  [TOP_LEVEL]?: boolean;
}

/** The full route template of a matched request, or `undefined` when no route matched. */
export function routeTemplate(req: Request, app: AppLike): string | undefined {
  const route = req.route as RouteLike | undefined;
  if (!route) return undefined;
  const base = req.baseUrl;
  // An error leaving a router resets `baseUrl` before an app-level handler
  // answers; a nested route with an empty prefix is that case: find it by path.
  if (base === '' && !isTopLevel(route, app)) {
    const stack = stackOf(app);
    const found = stack && findRoute(stack, route, pathOf(req.originalUrl), '', 0);
    if (found !== undefined) return found;
  }
  let byBase = route[ROUTE_TEMPLATES];
  const cached = byBase?.get(base);
  if (cached !== undefined) return cached;
  const own = typeof route.path === 'string' ? route.path : String(route.path);
  const prefix = base ? (mountTemplate(app, base) ?? base) : '';
  const template = prefix && own === '/' ? prefix : prefix + own;
  if (!byBase) {
    byBase = new Map();
    route[ROUTE_TEMPLATES] = byBase;
  }
  if (byBase.size < MAX_PREFIXES_PER_ROUTE) byBase.set(base, template);
  return template;
}

/** Turns a matched mount prefix (`/t/acme/v1`) back into its patterns (`/t/:tenant/v1`). */
export function mountTemplate(app: AppLike, base: string): string | undefined {
  const stack = stackOf(app);
  return stack ? walk(stack, base, '', 0) : undefined;
}

function stackOf(app: AppLike): Layer[] | undefined {
  // Express 4 keeps its router in `_router` and throws from the `router` getter.
  return app._router ? app._router.stack : app.router?.stack;
}

function isTopLevel(route: RouteLike, app: AppLike): boolean {
  let top = route[TOP_LEVEL];
  if (top === undefined) {
    top = stackOf(app)?.some((layer) => layer.route === route) ?? true;
    route[TOP_LEVEL] = top;
  }
  return top;
}

/** Walks mounts along `path` to the layer of `route`, collecting the mount patterns. */
function findRoute(
  stack: Layer[],
  route: RouteLike,
  path: string,
  prefix: string,
  depth: number,
): string | undefined {
  if (depth > 16) return undefined;
  for (const layer of stack) {
    if (layer.route === route) {
      if (!matchLayer(layer, path)) continue;
      const own = typeof route.path === 'string' ? route.path : String(route.path);
      return prefix && own === '/' ? prefix : prefix + own;
    }
    const inner = layer.handle?.stack;
    if (!inner) continue;
    const matched = matchLayer(layer, path);
    if (!matched) continue;
    const found = findRoute(
      inner,
      route,
      path.slice(matched.path.length) || '/',
      prefix + matched.template,
      depth + 1,
    );
    if (found !== undefined) return found;
  }
  return undefined;
}

function walk(stack: Layer[], rest: string, prefix: string, depth: number): string | undefined {
  if (depth > 16) return undefined;
  for (const layer of stack) {
    const inner = layer.handle?.stack;
    if (!inner) continue;
    const matched = matchLayer(layer, rest);
    if (!matched) continue;
    const remaining = rest.slice(matched.path.length);
    if (remaining === '' || remaining === '/') return prefix + matched.template;
    const deeper = walk(inner, remaining, prefix + matched.template, depth + 1);
    if (deeper !== undefined) return deeper;
  }
  return undefined;
}

function matchLayer(layer: Layer, path: string): { path: string; template: string } | undefined {
  if (layer.matchers) {
    // Express 5: each matcher belongs to one entry of rawPath.
    const raw = Array.isArray(layer.rawPath) ? layer.rawPath : [layer.rawPath];
    for (let i = 0; i < layer.matchers.length; i++) {
      const m = layer.matchers[i]!(path);
      if (m) return { path: m.path, template: stripSlash(String(raw[i])) };
    }
    return undefined;
  }
  if (layer.match && layer.regexp) {
    // Express 4 keeps no pattern: put the parameter names back into the matched path.
    if (!layer.match(path) || layer.path === undefined) return undefined;
    let template = layer.path;
    for (const key of layer.keys ?? []) {
      const value = layer.params?.[key.name];
      if (value !== undefined) template = template.replace(`/${value}`, `/:${key.name}`);
    }
    return { path: layer.path, template: stripSlash(template) };
  }
  return undefined;
}

function stripSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path === '/' ? '' : path;
}
