import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResolvedBudget } from '../budgets/budget-options.js';
import type { Clock } from '../clock.js';
import { KeelError, KeelErrorCode } from '../errors.js';
import { send } from '../http/respond.js';
import type { Signal } from '../signals/signal.js';
import { pageOrigin } from './beacon-origin.js';
import { checkBeacon, type VitalsBeacon } from './beacon-schema.js';
import { ClientQuota, clientOf } from './client-quota.js';
import { checkPageToken, makePageToken } from './page-token.js';
import { VITAL_METRICS, type VitalName, type VitalsConfig } from './vitals-options.js';

/** What the collector needs from an instance. */
export interface VitalsSink {
  readonly config: {
    readonly clock: Clock;
    readonly budgets: readonly ResolvedBudget[];
    /** Interval length and the budget window in intervals: a client's quota lasts one window. */
    readonly interval: number;
    readonly windowIntervals: number;
  };
  signal(name: string): Signal;
  reportError(where: string, error: unknown): void;
}

/** The answer to each kind of refused beacon. */
const STATUS = {
  method_not_allowed: 405,
  forbidden_origin: 403,
  invalid_token: 403,
  rate_limited: 429,
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
  /** Beacons answered 204 but not recorded: their client had used its `perClient.recorded` quota. */
  capped: number;
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

const NAMES = Object.keys(VITAL_METRICS) as VitalName[];

/**
 * The server side of `@keel/web-vitals`: takes beacons at `config.path` and
 * records their values into the `web_vitals.*` signals, which the page-load,
 * LCP, INP and CLS budgets judge.
 *
 * It is built for input from the open internet (the threat model is in the
 * core README and decision 0018): only the app's own pages may report
 * (`pageOrigin`), with a page token when `secret` is set; each client may
 * send `perClient.accepted` beacons per budget window (then 429) and weighs
 * at most `perClient.recorded` of them; the body is bounded while it is read,
 * parsed once, checked against the schema and for a plausible page load, and
 * only then recorded, so a refused beacon (4xx) changes nothing. Page groups
 * are capped. No input produces a 5xx: a failure inside Keel is reported and
 * answered 204.
 */
export class VitalsCollector {
  readonly config: VitalsConfig;
  readonly #sink: VitalsSink;
  readonly #signals: Readonly<Record<VitalName, Signal>>;
  readonly #groups = new Set<string>();
  readonly #quota: ClientQuota;
  /** Censored TTI lower bounds above this are sure misses and get recorded. */
  readonly #censoredFloor: number;
  // `pageGroups` is not kept: `stats()` reads it off the groups themselves.
  readonly #stats: Omit<VitalsStats, 'pageGroups'> = {
    accepted: 0,
    capped: 0,
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
    this.#quota = new ClientQuota(
      sink.config.interval * sink.config.windowIntervals,
      config.perClient.tableSize,
    );
  }

  get path(): string {
    return this.config.path;
  }

  /** Whether a request URL (path plus query) is the collector's. */
  matches(url: string | undefined): boolean {
    if (url === undefined || !url.startsWith(this.config.path)) return false;
    return url.length === this.config.path.length || url.charCodeAt(this.config.path.length) === 0x3f; // ?
  }

  /**
   * A page token for `page` (a page group, as the page's beacons will name
   * it), or for any page group when left out: put it in the page as it is
   * rendered, e.g. `<meta name="keel-vitals-token" content="...">`, which
   * `@keel/web-vitals` sends along. Needs `vitals.secret`.
   */
  pageToken(page?: string): string {
    const { secret } = this.config;
    if (secret === undefined) {
      throw new KeelError(
        KeelErrorCode.InvalidOption,
        'keel.vitals.pageToken: set `vitals.secret` (32+ characters) so beacons can be checked against tokens.',
      );
    }
    if (page !== undefined && (typeof page !== 'string' || page[0] !== '/' || page.length > 200)) {
      throw new KeelError(
        KeelErrorCode.InvalidOption,
        'keel.vitals.pageToken: `page` must be a page group path like "/products/:id", or left out for any.',
      );
    }
    return makePageToken(secret, this.#sink.config.clock.now(), page);
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
    const cors = pageOrigin(req, this.config);
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
      this.#reject(res, 'forbidden_origin', 'only pages of this app may send beacons', null, true);
      return;
    }
    // Counted before the body is read: a client past its quota costs no parsing.
    const now = this.#sink.config.clock.now();
    const count = this.#quota.add(clientOf(req, this.config.trustProxy), now);
    if (count > this.config.perClient.accepted) {
      const retry = String(Math.ceil(this.#quota.retryAfter(now) / 1000));
      this.#reject(res, 'rate_limited', 'too many beacons from this client', cors, true, {
        'retry-after': retry,
      });
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
      if (typeof parsed === 'string' || Buffer.isBuffer(parsed))
        this.#accept(res, cors, count, parsed.toString());
      else this.#acceptParsed(res, cors, count, parsed);
      return;
    }
    const declared = Number(req.headers['content-length']);
    if (declared > this.config.maxBodyBytes) {
      this.#reject(res, 'too_large', `at most ${this.config.maxBodyBytes} bytes`, cors, true);
      return;
    }
    this.#read(req, res, cors, count);
  }

  /** Reads the body, bounded in size and time. `count`: the client's beacons in this window. */
  #read(req: IncomingMessage, res: ServerResponse, cors: string | null, count: number): void {
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
        this.#accept(res, cors, count, Buffer.concat(chunks, size).toString('utf8'));
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

  #accept(res: ServerResponse, cors: string | null, count: number, text: string): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      this.#reject(res, 'malformed', 'the body is not JSON', cors);
      return;
    }
    this.#acceptParsed(res, cors, count, value);
  }

  #acceptParsed(res: ServerResponse, cors: string | null, count: number, value: unknown): void {
    const error = checkBeacon(value);
    if (error !== null) {
      this.#reject(res, 'invalid', error, cors);
      return;
    }
    const beacon = value as VitalsBeacon;
    const { secret, tokenTtl } = this.config;
    if (
      secret !== undefined &&
      !checkPageToken(secret, beacon.token, beacon.page, this.#sink.config.clock.now(), tokenTtl)
    ) {
      this.#reject(res, 'invalid_token', 'the beacon needs a valid page token for its page group', cors);
      return;
    }
    // Past its quota a client is answered like any other (it would only retry), but weighs no more.
    if (count > this.config.perClient.recorded) this.#stats.capped++;
    else {
      this.record(beacon);
      this.#stats.accepted++;
    }
    res.statusCode = 204;
    if (cors !== null) res.setHeader('access-control-allow-origin', cors);
    res.setHeader('vary', 'origin');
    res.end();
  }

  /**
   * Records a beacon that passed `checkBeacon` (exposed for beacons that
   * arrive another way, e.g. through a queue). No origin, token or per-client
   * check happens here: the caller vouches for the beacon. The page group is admitted
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
