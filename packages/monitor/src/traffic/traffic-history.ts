import { type TrafficCounts, TrafficMeter, type TrafficRates } from './traffic-meter.js';

/**
 * Readings of the traffic meter at each evaluation, the newest `capacity`,
 * and when the app was last healthy: what "before" a mitigation means.
 */
export class TrafficHistory {
  readonly meter: TrafficMeter;
  readonly #readings: TrafficCounts[] = [];
  readonly #capacity: number;
  /** The first reading: a run's "since start". */
  readonly first: TrafficCounts;
  #lastHealthyAt: number | null = null;

  constructor(meter: TrafficMeter, capacity: number) {
    this.meter = meter;
    this.#capacity = Math.max(2, capacity);
    this.first = meter.read();
    this.#readings.push(this.first);
  }

  /** Takes a reading (at an evaluation); `healthy` marks the last time users were served well. */
  record(healthy: boolean): TrafficCounts {
    const reading = this.meter.read();
    this.#readings.push(reading);
    if (this.#readings.length > this.#capacity) this.#readings.shift();
    if (healthy) this.#lastHealthyAt = reading.at;
    return reading;
  }

  /**
   * What users felt before now: since the last healthy evaluation (the
   * breach; all of `maxMs` with `sinceHealthy` false), at most `maxMs` back,
   * at least one reading back when there is one.
   * Returns the rates and the reading now (the start of "after").
   */
  before(maxMs: number, sinceHealthy = true): { rates: TrafficRates | null; now: TrafficCounts } {
    const now = this.meter.read();
    const healthyAt = sinceHealthy
      ? (this.#lastHealthyAt ?? Number.NEGATIVE_INFINITY)
      : Number.NEGATIVE_INFINITY;
    const start = Math.max(now.at - maxMs, healthyAt);
    const earlier = this.#readings.filter((r) => r.at < now.at);
    const from = earlier.find((r) => r.at >= start) ?? earlier.at(-1);
    return { rates: from ? TrafficMeter.between(from, now) : null, now };
  }

  /** What users felt since `from`. */
  since(from: TrafficCounts): TrafficRates | null {
    return TrafficMeter.between(from, this.meter.read());
  }
}
