import type { CapacityConfig } from './capacity-options.js';

/**
 * Cumulative readings the model differences once per interval. Keel reads
 * the process (`process.cpuUsage()`, `performance.eventLoopUtilization()`)
 * and its HTTP signal; tests inject their own.
 */
export interface CapacityReadings {
  /** CPU time the process used since it started (user + system), µs. */
  cpuMicros(): number;
  /** Time the event loop was busy since it started, ms. */
  busyMs(): number;
  /** Requests recorded since start. */
  requests(): number;
  /** Requests per route over the last `intervals` closed intervals. */
  routes(intervals: number): readonly { readonly route: string; readonly requests: number }[];
}

/** One route's traffic over the model's window. */
export interface RouteTraffic {
  readonly route: string;
  readonly requests: number;
  /** Requests per second over the window. */
  readonly rps: number;
  /** Share of this instance's requests, 0..1. */
  readonly share: number;
}

/** What one instance can serve, from the cost per request measured over the window. */
export interface CapacitySnapshot {
  /** When the model last measured (epoch ms); `null` before the first closed interval. */
  readonly measuredAt: number | null;
  /** Length of the window measured, s (the budget window, or less just after start). */
  readonly seconds: number;
  readonly requests: number;
  /** Requests per second this instance served over the window. */
  readonly rps: number;
  /** CPU time per request, ms (every thread of the process: GC, libuv). `null` below `minRequests`. */
  readonly cpuMsPerRequest: number | null;
  /** Event-loop busy time per request, ms. `null` below `minRequests`. */
  readonly busyMsPerRequest: number | null;
  /** CPU cores in use on average over the window. */
  readonly cpuCores: number;
  /** Share of the window the event loop was busy, 0..1. */
  readonly eventLoopUtilization: number;
  readonly targetUtilization: number;
  /** Requests per second one instance serves at the target utilisation; `null` without enough requests. */
  readonly rpsPerInstance: number | null;
  /** What runs out first: the event loop (one thread) or the instance's CPU cores. */
  readonly limitedBy: 'event_loop' | 'cpu' | null;
  /** `rpsPerInstance - rps`: more requests per second this instance can take (negative: over target). */
  readonly headroomRps: number | null;
  /** Instances running (the `cost.instances` setting). */
  readonly instances: number;
  /** Instances the fleet's traffic (this instance's × `instances`) needs at the target utilisation. */
  readonly instancesNeeded: number | null;
  /** The routes that sent the most requests, at most five. */
  readonly routes: readonly RouteTraffic[];
}

const TOP_ROUTES = 5;

/**
 * The capacity model: once per interval it reads how much CPU and event-loop
 * time the process used and how many requests it served, keeps the last
 * window of intervals in fixed arrays, and derives the cost per request and
 * what one instance can serve at the target utilisation. Nothing runs per
 * request: the numbers are differences of counters the runtime and the
 * signals already keep. Idle work (timers, Keel's own ticks, GC) is charged
 * to requests, so at low traffic the model errs on the side of needing more.
 */
export class CapacityModel {
  readonly #config: CapacityConfig;
  readonly #readings: CapacityReadings;
  readonly #minRequests: number;
  readonly #instances: number;
  readonly #elapsed: Float64Array;
  readonly #cpuMs: Float64Array;
  readonly #busyMs: Float64Array;
  readonly #requests: Float64Array;
  #head = -1;
  #filled = 0;
  #last: { at: number; cpuMicros: number; busyMs: number; requests: number };
  #snapshot: CapacitySnapshot;

  constructor(
    config: CapacityConfig & { readonly windowIntervals: number; readonly minRequests: number },
    instances: number,
    readings: CapacityReadings,
    now: number,
  ) {
    this.#config = config;
    this.#readings = readings;
    this.#minRequests = Math.max(1, config.minRequests);
    this.#instances = instances;
    const n = config.windowIntervals;
    this.#elapsed = new Float64Array(n);
    this.#cpuMs = new Float64Array(n);
    this.#busyMs = new Float64Array(n);
    this.#requests = new Float64Array(n);
    this.#last = this.#read(now);
    this.#snapshot = this.#compute(null);
  }

  /** The numbers as of the last closed interval. */
  get snapshot(): CapacitySnapshot {
    return this.#snapshot;
  }

  /** Measures the interval(s) since the last call; the ticker calls it once per closed interval. */
  update(now: number): CapacitySnapshot {
    const reading = this.#read(now);
    const last = this.#last;
    this.#last = reading;
    const elapsed = now - last.at;
    if (elapsed > 0) {
      this.#head = (this.#head + 1) % this.#elapsed.length;
      this.#filled = Math.min(this.#filled + 1, this.#elapsed.length);
      this.#elapsed[this.#head] = elapsed;
      // Readings only grow; a negative difference is a reset reader, counted as nothing.
      this.#cpuMs[this.#head] = Math.max(0, reading.cpuMicros - last.cpuMicros) / 1000;
      this.#busyMs[this.#head] = Math.max(0, reading.busyMs - last.busyMs);
      this.#requests[this.#head] = Math.max(0, reading.requests - last.requests);
    }
    this.#snapshot = this.#compute(now);
    return this.#snapshot;
  }

  #read(at: number) {
    const r = this.#readings;
    return { at, cpuMicros: r.cpuMicros(), busyMs: r.busyMs(), requests: r.requests() };
  }

  #compute(measuredAt: number | null): CapacitySnapshot {
    let elapsed = 0;
    let cpuMs = 0;
    let busyMs = 0;
    let requests = 0;
    for (let i = 0; i < this.#filled; i++) {
      elapsed += this.#elapsed[i]!;
      cpuMs += this.#cpuMs[i]!;
      busyMs += this.#busyMs[i]!;
      requests += this.#requests[i]!;
    }
    const { targetUtilization, cpus } = this.#config;
    const seconds = elapsed / 1000;
    const rps = seconds > 0 ? requests / seconds : 0;
    const enough = requests >= this.#minRequests;
    const cpuMsPerRequest = enough ? cpuMs / requests : null;
    const busyMsPerRequest = enough ? busyMs / requests : null;
    // One instance at the target: the event loop is one thread; the CPU limit counts every thread.
    const byLoop = busyMsPerRequest ? (1000 * targetUtilization) / busyMsPerRequest : Infinity;
    const byCpu = cpuMsPerRequest ? (1000 * cpus * targetUtilization) / cpuMsPerRequest : Infinity;
    const perInstance = Math.min(byLoop, byCpu);
    const rpsPerInstance = enough && Number.isFinite(perInstance) ? perInstance : null;
    const routes =
      this.#filled === 0 || requests === 0
        ? []
        : [...this.#readings.routes(this.#filled)]
            .filter((r) => r.requests > 0)
            .sort((a, b) => b.requests - a.requests)
            .slice(0, TOP_ROUTES)
            .map((r) => ({
              route: r.route,
              requests: r.requests,
              rps: r.requests / seconds,
              share: r.requests / requests,
            }));
    return Object.freeze({
      measuredAt,
      seconds,
      requests,
      rps,
      cpuMsPerRequest,
      busyMsPerRequest,
      cpuCores: elapsed > 0 ? cpuMs / elapsed : 0,
      eventLoopUtilization: elapsed > 0 ? busyMs / elapsed : 0,
      targetUtilization,
      rpsPerInstance,
      limitedBy: rpsPerInstance === null ? null : byLoop <= byCpu ? 'event_loop' : 'cpu',
      headroomRps: rpsPerInstance === null ? null : rpsPerInstance - rps,
      instances: this.#instances,
      instancesNeeded: rpsPerInstance === null ? null : instancesFor(rps * this.#instances, rpsPerInstance),
      routes: Object.freeze(routes),
    });
  }
}

/** Whole instances that serve `rps` at `rpsPerInstance` each (at least one). */
export function instancesFor(rps: number, rpsPerInstance: number): number {
  // A hair of tolerance, so 2.0000000001 instances' worth of floating-point noise is 2.
  return Math.max(1, Math.ceil(rps / rpsPerInstance - 1e-9));
}
