import { performance } from 'node:perf_hooks';
import type { Signal } from '../signals/signal.js';
import type { CapacityReadings } from './capacity-model.js';

/**
 * The capacity model's readings from this process and its HTTP signal: CPU
 * time from `process.cpuUsage()`, event-loop busy time from
 * `performance.eventLoopUtilization()`, requests from the signal's own
 * counters. Each is read once per interval, never per request.
 */
export function processReadings(http: Signal): CapacityReadings {
  return {
    cpuMicros() {
      const { user, system } = process.cpuUsage();
      return user + system;
    },
    busyMs: () => performance.eventLoopUtilization().active,
    requests: () => requestsRecorded(http),
    routes(intervals) {
      const out: { route: string; requests: number }[] = [];
      for (const group of http.groups.values()) {
        let requests = 0;
        for (const slot of group.ring.closed(intervals)) requests += slot.count;
        if (requests > 0) out.push({ route: group.key, requests });
      }
      return out;
    },
  };
}

/** Samples a signal recorded since start: its cumulative histograms' counts, overflow included. */
export function requestsRecorded(signal: Signal): number {
  let n = 0;
  for (const series of signal.series) for (const c of series.le) n += c;
  for (const c of signal.overflowSeries.le) n += c;
  return n;
}
