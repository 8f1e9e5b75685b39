import { pathOf } from '@keel/core';
import type { Request } from 'express';

/**
 * Route templates for Express 4 and 5.
 *
 * `req.route.path` is the route's own pattern, and `req.baseUrl` is the
 * *matched* prefix of every router (or sub-app) it is mounted under. A mount
 * path with a parameter (`app.use('/t/:tenant', router)`) would put every
 * tenant in the label, so the prefix is turned back into the mount patterns
 * by walking the app's router stack, down to the stack that holds the route,
 * once per route and distinct prefix; the answer is cached on the route.
 *
 * When the prefix does not lead to the route's stack, an error left the
 * routers the route is in (Express resets `baseUrl` on the way out) and a
 * handler further up answered: the route is then found by the request's path,
 * on every such request (errors only).
 */

/** A layer as Express 4 (`regexp`, `keys`) or Express 5 / router 2 (`rawPath`, `matchers`, `slash`) builds it. */
interface Layer {
  handle?: { stack?: Layer[]; name?: string };
  route?: unknown;
  // Express 5
  rawPath?: unknown;
  slash?: boolean;
  matchers?: ((path: string) => { path: string } | false)[];
  // Express 4
  regexp?: RegExp & { fast_slash?: boolean; fast_star?: boolean };
  keys?: { name: string | number }[];
  /** Express 4: `regexp` with the `d` flag, made once, for the positions of the parameters. */
  [WITH_INDICES]?: RegExp;
  /** The sub-app a `mounted_app` layer was seen to lead to. */
  [SUB_APP]?: AppLike;
}

interface AppLike {
  router?: { stack?: Layer[] };
  _router?: { stack?: Layer[] };
  /** Express 4 only; its `router` getter throws. */
  lazyrouter?: unknown;
  /** Set on a sub-app by `app.use(path, subApp)`. */
  parent?: AppLike;
  mountpath?: unknown;
}

const ROUTE_TEMPLATES = Symbol('keel.routeTemplates');
const CHAINS = Symbol('keel.routeChains');
const WITH_INDICES = Symbol('keel.withIndices');
const SUB_APP = Symbol('keel.subApp');
/** Cached for a prefix that does not lead to the route: find it by path on each request. */
const BY_PATH = 0;
/**
 * Prefixes remembered per route. Past this (a tenant per prefix, say),
 * templates are computed on each request: first along the mounts that led to
 * the route before (a match or two), then by a whole walk.
 */
const MAX_PREFIXES_PER_ROUTE = 64;
/** Chains of mounts remembered per route. */
const MAX_CHAINS_PER_ROUTE = 8;
const MAX_DEPTH = 16;

interface RouteLike {
  path: unknown;
  /** Lower-case method names the route takes; `_all` for `route.all()`. */
  methods?: Record<string, boolean | undefined>;
  [ROUTE_TEMPLATES]?: Map<string, string | typeof BY_PATH>;
  /** The mount layers that led to the route, one array per way found. */
  [CHAINS]?: Layer[][];
}

/** What a walk looks for, and the apps from the instrumented one down to the request's sub-app. */
interface Search {
  /** The route to find; or, with `method`, any route that takes the method (the first in Express's order). */
  readonly route: RouteLike | undefined;
  readonly method?: string;
  readonly apps: readonly AppLike[];
  /** The mounts the walk is in. */
  readonly chain: Layer[];
  /** The mounts of the way to the route's stack, once found. */
  found?: Layer[];
}

/** The full route template of a matched request, or `undefined` when no route matched. */
export function routeTemplate(req: Request, app: AppLike): string | undefined {
  const route = req.route as RouteLike | undefined;
  if (!route) return undefined;
  const base = req.baseUrl;
  let byBase = route[ROUTE_TEMPLATES];
  const cached = byBase?.get(base);
  if (typeof cached === 'string') return cached;
  if (cached === undefined && byBase !== undefined && byBase.size >= MAX_PREFIXES_PER_ROUTE) {
    const prefix = followChains(route, base);
    if (prefix !== undefined) return join(prefix, route.path);
  }
  const search: Search = { route, apps: appsOf(req, app), chain: [] };
  const stack = stackOf(app);
  if (cached === BY_PATH) return (stack && byPath(stack, search, req)) ?? fallback(app, base, route);
  let template: string | typeof BY_PATH;
  let answer: string;
  const prefix = stack && resolve(stack, base, '', 0, search, 0, false);
  if (prefix !== undefined) {
    answer = template = join(prefix, route.path);
    remember(route, search.found);
  } else {
    const found = stack && byPath(stack, search, req);
    if (found !== undefined) {
      template = BY_PATH;
      answer = found;
    } else {
      answer = template = fallback(app, base, route);
    }
  }
  if (!byBase) {
    byBase = new Map();
    route[ROUTE_TEMPLATES] = byBase;
  }
  if (byBase.size < MAX_PREFIXES_PER_ROUTE) byBase.set(base, template);
  return answer;
}

/**
 * The template of the route Express would route a request to, for requests
 * Keel answers before Express sees them (shed): the first route, in the order
 * Express tries them, whose path matches and that takes `method`.
 * Middleware is not run, so a route a middleware would have answered before
 * is not told apart. Sub-apps are entered once a request has shown the way
 * into them (Express keeps a mounted app only in a closure). `undefined` when
 * no route matches. A walk per call: for the rare paths only.
 */
export function routeOfRequest(app: AppLike, method: string, url: string): string | undefined {
  const stack = stackOf(app);
  if (!stack) return undefined;
  const search: Search = { route: undefined, method, apps: [app], chain: [] };
  return resolve(stack, pathOf(url), '', 0, search, 0, false, true);
}

/** Turns a matched mount prefix (`/t/acme/v1`) back into its patterns (`/t/:tenant/v1`). */
export function mountTemplate(app: AppLike, base: string): string | undefined {
  const stack = stackOf(app);
  if (!stack) return undefined;
  return resolve(stack, base, '', 0, { route: undefined, apps: [app], chain: [] }, 0, true);
}

function remember(route: RouteLike, chain: Layer[] | undefined): void {
  if (chain === undefined) return;
  let chains = route[CHAINS];
  if (chains === undefined) {
    chains = [];
    route[CHAINS] = chains;
  }
  if (chains.length >= MAX_CHAINS_PER_ROUTE) return;
  if (!chains.some((c) => c.length === chain.length && c.every((layer, i) => layer === chain[i]))) {
    chains.push(chain);
  }
}

/** The mount template of `base` along a way that led to the route before, if one takes `base` whole. */
function followChains(route: RouteLike, base: string): string | undefined {
  for (const chain of route[CHAINS] ?? []) {
    const prefix = follow(chain, base);
    if (prefix !== undefined) return prefix;
  }
  return undefined;
}

function follow(chain: Layer[], base: string): string | undefined {
  let rest = base;
  let prefix = '';
  for (const layer of chain) {
    const atEnd = rest === '' || rest === '/';
    const matched = matchLayer(layer, atEnd ? '/' : rest);
    if (!matched || (atEnd && matched.path !== '' && matched.path !== '/')) return undefined;
    rest = atEnd ? '' : rest.slice(matched.path.length);
    if (rest !== '' && rest[0] !== '/') rest = `/${rest}`;
    prefix += matched.template;
  }
  return rest === '' || rest === '/' ? prefix : undefined;
}

function byPath(stack: Layer[], search: Search, req: Request): string | undefined {
  return resolve(stack, pathOf(req.originalUrl), '', 0, search, 0, false, true);
}

/** The prefix as it was matched, with the mount patterns the walk can still tell. */
function fallback(app: AppLike, base: string, route: RouteLike): string {
  return join(base ? (mountTemplate(app, base) ?? base) : '', route.path);
}

function join(prefix: string, path: unknown): string {
  // `app.get(['/a', '/b'], h)`: every path under the prefix, not only the first.
  if (Array.isArray(path)) return path.map((p) => join(prefix, p)).join(',');
  const own = typeof path === 'string' ? path : String(path);
  return prefix && own === '/' ? prefix : prefix + own;
}

/** The instrumented app, then each sub-app down to the one the request was answered in (`req.app`). */
function appsOf(req: Request, app: AppLike): AppLike[] {
  const chain: AppLike[] = [];
  let at = req.app as unknown as AppLike | undefined;
  while (at !== undefined && at !== app && chain.length < MAX_DEPTH) {
    chain.push(at);
    at = at.parent;
  }
  if (at !== app) return [app];
  chain.push(app);
  return chain.reverse();
}

function stackOf(app: AppLike): Layer[] | undefined {
  // Express 4 keeps its router in `_router` (made on first use) and throws from the `router` getter.
  return 'lazyrouter' in app ? app._router?.stack : app.router?.stack;
}

/**
 * Walks the mounts that match `rest`, collecting their patterns after
 * `prefix`. With `byPath`, `rest` is the request's path and the walk ends at
 * a layer of the route that matches what is left: the full template. Else
 * `rest` is a matched prefix (`baseUrl`) and the walk ends where it is used
 * up: at a stack holding the route (or any stack, with `anyStack`), giving the
 * mount template.
 */
function resolve(
  stack: Layer[],
  rest: string,
  prefix: string,
  depth: number,
  search: Search,
  appIndex: number,
  anyStack: boolean,
  byPath = false,
): string | undefined {
  if (depth > MAX_DEPTH) return undefined;
  const atEnd = !byPath && (rest === '' || rest === '/');
  if (atEnd && (anyStack || stack.some((layer) => layer.route === search.route))) {
    search.found = search.chain.slice();
    return prefix;
  }
  for (const layer of stack) {
    if (byPath && layer.route !== undefined) {
      const route = layer.route as RouteLike;
      const wanted = search.method === undefined ? route === search.route : handles(route, search.method);
      if (wanted && matchLayer(layer, rest)) return join(prefix, route.path);
      continue;
    }
    const inner = innerOf(layer, search, appIndex);
    if (inner === undefined) continue;
    const matched = matchLayer(layer, atEnd ? '/' : rest);
    // At the end of the prefix only mounts that take none of the path (`app.use(router)`) lead on.
    if (!matched || (atEnd && matched.path !== '' && matched.path !== '/')) continue;
    let remaining = atEnd ? '' : rest.slice(matched.path.length);
    if (remaining !== '' && remaining[0] !== '/') remaining = `/${remaining}`;
    search.chain.push(layer);
    const found = resolve(
      inner.stack,
      byPath ? remaining || '/' : remaining,
      prefix + matched.template,
      depth + 1,
      search,
      inner.appIndex,
      anyStack,
      byPath,
    );
    search.chain.pop();
    if (found !== undefined) {
      // Remembered, so that an error leaving this sub-app can later be followed into it.
      if (inner.app !== undefined) layer[SUB_APP] = inner.app;
      return found;
    }
  }
  return undefined;
}

/**
 * Where a layer leads: its router (`handle.stack`), or for a sub-app
 * (`mounted_app`, which keeps the app in a closure) the next app on the
 * request's way, or the one this layer was seen to lead to before.
 */
function innerOf(
  layer: Layer,
  search: Search,
  appIndex: number,
): { stack: Layer[]; appIndex: number; app?: AppLike } | undefined {
  const handle = layer.handle;
  if (handle === undefined) return undefined;
  if (handle.stack !== undefined) return { stack: handle.stack, appIndex };
  if (handle.name !== 'mounted_app') return undefined;
  const next = search.apps[appIndex + 1];
  const app = next !== undefined && mountedAt(layer, next) ? next : layer[SUB_APP];
  const stack = app && stackOf(app);
  if (stack === undefined) return undefined;
  // An app off the request's way (seen before) leads on only through the sub-apps seen in it.
  const index = search.apps.indexOf(app!);
  return { stack, appIndex: index < 0 ? search.apps.length : index, app };
}

/** Express's own rule (4 and 5): `all()` takes every method, and HEAD falls back to GET. */
function handles(route: RouteLike, method: string): boolean {
  const methods = route.methods;
  if (methods === undefined) return false;
  if (methods._all) return true;
  const name = method.toLowerCase();
  return Boolean(name === 'head' && !methods.head ? methods.get : methods[name]);
}

function mountedAt(layer: Layer, app: AppLike): boolean {
  // Express 4 layers keep no pattern to compare with.
  if (layer.rawPath === undefined) return true;
  return String(layer.rawPath) === String(app.mountpath);
}

const EMPTY = { path: '', template: '' };

function matchLayer(layer: Layer, path: string): { path: string; template: string } | undefined {
  try {
    if (layer.matchers) return matchExpress5(layer, layer.matchers, path);
    if (layer.regexp) return matchExpress4(layer, layer.regexp, path);
  } catch {
    // A parameter that does not decode (`%E0%A4%A`): Express fails the request on it too.
  }
  return undefined;
}

function matchExpress5(
  layer: Layer,
  matchers: NonNullable<Layer['matchers']>,
  path: string,
): { path: string; template: string } | undefined {
  // `app.use(router)`: router 2 matches it by this flag, its matcher only takes '/'.
  if (layer.slash) return EMPTY;
  // Each matcher belongs to one entry of rawPath.
  const raw = Array.isArray(layer.rawPath) ? layer.rawPath : [layer.rawPath];
  for (let i = 0; i < matchers.length; i++) {
    const m = matchers[i]!(path);
    if (m) return { path: m.path, template: stripSlash(String(raw[i])) };
  }
  return undefined;
}

/**
 * Express 4 keeps no pattern, only its regular expression: the template is
 * the matched text with each parameter's span replaced by `:name`. Spans,
 * not values: a value can also appear elsewhere in the path, and it is
 * decoded where the path is not.
 */
function matchExpress4(
  layer: Layer,
  regexp: NonNullable<Layer['regexp']>,
  path: string,
): { path: string; template: string } | undefined {
  if (regexp.fast_slash) return EMPTY;
  if (regexp.fast_star) return { path, template: '*' };
  let withIndices = layer[WITH_INDICES];
  if (withIndices === undefined) {
    withIndices = new RegExp(regexp.source, `${regexp.flags.replace(/[gyd]/g, '')}d`);
    layer[WITH_INDICES] = withIndices;
  }
  const m = withIndices.exec(path);
  if (!m) return undefined;
  const matched = m[0];
  const spans = m.indices!;
  const keys = layer.keys ?? [];
  let template = '';
  let at = 0;
  for (let i = 1; i < spans.length; i++) {
    const span = spans[i];
    // A group that took no part, or one inside a parameter already replaced.
    if (span === undefined || span[0] < at) continue;
    template += `${matched.slice(at, span[0])}:${String(keys[i - 1]?.name ?? i - 1)}`;
    at = span[1];
  }
  template += matched.slice(at);
  return { path: matched, template: stripSlash(template) };
}

function stripSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path === '/' ? '' : path;
}
