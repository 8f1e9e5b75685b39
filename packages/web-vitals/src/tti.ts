/** A stretch of time on the page's clock (`performance.now()` ms): a long task or a request. */
export interface Span {
  /** Start. */
  s: number;
  /** End. */
  e: number;
}

/** Lighthouse's quiet window: 5 s without a long task and with at most 2 requests in flight. */
export const QUIET_MS = 5000;
const MAX_IN_FLIGHT = 2;

export interface TTISearch {
  /**
   * Adds the long tasks and finished requests seen since the last call and
   * moves the search on; `true` once a quiet window is confirmed by `now`.
   */
  update(tasks: Span[], requests: Span[], now: number): boolean;
  /** TTI so far: final once `update` returned `true`, a lower bound before. */
  readonly value: number;
  /** Where the quiet window being tested starts. */
  readonly start: number;
}

/**
 * Time To Interactive by Lighthouse's rules, fed incrementally from the
 * field: find the first window of `QUIET_MS` at or after `lower` (FCP, or
 * DOMContentLoaded if later) with no long task and at most two requests in
 * flight; TTI is the end of the last long task before that window, never
 * earlier than `lower`.
 *
 * Adding a span can only push the window later, never earlier, so spans that
 * end before the window are folded into `value` and dropped: memory stays
 * bounded however long the page keeps busy.
 */
export function ttiSearch(lower: number): TTISearch {
  let start = lower;
  let value = lower;
  let tasks: Span[] = [];
  let requests: Span[] = [];
  return {
    update(newTasks, newRequests, now) {
      tasks = tasks.concat(newTasks);
      requests = requests.concat(newRequests);
      const busy = tasks.concat(networkBusy(requests)).sort((a, b) => a.s - b.s);
      for (const b of busy) {
        if (b.e <= start) continue;
        if (b.s >= start + QUIET_MS) break;
        start = b.e;
      }
      // A task hidden inside a busy network stretch still counts: it is the last task before the window.
      for (const t of tasks) if (t.e <= start && t.e > value) value = t.e;
      tasks = tasks.filter((t) => t.e > start);
      requests = requests.filter((r) => r.e > start);
      return now >= start + QUIET_MS;
    },
    get value() {
      return value;
    },
    get start() {
      return start;
    },
  };
}

/** Stretches where more than two requests were in flight at once. */
function networkBusy(requests: Span[]): Span[] {
  const edges: [number, number][] = [];
  for (const r of requests) edges.push([r.s, 1], [r.e, -1]);
  // At equal times an end sorts before a start: back-to-back requests do not overlap.
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const out: Span[] = [];
  let inFlight = 0;
  let from = 0;
  for (const [t, d] of edges) {
    inFlight += d;
    if (d > 0 && inFlight === MAX_IN_FLIGHT + 1) from = t;
    else if (d < 0 && inFlight === MAX_IN_FLIGHT) out.push({ s: from, e: t });
  }
  return out;
}
