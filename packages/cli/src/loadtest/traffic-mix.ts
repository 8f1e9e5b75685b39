import type { TrafficProfile, TrafficRoute } from '@keel/core';
import { UsageError } from '../cli/usage-error.js';

/** Requests in one pass of the replayed sequence; each connection cycles through it. */
const SEQUENCE = 1000;
/** Methods replayed: a profile has no bodies, so anything else would not be the app's traffic. */
const REPLAYED = new Set(['GET', 'HEAD']);

export interface ReplayRequest {
  readonly method: string;
  readonly path: string;
  /** `GET /api/orders`: the route it is reported under. */
  readonly route: string;
}

export interface Mix {
  /** The sequence every connection cycles through: each route as often as its share, paths in turn, shuffled. */
  readonly requests: readonly ReplayRequest[];
  /** The routes replayed, with their share of the sequence. */
  readonly routes: readonly { readonly route: string; readonly share: number; readonly paths: number }[];
  /** Routes of the profile left out, and why. */
  readonly skipped: readonly { readonly route: string; readonly reason: string }[];
}

/** Checks that `json` is a traffic profile (`keel-traffic/1`), as `GET /keel/traffic` answers. */
export function readProfile(json: unknown, source: string): TrafficProfile {
  const p = json as Partial<TrafficProfile> | null;
  if (typeof p !== 'object' || p === null || p.schema !== 'keel-traffic/1' || !Array.isArray(p.routes))
    throw new UsageError(
      `${source}: not a Keel traffic profile (schema keel-traffic/1); record one with keel loadtest --record <url>`,
    );
  for (const r of p.routes) {
    if (
      typeof r !== 'object' ||
      r === null ||
      typeof r.method !== 'string' ||
      typeof r.route !== 'string' ||
      typeof r.requests !== 'number' ||
      !Array.isArray(r.paths) ||
      !(r.paths as unknown[]).every((path) => typeof path === 'string' && path.startsWith('/'))
    )
      throw new UsageError(`${source}: a route is malformed: ${JSON.stringify(r).slice(0, 200)}`);
  }
  return p as TrafficProfile;
}

/**
 * Why a route has no path to replay: every sampled path was withheld as
 * personal, or none of its requests was sampled at all (Keel samples one
 * request per interval, so a route can be counted yet never sampled), which
 * more traffic before `--record` cures and withholding does not.
 */
function noPathReason(r: TrafficRoute): string {
  const withheld = typeof r.withheld === 'number' ? r.withheld : 0;
  return withheld > 0
    ? `no path could be kept (${withheld} sampled, each withheld: its values looked personal)`
    : 'no request of it was sampled yet (Keel samples at most one request per optimise.traffic.sampleInterval, 100 ms by default): record again after more traffic';
}

/**
 * The replayed mix: GET and HEAD routes with at least one path, each given
 * a share of a 1000-request sequence proportional to its requests in the
 * profile (largest remainders, at least one each), its paths taken in turn,
 * the whole shuffled with a fixed seed so two runs send the same sequence.
 */
export function mixOf(profile: TrafficProfile, seed = 1): Mix {
  const skipped: { route: string; reason: string }[] = [];
  const replayed: TrafficRoute[] = [];
  for (const r of profile.routes) {
    const route = `${r.method} ${r.route}`;
    if (!REPLAYED.has(r.method))
      skipped.push({ route, reason: 'not replayed: Keel records no request bodies' });
    else if (r.paths.length === 0) skipped.push({ route, reason: noPathReason(r) });
    else if (r.requests > 0) replayed.push(r);
  }
  if (replayed.length === 0) return { requests: [], routes: [], skipped };
  const total = replayed.reduce((n, r) => n + r.requests, 0);
  const exact = replayed.map((r) => (r.requests / total) * SEQUENCE);
  const slots = exact.map((x) => Math.max(1, Math.floor(x)));
  const order = exact.map((_, i) => i).sort((a, b) => (exact[b]! % 1) - (exact[a]! % 1));
  for (let k = 0, left = SEQUENCE - slots.reduce((a, b) => a + b, 0); left > 0; k++, left--)
    slots[order[k % order.length]!]!++;
  const requests: ReplayRequest[] = [];
  replayed.forEach((r, i) => {
    for (let n = 0; n < slots[i]!; n++)
      requests.push({
        method: r.method,
        path: r.paths[n % r.paths.length]!,
        route: `${r.method} ${r.route}`,
      });
  });
  shuffle(requests, seed);
  return {
    requests,
    routes: replayed.map((r, i) => ({
      route: `${r.method} ${r.route}`,
      share: Math.round((slots[i]! / requests.length) * 1000) / 1000,
      paths: r.paths.length,
    })),
    skipped,
  };
}

/** Fisher–Yates with mulberry32: the same seed, the same order. */
function shuffle<T>(items: T[], seed: number): void {
  let a = seed >>> 0;
  const random = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}
