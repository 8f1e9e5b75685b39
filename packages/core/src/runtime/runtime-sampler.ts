import {
  type EventLoopUtilization,
  type IntervalHistogram,
  monitorEventLoopDelay,
  PerformanceObserver,
  performance,
} from 'node:perf_hooks';
import v8 from 'node:v8';

export interface RuntimeSnapshot {
  /** p99 event-loop delay over the last sample interval, ms. */
  readonly eventLoopDelayP99: number;
  /** Max event-loop delay over the last sample interval, ms. */
  readonly eventLoopDelayMax: number;
  /** Share of the last sample interval the loop was busy, 0..1. */
  readonly eventLoopUtilization: number;
  readonly heapUsedBytes: number;
  readonly heapLimitBytes: number;
  readonly rssBytes: number;
  /** GC pause time since start, ms. */
  readonly gcPauseTotalMs: number;
  /** When the sample was taken (epoch ms, from Keel's clock). */
  readonly sampledAt: number;
}

/**
 * Samples the runtime on Keel's background tick, never on the request path.
 * The delay histogram resets each sample so the number describes the last
 * interval rather than the process lifetime.
 */
export class RuntimeSampler {
  #delay: IntervalHistogram | undefined;
  #lastElu: EventLoopUtilization | undefined;
  #gcObserver: PerformanceObserver | undefined;
  #gcPauseTotalMs = 0;
  #last: RuntimeSnapshot | undefined;

  start(): void {
    if (this.#delay) return;
    // 10 ms resolution is what under-pressure uses: fine enough to see trouble, cheap to run.
    this.#delay = monitorEventLoopDelay({ resolution: 10 });
    this.#delay.enable();
    this.#lastElu = performance.eventLoopUtilization();
    try {
      this.#gcObserver = new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) this.#gcPauseTotalMs += entry.duration;
      });
      this.#gcObserver.observe({ entryTypes: ['gc'] });
    } catch {
      // Some runtimes lack gc entries; the GC figure then stays 0.
      this.#gcObserver = undefined;
    }
  }

  sample(now: number): RuntimeSnapshot {
    const delay = this.#delay;
    const elu = performance.eventLoopUtilization(this.#lastElu);
    this.#lastElu = performance.eventLoopUtilization();
    const heap = v8.getHeapStatistics();
    const p99 = delay && delay.count > 0 ? delay.percentile(99) / 1e6 : 0;
    const max = delay && delay.count > 0 ? delay.max / 1e6 : 0;
    delay?.reset();
    this.#last = Object.freeze({
      eventLoopDelayP99: p99,
      eventLoopDelayMax: max,
      eventLoopUtilization: Number.isFinite(elu.utilization) ? elu.utilization : 0,
      heapUsedBytes: heap.used_heap_size,
      heapLimitBytes: heap.heap_size_limit,
      rssBytes: process.memoryUsage.rss(),
      gcPauseTotalMs: this.#gcPauseTotalMs,
      sampledAt: now,
    });
    return this.#last;
  }

  get last(): RuntimeSnapshot | undefined {
    return this.#last;
  }

  stop(): void {
    this.#delay?.disable();
    this.#delay = undefined;
    this.#gcObserver?.disconnect();
    this.#gcObserver = undefined;
  }
}
