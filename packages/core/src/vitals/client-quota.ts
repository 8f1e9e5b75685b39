import { randomInt } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Rows of the sketch. Four rows of 16,384 counters miscount under 1 % of clients at 10,000 clients a window. */
const ROWS = 4;
const MAX_COUNT = 0xffff;

/**
 * How many beacons each client sent in the current window, in fixed memory:
 * a count-min sketch (four rows of 16-bit counters, each client hashed to one
 * counter per row, its count the smallest of them), cleared when the window ends.
 *
 * ```
 *  row 0  [ 0 | 3 | 0 | 1 | ... ]   client "203.0.113.7" -> one column per row
 *  row 1  [ 1 | 0 | 0 | 3 | ... ]   count = min over the rows of its counters
 *  ...
 * ```
 *
 * Clients that share a counter in every row are counted together, so a count
 * can only be too high, never too low: a client never gets past its quota
 * through a collision; a heavy client can at worst throttle the few others it
 * collides with. A `Map` per client would grow with every address an attacker
 * can use. The hash is seeded per instance, so collisions cannot be planned.
 */
export class ClientQuota {
  readonly #windowMs: number;
  readonly #width: number;
  readonly #counters: Uint16Array;
  readonly #columns = new Int32Array(ROWS);
  readonly #seed = randomInt(0x7fffffff);
  #windowEnd = 0;

  /** `width` counters per row: 8 bytes of memory each. */
  constructor(windowMs: number, width: number) {
    this.#windowMs = windowMs;
    this.#width = width;
    this.#counters = new Uint16Array(ROWS * width);
  }

  /** Counts one more beacon from `client` at `now` and returns its count in the window, this one included. */
  add(client: string, now: number): number {
    const counters = this.#counters;
    if (now >= this.#windowEnd) {
      counters.fill(0);
      this.#windowEnd = (Math.floor(now / this.#windowMs) + 1) * this.#windowMs;
    }
    const h = fnv1a(client, this.#seed);
    let least = MAX_COUNT;
    for (let row = 0; row < ROWS; row++) {
      // One column per row, each from the hash mixed with the row: independent enough for a sketch.
      const column = row * this.#width + (mix(h, row) % this.#width);
      this.#columns[row] = column;
      least = Math.min(least, counters[column]!);
    }
    const count = Math.min(least + 1, MAX_COUNT);
    // Conservative update: raise only the counters below the new count, which keeps collisions' overcount low.
    for (let row = 0; row < ROWS; row++) {
      const column = this.#columns[row]!;
      if (counters[column]! < count) counters[column] = count;
    }
    return count;
  }

  /** Milliseconds until the window ends and every count starts again. */
  retryAfter(now: number): number {
    return Math.max(0, this.#windowEnd - now);
  }
}

/**
 * Who sent a request, as a rate limit should see it: the connection's
 * address, or with `trustProxy` hops the address that many entries from the
 * right of `X-Forwarded-For` (what the nearest trusted proxy saw; the entries
 * left of it are the client's word). IPv4-mapped addresses count as IPv4;
 * an IPv6 client counts by its /64, which one host can fill with addresses.
 */
export function clientOf(req: IncomingMessage, trustProxy: number): string {
  let address = req.socket?.remoteAddress ?? '';
  if (trustProxy > 0) {
    const header = req.headers['x-forwarded-for'];
    const list = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',');
    if (list.length >= trustProxy && list[list.length - trustProxy]!.trim() !== '') {
      address = list[list.length - trustProxy]!.trim();
    }
  }
  return normalizeAddress(address);
}

export function normalizeAddress(address: string): string {
  let a = address.toLowerCase();
  if (a.startsWith('[')) a = a.slice(1, a.indexOf(']') > 0 ? a.indexOf(']') : undefined);
  const zone = a.indexOf('%');
  if (zone >= 0) a = a.slice(0, zone);
  if (a.startsWith('::ffff:') && a.includes('.')) return a.slice(7);
  if (!a.includes(':')) return a;
  // IPv6: the first four groups (the /64), with `::` expanded.
  const [head = '', tail] = a.split('::');
  const groups = head === '' ? [] : head.split(':');
  if (tail !== undefined) {
    const rest = tail === '' ? [] : tail.split(':');
    while (groups.length + rest.length < 8) groups.push('0');
    groups.push(...rest);
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

function mix(h: number, row: number): number {
  let x = Math.imul(h ^ (h >>> 16), (0x45d9f3b + Math.imul(row, 0x9e3779b1)) | 0) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

function fnv1a(text: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
