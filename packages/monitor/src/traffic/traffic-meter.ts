import { ABORTED_STATUS, KEEL_OUTCOMES, type Keel, type KeelOutcome, type Signal } from '@keel/core';

type Series = Signal['series'][number];

/** HTTP requests since start (cumulative), split the way users felt them. */
export interface TrafficCounts {
  /** Epoch ms of the reading. */
  readonly at: number;
  /** Every request recorded (Keel's own answers included). */
  readonly requests: number;
  /** Answered by the app, not an error, and within the latency budget. */
  readonly good: number;
  /** Answered by Keel itself (the HTTP signal's `keel_outcome` label), by outcome. */
  readonly refused: Readonly<Record<KeelOutcome, number>>;
}

/** What users felt over a period: the user-facing measure a mitigation is judged on. */
export interface TrafficRates {
  /** Length of the period, s. */
  readonly seconds: number;
  readonly requests: number;
  readonly good: number;
  /** Requests Keel answered itself (shed, circuit open, not ready, cut off). */
  readonly refused: number;
  readonly refusedByOutcome: Readonly<Record<KeelOutcome, number>>;
  /** Good requests per second: served within the latency budget and not a server error. */
  readonly goodPerSecond: number;
  /** Requests per second offered (all of them). */
  readonly requestsPerSecond: number;
  /** Share of the requests Keel refused, 0..1. */
  readonly refusedShare: number;
}

type Kind = { readonly refused: KeelOutcome } | { readonly ok: boolean; readonly within: number };

const round = (v: number) => Math.round(v * 1000) / 1000;

/**
 * Reads the HTTP signal's cumulative series (the `/metrics` histograms, per
 * method, route, status and `keel_outcome`) into "good" and "refused"
 * counts. Counting from the cumulative series, not the windows, is what
 * lets a refusal be told from an app's own 503, and a period be any length.
 * Requests in the overflow series (past the series cap) are left out: their
 * route, status and outcome are not known.
 */
export class TrafficMeter {
  readonly #keel: Keel;
  readonly #kinds = new WeakMap<Series, Kind>();
  readonly #outcomeIndex: number;
  readonly #routeIndex: number;
  readonly #statusIndex: number;
  /** Boundary index of the latency target (a request at or below it is in budget), per route and overall. */
  readonly #within: ReadonlyMap<string, number>;
  readonly #withinDefault: number;

  constructor(keel: Keel) {
    this.#keel = keel;
    const { labels, boundaries } = keel.http.definition;
    this.#outcomeIndex = labels.indexOf('keel_outcome');
    this.#routeIndex = labels.indexOf('http_route');
    this.#statusIndex = labels.indexOf('http_response_status_code');
    // The strictest latency budget on the HTTP signal says what "in time" is: per route where one is scoped.
    const latency = keel.config.budgets.filter(
      (b) => b.kind === 'latency' && b.signal === keel.http.definition.name,
    );
    const indexOf = (target: number) => {
      let index = -1;
      for (let i = 0; i < boundaries.length; i++) if (boundaries[i]! <= target) index = i;
      return index;
    };
    const overall = latency.filter((b) => b.group === undefined).map((b) => b.target);
    this.#withinDefault = overall.length ? indexOf(Math.min(...overall)) : boundaries.length;
    const perRoute = new Map<string, number>();
    for (const b of latency) {
      if (b.group === undefined) continue;
      perRoute.set(b.group, Math.min(perRoute.get(b.group) ?? Number.POSITIVE_INFINITY, indexOf(b.target)));
    }
    this.#within = perRoute;
  }

  /** The counts now. Not a hot path: once per evaluation and per validation. */
  read(): TrafficCounts {
    let requests = 0;
    let good = 0;
    const refused = Object.fromEntries(KEEL_OUTCOMES.map((o) => [o, 0])) as Record<KeelOutcome, number>;
    for (const series of this.#keel.http.series) {
      const kind = this.#kindOf(series);
      const le = series.le;
      let total = 0;
      for (let i = 0; i < le.length; i++) total += le[i]!;
      requests += total;
      if ('refused' in kind) refused[kind.refused] += total;
      else if (kind.ok) for (let i = 0; i <= kind.within && i < le.length; i++) good += le[i]!;
    }
    return { at: this.#keel.config.clock.now(), requests, good, refused };
  }

  /** The user-facing measure between two readings; `null` when no time passed. */
  static between(from: TrafficCounts, to: TrafficCounts): TrafficRates | null {
    const seconds = (to.at - from.at) / 1000;
    if (!(seconds > 0)) return null;
    const requests = Math.max(0, to.requests - from.requests);
    const good = Math.max(0, to.good - from.good);
    const refusedByOutcome = Object.fromEntries(
      KEEL_OUTCOMES.map((o) => [o, Math.max(0, to.refused[o] - from.refused[o])]),
    ) as Record<KeelOutcome, number>;
    const refused = KEEL_OUTCOMES.reduce((sum, o) => sum + refusedByOutcome[o], 0);
    return {
      seconds: round(seconds),
      requests,
      good,
      refused,
      refusedByOutcome,
      goodPerSecond: round(good / seconds),
      requestsPerSecond: round(requests / seconds),
      refusedShare: requests === 0 ? 0 : round(refused / requests),
    };
  }

  /** A series' labels never change: classified once. */
  #kindOf(series: Series): Kind {
    let kind = this.#kinds.get(series);
    if (kind) return kind;
    const values = series.labelValues;
    const outcome = this.#outcomeIndex < 0 ? '' : values[this.#outcomeIndex];
    if (outcome && (KEEL_OUTCOMES as readonly string[]).includes(outcome)) {
      kind = { refused: outcome as KeelOutcome };
    } else {
      const status = Number(values[this.#statusIndex]);
      // A client that gave up (499) was not served: not an error, not good either.
      const ok =
        status !== ABORTED_STATUS && (this.#keel.config.clientErrorsAreErrors ? status < 400 : status < 500);
      const route = values[this.#routeIndex] ?? '';
      kind = { ok, within: this.#within.get(route) ?? this.#withinDefault };
    }
    this.#kinds.set(series, kind);
    return kind;
  }
}
