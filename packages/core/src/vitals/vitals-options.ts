import { checkKnownKeys, invalidOption } from '../errors.js';
import { object, read } from '../option-readers.js';
import { WEB_VITAL_SIGNALS } from '../signals/built-in-signals.js';

/** The metrics a browser may send, by the name `web-vitals` gives them (plus Keel's TTI). */
export type VitalName = 'TTI' | 'LCP' | 'INP' | 'CLS' | 'FCP' | 'TTFB';

export interface VitalMetric {
  /** Signal the values go into. */
  readonly signal: string;
  /** Largest value accepted; a beacon with a larger one is refused as a whole. */
  readonly max: number;
}

/**
 * Every accepted metric, its signal and its range. The ranges are generous on
 * purpose (a 10-minute load happens on a bad train connection) but finite, so
 * a forged beacon cannot park a sample at 1e300 and drag a percentile with it.
 */
export const VITAL_METRICS: Readonly<Record<VitalName, VitalMetric>> = Object.freeze({
  TTI: { signal: WEB_VITAL_SIGNALS.TTI, max: 600_000 },
  LCP: { signal: WEB_VITAL_SIGNALS.LCP, max: 600_000 },
  FCP: { signal: WEB_VITAL_SIGNALS.FCP, max: 600_000 },
  TTFB: { signal: WEB_VITAL_SIGNALS.TTFB, max: 600_000 },
  INP: { signal: WEB_VITAL_SIGNALS.INP, max: 60_000 },
  // Layout shift is unitless; real pages stay far below 10.
  CLS: { signal: WEB_VITAL_SIGNALS.CLS, max: 100 },
});

/** How much one client's beacons may weigh. */
export interface VitalsPerClientOptions {
  /**
   * Beacons of one client recorded per budget window; later ones are answered
   * 204 and counted (`capped`) but not recorded, so no single client can
   * weigh on a budget more than this. @default 3
   */
  recorded?: number;
  /** Beacons of one client answered per budget window; beyond, 429 before the body is read. @default 30 */
  accepted?: number;
  /**
   * Counters per row of the fixed-size table clients are counted in (four
   * rows, 8 bytes a counter: 128 KB by default). Clients that collide in
   * every row share a count (counted high, never low): under 1 % of clients
   * at `tableSize / 2` clients a window, about 10 % at 1.2 × `tableSize`. @default 16384
   */
  tableSize?: number;
}

export interface VitalsOptions {
  /** Path the collector answers `POST` beacons at; the adapters mount it. @default '/keel/vitals' */
  path?: string;
  /**
   * Pages on other origins allowed to send beacons (`https://shop.example`),
   * with CORS headers; `'*'` accepts beacons from anywhere, with no origin
   * check at all. Without a list only the app's own pages are accepted: the
   * browser says `Sec-Fetch-Site: same-origin`, or the `Origin` (else the
   * `Referer`) names the host the request was sent to. A request with none of
   * these (not from a browser page) is refused.
   * @default own origin only
   */
  allowedOrigins?: readonly string[] | '*';
  /**
   * A secret of at least 32 characters: beacons must then carry a page token
   * made with it (`keel.vitals.pageToken(page)`, put in the page when it is
   * rendered), so only pages the app served can report. Instances behind one
   * load balancer share the secret. @default none (no token needed)
   */
  secret?: string;
  /** How long a page token stays valid after it was made, ms. @default 86400000 (24 h) */
  tokenTtl?: number;
  /** How much one client (address) may send and weigh. @default 3 recorded, 30 answered per window */
  perClient?: VitalsPerClientOptions;
  /**
   * Proxies in front of the app that append the client's address to
   * `X-Forwarded-For`: with `n`, a client is the `n`-th address from the
   * right. With 0 the client is the connection's address (behind a proxy,
   * the proxy's: every user would share one quota). @default 0
   */
  trustProxy?: number;
  /** Distinct page groups kept; beacons for further groups count in the overflow series. @default 100 */
  maxPageGroups?: number;
  /** Largest beacon body accepted, bytes (from 1024 to 65536). @default 16384 */
  maxBodyBytes?: number;
  /** Time a client may take to send its body, ms. @default 10000 */
  bodyTimeout?: number;
}

export interface VitalsConfig {
  readonly path: string;
  /** Lower-case origins, `'*'`, or `null` for the app's own origin only. */
  readonly allowedOrigins: ReadonlySet<string> | '*' | null;
  readonly maxPageGroups: number;
  readonly maxBodyBytes: number;
  readonly bodyTimeout: number;
  readonly secret: string | undefined;
  readonly tokenTtl: number;
  readonly perClient: Readonly<Required<VitalsPerClientOptions>>;
  readonly trustProxy: number;
}

const KEYS = new Set([
  'path',
  'allowedOrigins',
  'maxPageGroups',
  'maxBodyBytes',
  'bodyTimeout',
  'secret',
  'tokenTtl',
  'perClient',
  'trustProxy',
]);
const PER_CLIENT_KEYS = new Set(['recorded', 'accepted', 'tableSize']);
const ORIGIN = /^https?:\/\/[^/\s?#]+$/;

/** Validates `options.vitals`; `null` when the collector is switched off. */
export function resolveVitalsOptions(value: unknown): VitalsConfig | null {
  if (value === false) return null;
  if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    throw invalidOption('vitals', 'must be an object or false', value);
  }
  const o = (value ?? {}) as Record<string, unknown>;
  checkKnownKeys(o, KEYS, (key, rule, got) => invalidOption(`vitals.${key}`, rule, got));
  const path = o.path ?? '/keel/vitals';
  if (typeof path !== 'string' || !/^\/[^?#\s]*$/.test(path) || (path.length > 1 && path.endsWith('/'))) {
    throw invalidOption('vitals.path', 'must be a path like "/keel/vitals" (leading slash, no query)', path);
  }
  let allowedOrigins: VitalsConfig['allowedOrigins'] = null;
  if (o.allowedOrigins === '*') allowedOrigins = '*';
  else if (o.allowedOrigins !== undefined) {
    const list = o.allowedOrigins;
    if (!Array.isArray(list) || !list.every((x) => typeof x === 'string' && ORIGIN.test(x))) {
      throw invalidOption(
        'vitals.allowedOrigins',
        'must be \'*\' or an array of origins like "https://shop.example" (scheme and host, no path or trailing slash)',
        list,
      );
    }
    allowedOrigins = new Set(list.map((x: string) => x.toLowerCase()));
  }
  const secret = read<string | undefined>(
    'vitals.secret',
    o.secret,
    undefined,
    (v) => typeof v === 'string' && v.length >= 32,
    'must be a string of at least 32 characters (e.g. 32 random bytes, base64)',
  );
  const perClient = object('vitals.perClient', o.perClient, PER_CLIENT_KEYS);
  const recorded = integer('vitals.perClient.recorded', perClient.recorded, 3, 1, 10_000);
  const accepted = integer(
    'vitals.perClient.accepted',
    perClient.accepted,
    Math.max(30, recorded),
    1,
    60_000,
  );
  if (accepted < recorded) {
    throw invalidOption('vitals.perClient.accepted', `must be at least \`recorded\` (${recorded})`, accepted);
  }
  return Object.freeze({
    path,
    allowedOrigins,
    maxPageGroups: integer('vitals.maxPageGroups', o.maxPageGroups, 100, 1, 10_000),
    maxBodyBytes: integer('vitals.maxBodyBytes', o.maxBodyBytes, 16_384, 1024, 65_536),
    bodyTimeout: integer('vitals.bodyTimeout', o.bodyTimeout, 10_000, 100, 120_000),
    secret,
    tokenTtl: integer('vitals.tokenTtl', o.tokenTtl, 86_400_000, 1000, 30 * 86_400_000),
    perClient: Object.freeze({
      recorded,
      accepted,
      tableSize: integer('vitals.perClient.tableSize', perClient.tableSize, 16_384, 1024, 1 << 22),
    }),
    trustProxy: integer('vitals.trustProxy', o.trustProxy, 0, 0, 10),
  });
}

function integer(path: string, value: unknown, fallback: number, min: number, max: number): number {
  return read(
    path,
    value,
    fallback,
    (v) => Number.isInteger(v) && (v as number) >= min && (v as number) <= max,
    `must be an integer from ${min} to ${max}`,
  );
}
