// Which parts of a request URL a traffic profile may keep. A profile is
// replayed by `keel loadtest` and may be committed or shared, so it keeps only
// what is not personal data: no headers, no bodies, no tokens, and query
// values only when they look like ids, flags or options, under keys that do
// not name a person, a secret or a search.

/** Query keys whose values are never kept: people, places, secrets, sessions, searches. */
const PERSONAL_KEY =
  /mail|name|phone|mobile|^tel|addr|street|city|zip|postal|postcode|birth|^dob$|^age$|gender|ssn|passport|iban|card|^cc|cvv|token|secret|pass|pwd|auth|session|^sid$|key|sig|^code$|otp|^ip$|^lat|^lon|^lng|geo|^q$|query|search|user|login|account|^ref|redirect|callback|^url$/i;

/**
 * A value kept: a number of at most 8 digits (ids, pages, limits), `true` or
 * `false`, or a lowercase word of at most 24 characters (`asc`, `created_at`,
 * `json`). Capitalised words (names), mixed letters and digits (tokens,
 * codes), anything with `@` or `%` and longer numbers (phones, cards) are not.
 */
const SAFE_VALUE = /^(?:-?\d{1,8}(?:\.\d{1,4})?|true|false|[a-z][a-z_-]{0,23})$/;

/** A UUID: a random identifier, kept in a path so the route can be replayed (never in a query). */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const SAFE_KEY = /^[A-Za-z][\w.-]{0,31}$/;

export interface KeptUrl {
  /** Path and kept query, or `null` when a path value could not be kept (the sample is dropped). */
  readonly url: string | null;
  /** Query keys whose values were dropped. */
  readonly dropped: readonly string[];
}

/**
 * What a profile may keep of `url` (a request's path and query) for the
 * route `template` (`/api/users/:id`): path values bound to `:params` must
 * be safe values or UUIDs, or the sample is dropped; query pairs are kept
 * only when both key and value are safe; everything else is dropped and its
 * key reported. A fragment is never kept.
 */
export function keepUrl(template: string, url: string): KeptUrl {
  const hash = url.indexOf('#');
  const whole = hash < 0 ? url : url.slice(0, hash);
  const q = whole.indexOf('?');
  const path = q < 0 ? whole : whole.slice(0, q);
  if (!keepPath(template, path)) return { url: null, dropped: [] };
  if (q < 0) return { url: path, dropped: [] };
  const kept = new URLSearchParams();
  const dropped: string[] = [];
  for (const [key, value] of new URLSearchParams(whole.slice(q + 1))) {
    if (SAFE_KEY.test(key) && !PERSONAL_KEY.test(key) && SAFE_VALUE.test(value)) kept.append(key, value);
    else if (!dropped.includes(key)) dropped.push(SAFE_KEY.test(key) ? key : '(unreadable key)');
  }
  const query = kept.toString();
  return { url: query ? `${path}?${query}` : path, dropped };
}

/** Whether every segment bound to a `:param` (or a wildcard) of `template` holds a value that may be kept. */
function keepPath(template: string, path: string): boolean {
  const names = template.split('/');
  const values = path.split('/');
  if (!names.some((n) => n.startsWith(':') || n.includes('*') || n.includes('('))) return true;
  // A template whose segments cannot be lined up with the path (wildcards, optional parts): keep nothing.
  if (names.length !== values.length || names.some((n) => n.includes('*') || n.includes('('))) return false;
  for (let i = 0; i < names.length; i++) {
    if (!names[i]!.startsWith(':')) continue;
    let value: string;
    try {
      value = decodeURIComponent(values[i]!);
    } catch {
      return false;
    }
    if (!SAFE_VALUE.test(value) && !UUID.test(value)) return false;
  }
  return true;
}
