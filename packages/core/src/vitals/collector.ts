import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResolvedBudget } from '../budgets/budget-options.js';
import type { Clock } from '../clock.js';
import { send } from '../http/respond.js';
import { isValidLabelValue } from '../signals/labels.js';
import type { Signal } from '../signals/signal.js';
import { VITAL_METRICS, type VitalName, type VitalsConfig } from './vitals-options.js';

/** What the collector needs from an instance. */
export interface VitalsSink {
  readonly config: { readonly clock: Clock; readonly budgets: readonly ResolvedBudget[] };
  signal(name: string): Signal;
  reportError(where: string, error: unknown): void;
}

/** One page view's metrics, as `@keel/web-vitals` sends them. */
export interface VitalsBeacon {
  /** The page group: a route template such as `/products/:id`. */
  page: string;
  metrics: { name: VitalName; value: number; censored?: boolean }[];
}

/** The answer to each kind of refused beacon. */
const STATUS = {
  method_not_allowed: 405,
  forbidden_origin: 403,
  unsupported_media_type: 415,
  too_large: 413,
  timeout: 408,
  malformed: 400,
  invalid: 422,
} as const;

/** Why a beacon was turned away; each is a counter in `/metrics`. */
export type VitalsRejection = keyof typeof STATUS;

const NO_REJECTIONS = Object.fromEntries(Object.keys(STATUS).map((r) => [r, 0])) as Record<
  VitalsRejection,
  number
>;

export interface VitalsStats {
  /** Beacons recorded. */
  accepted: number;
  /** Beacons refused, by reason; a refused beacon changes no signal. */
  rejected: Record<VitalsRejection, number>;
  /** TTI values sent with `censored: true` (the page was hidden before TTI could be confirmed). */
  censored: number;
  /** Of those, how many were recorded: only lower bounds already past the page-load target are. */
  censoredRecorded: number;
  /** Page groups admitted so far (at most `maxPageGroups`). */
  pageGroups: number;
  /** Metric values recorded under the overflow series because the page-group cap was reached. */
  overflowed: number;
}

const MAX_METRICS = 16;
const MAX_PAGE_LENGTH = 200;
const BEACON_KEYS = new Set(['page', 'metrics']);
const METRIC_KEYS = new Set(['name', 'value', 'censored']);
const NAMES = Object.keys(VITAL_METRICS) as VitalName[];

/**
 * Checks a parsed beacon against the schema: known keys only, a page group
 * that can be a label, at most 16 metrics, each a known name at most once
 * with a finite value in its range. Returns the error, or `null` when valid.
 */
export function checkBeacon(value: unknown): string | null {
  if (!isPlainObject(value)) return 'the body must be a JSON object';
  for (const key of Object.keys(value)) if (!BEACON_KEYS.has(key)) return `unknown field "${clip(key)}"`;
  const { page, metrics } = value as Record<string, unknown>;
  if (typeof page !== 'string' || page.length === 0 || page.length > MAX_PAGE_LENGTH || page[0] !== '/') {
    return `"page" must be a path of 1 to ${MAX_PAGE_LENGTH} characters starting with "/"`;
  }
  if (!isValidLabelValue(page, MAX_PAGE_LENGTH) || page.includes('?') || page.includes('#')) {
    return '"page" must hold no control characters, query or fragment';
  }
  if (!Array.isArray(metrics) || metrics.length === 0 || metrics.length > MAX_METRICS) {
    return `"metrics" must be an array of 1 to ${MAX_METRICS} entries`;
  }
  const seen = new Set<string>();
  for (const m of metrics) {
    if (!isPlainObject(m)) return 'each metric must be an object';
    for (const key of Object.keys(m)) if (!METRIC_KEYS.has(key)) return `unknown metric field "${clip(key)}"`;
    const { name, value: v, censored } = m as Record<string, unknown>;
    if (typeof name !== 'string' || !NAMES.includes(name as VitalName)) {
      return `unknown metric "${clip(String(name))}" (known: ${NAMES.join(', ')})`;
    }
    if (seen.has(name)) return `metric ${name} appears twice`;
    seen.add(name);
    const { max } = VITAL_METRICS[name as VitalName];
    if (typeof v !== 'number' || !(v >= 0 && v <= max)) return `${name} must be a number from 0 to ${max}`;
    if (censored !== undefined && (typeof censored !== 'boolean' || name !== 'TTI')) {
      return '"censored" is a boolean, and only for TTI';
    }
  }
  return null;
}

/**
 * The server side of `@keel/web-vitals`: takes beacons at `config.path` and
 * records their values into the `web_vitals.*` signals, which the page-load,
 * LCP, INP and CLS budgets judge.
 *
 * It is built for input from the open internet: the body is bounded while it
 * is read, parsed once, checked against the schema, and only then recorded,
 * so a refused beacon (4xx) changes nothing. Page groups are capped. No input
 * produces a 5xx: a failure inside Keel is reported and answered 204.
 */
export class VitalsCollector {
  readonly config: VitalsConfig;
  readonly #sink: VitalsSink;
  readonly #signals: Readonly<Record<VitalName, Signal>>;
  readonly #groups = new Set<string>();
  /** Censored TTI lower bounds above this are sure misses and get recorded. */
  readonly #censoredFloor: number;
  // `pageGroups` is not kept: `stats()` reads it off the groups themselves.
  readonly #stats: Omit<VitalsStats, 'pageGroups'> = {
    accepted: 0,
    rejected: { ...NO_REJECTIONS },
    censored: 0,
    censoredRecorded: 0,
    overflowed: 0,
  };

  constructor(sink: VitalsSink, config: VitalsConfig) {
    this.config = config;
    this.#sink = sink;
    const signals = {} as Record<VitalName, Signal>;
    for (const name of NAMES) signals[name] = sink.signal(VITAL_METRICS[name].signal);
    this.#signals = Object.freeze(signals);
    const ttiTargets = sink.config.budgets
      .filter((b) => b.signal === VITAL_METRICS.TTI.signal && b.kind === 'latency')
      .map((b) => b.target);
    this.#censoredFloor = ttiTargets.length ? Math.min(...ttiTargets) : Number.POSITIVE_INFINITY;
  }

  get path(): string {
    return this.config.path;
  }

  /** Whether a request URL (path plus query) is the collector's. */
  matches(url: string | undefined): boolean {
    if (url === undefined || !url.startsWith(this.config.path)) return false;
    return url.length === this.config.path.length || url.charCodeAt(this.config.path.length) === 0x3f; // ?
  }

  /** A copy of the counters. */
  stats(): VitalsStats {
    return { ...this.#stats, rejected: { ...this.#stats.rejected }, pageGroups: this.#groups.size };
  }

  /**
   * Answers one request to the collector path: `POST` a beacon (204), `OPTIONS`
   * a CORS preflight. Reads the body itself; if a body parser already read it
   * (`req.body`), that is used instead.
   */
  handle(req: IncomingMessage, res: ServerResponse): void {
    try {
      this.#handle(req, res);
    } catch (error) {
      this.#internal(res, error);
    }
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const cors = this.#corsOrigin(req);
    if (req.method === 'OPTIONS') {
      if (cors === false || req.headers['access-control-request-method'] !== 'POST') {
        this.#reject(res, 'forbidden_origin', 'origin not allowed', undefined, true);
        return;
      }
      res.statusCode = 204;
      if (cors !== null) {
        res.setHeader('access-control-allow-origin', cors);
        res.setHeader('access-control-allow-methods', 'POST');
        res.setHeader('access-control-allow-headers', 'content-type');
        res.setHeader('access-control-max-age', '86400');
      }
      res.setHeader('vary', 'origin');
      res.end();
      return;
    }
    if (req.method !== 'POST') {
      this.#reject(res, 'method_not_allowed', 'use POST', cors, true, { allow: 'POST, OPTIONS' });
      return;
    }
    if (cors === false) {
      this.#reject(res, 'forbidden_origin', 'origin not allowed', null, true);
      return;
    }
    // sendBeacon sends a string as text/plain, which needs no preflight; JSON is accepted too.
    const type = (req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
    if (type !== 'text/plain' && type !== 'application/json') {
      this.#reject(res, 'unsupported_media_type', 'send text/plain or application/json', cors, true);
      return;
    }
    const parsed = (req as { body?: unknown }).body;
    if (parsed !== undefined && req.readableEnded) {
      // A body parser mounted before Keel has consumed the stream.
      if (typeof parsed === 'string' || Buffer.isBuffer(parsed)) this.#accept(res, cors, parsed.toString());
      else this.#acceptParsed(res, cors, parsed);
      return;
    }
    const declared = Number(req.headers['content-length']);
    if (declared > this.config.maxBodyBytes) {
      this.#reject(res, 'too_large', `at most ${this.config.maxBodyBytes} bytes`, cors, true);
      return;
    }
    this.#read(req, res, cors);
  }

  /** Reads the body, bounded in size and time. */
  #read(req: IncomingMessage, res: ServerResponse, cors: string | null): void {
    const { clock } = this.#sink.config;
    const limit = this.config.maxBodyBytes;
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = () => {
      done = true;
      clock.clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        finish();
        this.#reject(res, 'too_large', `at most ${limit} bytes`, cors, true);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      if (done) return;
      finish();
      try {
        this.#accept(res, cors, Buffer.concat(chunks, size).toString('utf8'));
      } catch (error) {
        this.#internal(res, error);
      }
    };
    const timer = clock.setTimeout(() => {
      if (done) return;
      finish();
      this.#reject(res, 'timeout', 'body not received in time', cors, true);
    }, this.config.bodyTimeout);
    req.on('data', onData);
    req.on('end', onEnd);
    // A client that goes away mid-body: nothing to answer, nothing recorded.
    req.once('error', finish);
  }

  #accept(res: ServerResponse, cors: string | null, text: string): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      this.#reject(res, 'malformed', 'the body is not JSON', cors);
      return;
    }
    this.#acceptParsed(res, cors, value);
  }

  #acceptParsed(res: ServerResponse, cors: string | null, value: unknown): void {
    const error = checkBeacon(value);
    if (error !== null) {
      this.#reject(res, 'invalid', error, cors);
      return;
    }
    this.record(value as VitalsBeacon);
    this.#stats.accepted++;
    res.statusCode = 204;
    if (cors !== null) res.setHeader('access-control-allow-origin', cors);
    res.setHeader('vary', 'origin');
    res.end();
  }

  /**
   * Records a beacon that passed `checkBeacon` (exposed for beacons that
   * arrive another way, e.g. through a queue). The page group is admitted
   * while fewer than `maxPageGroups` are known; later ones go to the overflow series.
   */
  record(beacon: VitalsBeacon): void {
    let group: string | null = beacon.page;
    if (!this.#groups.has(group)) {
      if (this.#groups.size < this.config.maxPageGroups) this.#groups.add(group);
      else group = null;
    }
    for (const m of beacon.metrics) {
      if (m.censored === true) {
        this.#stats.censored++;
        // A lower bound at or under the target says nothing about the budget;
        // one above it is a sure miss, and leaving it out would flatter the p75.
        if (!(m.value > this.#censoredFloor)) continue;
        this.#stats.censoredRecorded++;
      }
      const signal = this.#signals[m.name];
      if (group === null) {
        this.#stats.overflowed++;
        signal.recordOverflow(m.value, true);
      } else {
        signal.record(m.value, true, group);
      }
    }
  }

  /**
   * The origin to echo in `Access-Control-Allow-Origin`, `null` when none is
   * needed, or `false` when the origin may not send beacons.
   */
  #corsOrigin(req: IncomingMessage): string | null | false {
    const origin = req.headers.origin;
    const site = req.headers['sec-fetch-site'];
    const allowed = this.config.allowedOrigins;
    if (allowed === '*') return origin === undefined ? null : '*';
    // No Origin: not a browser, which could send anything anyway. Same origin needs no CORS.
    if (origin === undefined || site === 'same-origin') return null;
    if (allowed === null) return site === 'cross-site' ? false : origin;
    return allowed.has(origin.toLowerCase()) ? origin : false;
  }

  #reject(
    res: ServerResponse,
    reason: VitalsRejection,
    message: string,
    cors: string | null | false | undefined,
    closeConnection = false,
    headers?: Record<string, string>,
  ): void {
    this.#stats.rejected[reason]++;
    const extra: Record<string, string> = { ...headers };
    if (typeof cors === 'string') extra['access-control-allow-origin'] = cors;
    // The rest of an unread body is not worth reading: drop the connection after answering.
    if (closeConnection) extra.connection = 'close';
    const body = `${JSON.stringify({ error: reason, message })}\n`;
    send(res, STATUS[reason], 'application/json; charset=utf-8', body, extra);
  }

  #internal(res: ServerResponse, error: unknown): void {
    this.#sink.reportError('vitals:collector', error);
    // Never a 5xx: a beacon is fire-and-forget, and a 5xx would count against availability dashboards.
    if (!res.headersSent) {
      res.statusCode = 204;
      res.end();
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}
