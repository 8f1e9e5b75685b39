import type { Clock, TimerHandle } from '../clock.js';
import { UNMATCHED_ROUTE } from '../signals/http-signal.js';
import { OVERFLOW_LABEL } from '../signals/labels.js';
import type { Signal } from '../signals/signal.js';
import type { TrafficConfig } from './optimise-options.js';
import { keepUrl } from './traffic-privacy.js';

/** URLs per route whose ETags are followed, for the cache advice. */
const ETAG_URLS = 64;
/** Query keys listed as dropped, per route. */
const DROPPED_KEYS = 16;

/** One route of a traffic profile. */
export interface TrafficRoute {
  readonly method: string;
  readonly route: string;
  /** Requests answered since the profile's `since`. */
  readonly requests: number;
  readonly perSecond: number;
  /** Its requests as a share of all requests in the profile. */
  readonly share: number;
  /**
   * A uniform sample of concrete paths (with the query values that may be
   * kept), popular ones as often as they came; empty when none could be kept.
   */
  readonly paths: readonly string[];
  /** Query keys whose values were left out (personal data, secrets, searches). */
  readonly droppedKeys: readonly string[];
  /** Requests sampled, kept or not. */
  readonly sampled: number;
  /** Of those, left out whole: a path value looked personal. */
  readonly withheld: number;
}

/** The app's own traffic, as `keel loadtest` replays it. `schema` names this shape. */
export interface TrafficProfile {
  readonly schema: 'keel-traffic/1';
  readonly service: string;
  /** When the profile was read (epoch ms). */
  readonly recordedAt: number;
  /** Counting started here (the Keel instance's start). */
  readonly since: number;
  readonly requests: number;
  /** Busiest first. */
  readonly routes: readonly TrafficRoute[];
}

/** How one URL's answers changed, from samples with an ETag. */
export interface UrlEtags {
  etag: string;
  seen: number;
  /** Samples after the first. */
  repeats: number;
  /** Of the repeats, those with the same ETag as the sample before. */
  unchanged: number;
  firstAt: number;
  lastAt: number;
  lastChangeAt: number;
  /** Shortest time an ETag lasted before it changed, ms (`Infinity` while none changed). */
  shortestLife: number;
}

export interface RouteSamples {
  readonly method: string;
  readonly route: string;
  /** Samples kept. */
  seen: number;
  /** Samples left out whole (a path value looked personal). */
  withheld: number;
  readonly paths: string[];
  readonly droppedKeys: string[];
  /** Samples that carried an ETag (GET/HEAD 2xx). */
  etagSamples: number;
  readonly urls: Map<string, UrlEtags>;
}

/**
 * Samples the app's requests for its traffic profile: adapters check
 * `sampling` (a field read) after recording a request and, when it is set,
 * call `sample()` with what only they know (the URL, the ETag sent). Outside a
 * capture at most one request per `sampleInterval` is sampled, so the cost
 * stays bounded whatever the load; during a capture every request is.
 * Nothing personal is stored: see `traffic-privacy.ts`.
 */
export class TrafficRecorder {
  /** Whether the next finished request should be passed to `sample()`. */
  sampling = true;
  readonly config: TrafficConfig;
  readonly #clock: Clock;
  readonly #routes = new Map<string, RouteSamples>();
  #forced = false;
  #timer: TimerHandle | undefined;
  #closed = false;
  readonly #random: () => number;
  readonly #rearm = () => {
    this.#timer = undefined;
    if (!this.#closed) this.sampling = true;
  };

  constructor(config: TrafficConfig, clock: Clock, random: () => number = Math.random) {
    this.config = config;
    this.#clock = clock;
    this.#random = random;
  }

  /**
   * One finished request: `url` as requested (path and query), `etag` the
   * ETag it was answered with, if any. Bad input is ignored, never thrown.
   */
  sample(method: string, route: string, url: string, status: number, etag?: unknown): void {
    if (!this.#forced && this.config.sampleInterval > 0) {
      this.sampling = false;
      if (this.#timer === undefined)
        this.#timer = this.#clock.setTimeout(this.#rearm, this.config.sampleInterval);
    }
    if (route === UNMATCHED_ROUTE || route === OVERFLOW_LABEL || typeof url !== 'string') return;
    const key = `${method} ${route}`;
    let samples = this.#routes.get(key);
    if (samples === undefined) {
      if (this.#routes.size >= this.config.maxRoutes) return;
      samples = {
        method,
        route,
        seen: 0,
        withheld: 0,
        paths: [],
        droppedKeys: [],
        etagSamples: 0,
        urls: new Map(),
      };
      this.#routes.set(key, samples);
    }
    const kept = keepUrl(route, url);
    for (const k of kept.dropped)
      if (samples.droppedKeys.length < DROPPED_KEYS && !samples.droppedKeys.includes(k))
        samples.droppedKeys.push(k);
    if (kept.url === null) {
      samples.withheld++;
      return;
    }
    const seen = samples.seen++;
    const max = this.config.pathsPerRoute;
    if (seen < max) samples.paths.push(kept.url);
    else {
      const j = Math.floor(this.#random() * (seen + 1));
      if (j < max) samples.paths[j] = kept.url;
    }
    if (typeof etag === 'string' && status >= 200 && status < 300 && (method === 'GET' || method === 'HEAD'))
      this.#etag(samples, kept.url, etag);
  }

  #etag(samples: RouteSamples, url: string, etag: string): void {
    samples.etagSamples++;
    const now = this.#clock.now();
    const known = samples.urls.get(url);
    if (known === undefined) {
      if (samples.urls.size >= ETAG_URLS) return;
      samples.urls.set(url, {
        etag,
        seen: 1,
        repeats: 0,
        unchanged: 0,
        firstAt: now,
        lastAt: now,
        lastChangeAt: now,
        shortestLife: Number.POSITIVE_INFINITY,
      });
      return;
    }
    known.seen++;
    known.repeats++;
    known.lastAt = now;
    if (known.etag === etag) known.unchanged++;
    else {
      known.shortestLife = Math.min(known.shortestLife, now - known.lastChangeAt);
      known.lastChangeAt = now;
      known.etag = etag;
    }
  }

  /** Samples every request while `on` (a capture), else one per `sampleInterval`. */
  force(on: boolean): void {
    this.#forced = on;
    if (on) this.sampling = true;
  }

  /** What was sampled for `method route`, if anything. */
  samplesOf(method: string, route: string): RouteSamples | undefined {
    return this.#routes.get(`${method} ${route}`);
  }

  /**
   * The profile: per route (method and template), the requests answered
   * since `since` by the HTTP signal's counts, and the sampled paths.
   * Keel's own answers (shed, not ready...) and unmatched requests are left out.
   */
  profile(service: string, http: Signal, since: number): TrafficProfile {
    const now = this.#clock.now();
    const counts = new Map<string, { method: string; route: string; requests: number }>();
    for (const series of http.series) {
      const [method = '', route = '', , outcome = ''] = series.labelValues;
      if (outcome !== '' || route === UNMATCHED_ROUTE || route === OVERFLOW_LABEL) continue;
      const key = `${method} ${route}`;
      let requests = 0;
      for (const n of series.le) requests += n;
      const entry = counts.get(key);
      if (entry) entry.requests += requests;
      else counts.set(key, { method, route, requests });
    }
    const total = [...counts.values()].reduce((n, c) => n + c.requests, 0);
    const seconds = Math.max(1, now - since) / 1000;
    const routes = [...counts.entries()]
      .filter(([, c]) => c.requests > 0)
      .sort(([, a], [, b]) => b.requests - a.requests)
      .map(([key, c]): TrafficRoute => {
        const samples = this.#routes.get(key);
        return {
          method: c.method,
          route: c.route,
          requests: c.requests,
          perSecond: round(c.requests / seconds),
          share: round(c.requests / total),
          paths: samples ? [...samples.paths] : [],
          droppedKeys: samples ? [...samples.droppedKeys] : [],
          sampled: samples ? samples.seen + samples.withheld : 0,
          withheld: samples?.withheld ?? 0,
        };
      });
    return { schema: 'keel-traffic/1', service, recordedAt: now, since, requests: total, routes };
  }

  close(): void {
    this.#closed = true;
    this.sampling = false;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
