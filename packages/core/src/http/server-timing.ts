import type { ServerResponse } from 'node:http';
import type { RequestContext } from '../context/request-context.js';

/**
 * `Server-Timing` value for a finished request: total app time, plus db and
 * cache when they were used (known only where a context was kept). Durations
 * in ms with one decimal. With `existing` (a value the app set itself), Keel's
 * metrics are appended to it rather than replacing it.
 */
export function serverTiming(
  context: RequestContext | undefined,
  totalMs: number,
  existing?: unknown,
): string {
  let header = `app;dur=${oneDecimal(totalMs)}`;
  if (context !== undefined && !onlyAppTime(context)) {
    if (context.dbCalls > 0)
      header += `, db;dur=${oneDecimal(context.dbMs)};desc="${context.dbCalls} queries"`;
    if (context.cacheHits + context.cacheMisses > 0) {
      header += `, cache;dur=${oneDecimal(context.cacheMs)};desc="${context.cacheHits} hit, ${context.cacheMisses} miss"`;
    }
  }
  return existing === undefined ? header : `${String(existing)}, ${header}`;
}

/** The context adds nothing to `Server-Timing` beyond the app time: no db or cache time. */
function onlyAppTime(context: RequestContext): boolean {
  return context.dbCalls === 0 && context.cacheHits + context.cacheMisses === 0;
}

/**
 * `ms` with one decimal, as `toFixed(1)` writes it but for exact halves of a
 * tenth, which binary doubles rarely are. `toFixed` is a call into V8's C++
 * and cost more per response than the rest of the header.
 */
function oneDecimal(ms: number): string {
  const tenths = Math.round(ms * 10);
  if (!(tenths >= 0 && tenths <= 0x3fffffff)) return ms.toFixed(1);
  return `${(tenths / 10) | 0}.${tenths % 10}`;
}

/** `ServerResponse.writeHead` with the fixed parameters adapters wrap it with (no rest array per call). */
export type WriteHead = (
  this: ServerResponse,
  statusCode: number,
  reason?: unknown,
  headers?: unknown,
) => ServerResponse;

/** Where `addServerTiming` finds `getHeader` and `setHeader`: the response itself, or a prototype of it. */
export type HeaderMethods = Pick<ServerResponse, 'getHeader' | 'setHeader'>;

/**
 * Adds `Server-Timing` to a response from inside its `writeHead(statusCode,
 * reason?, headers?)`, given those arguments. A headers object passed there
 * is applied after `setHeader` values, so the value goes into it; that also
 * spares Node merging it one header at a time (Fastify always passes one).
 * `methods` is where `getHeader` and `setHeader` are looked up (they are called
 * on `res`): a prototype of `res` saves two lookups on a response whose hidden
 * class changes from one request to the next, as Express's do.
 */
export function addServerTiming(
  res: ServerResponse,
  context: RequestContext | undefined,
  totalMs: number,
  reason: unknown,
  headers: unknown,
  methods: HeaderMethods = res,
): void {
  const given = typeof reason === 'string' ? headers : reason;
  if (given !== null && typeof given === 'object' && !Array.isArray(given)) {
    const all = given as Record<string, unknown>;
    all['server-timing'] = serverTiming(context, totalMs, all['server-timing']);
  } else {
    const existing = methods.getHeader.call(res, 'server-timing');
    methods.setHeader.call(res, 'server-timing', serverTiming(context, totalMs, existing));
  }
}

/** The parts of Node's HTTP/1 `ServerResponse` that `appendServerTiming` relies on. */
interface BuiltHead {
  /** The head `writeHead` built, kept until the first body bytes go out with it. */
  _header?: unknown;
  _headerSent?: unknown;
}

/**
 * Adds `Server-Timing` to a head Node's own `writeHead` has just built and not
 * yet sent, as a field line of its own: call it right after that `writeHead`
 * returns. HTTP reads two `Server-Timing` lines as one list, so a value the
 * app set stays ahead of Keel's, as with `addServerTiming`. Cheaper than
 * `addServerTiming`: Node does not validate a value Keel wrote itself, and
 * `res` is read three times, which matters on Express, where every read of
 * `res` misses V8's caches. Returns false, adding nothing, when there is no
 * such head (not Node's HTTP/1 response, or the head already went out, as it
 * does at once for a response that carries an `Expect` header). Once added,
 * the value is in the head only: `res.getHeader('server-timing')` does not
 * show it, and a server's `uniqueHeaders` option does not merge the two lines.
 */
export function appendServerTiming(
  res: ServerResponse,
  context: RequestContext | undefined,
  totalMs: number,
): boolean {
  const built = res as unknown as BuiltHead;
  const head = built._header;
  if (typeof head !== 'string' || built._headerSent !== false || !head.endsWith('\r\n\r\n')) return false;
  // The head ends with the empty line that closes it: Keel's line goes before that.
  built._header = head.slice(0, -2) + timingLine(context, totalMs);
  return true;
}

/** App times, in tenths of a ms, below which the header line is made once and kept. */
const KEPT_LINES = 1000;
/**
 * `server-timing: app;dur=…` lines for app times under 100 ms, each made the
 * first time it is needed: at most 1000 short strings. Most answers carry only
 * the app time, and building the string cost more than the rest of the header.
 */
const appOnlyLines: (string | undefined)[] = new Array(KEPT_LINES);

/** The `Server-Timing` field line, with the CRLF that ends it and the empty line that ends the head. */
function timingLine(context: RequestContext | undefined, totalMs: number): string {
  const tenths = Math.round(totalMs * 10);
  if (tenths >= 0 && tenths < KEPT_LINES && (context === undefined || onlyAppTime(context))) {
    const kept = appOnlyLines[tenths];
    if (kept !== undefined) return kept;
    const line = `server-timing: ${serverTiming(undefined, totalMs)}\r\n\r\n`;
    appOnlyLines[tenths] = line;
    return line;
  }
  return `server-timing: ${serverTiming(context, totalMs)}\r\n\r\n`;
}
