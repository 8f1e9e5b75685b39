import type { RuntimeSnapshot } from '../runtime/runtime-sampler.js';

export interface SheddingConfig {
  readonly enabled: boolean;
  /** Shed while the event-loop delay p99 is at or above this, ms. */
  readonly eventLoopDelay: number;
  /** Shed while heap used / heap limit is at or above this. */
  readonly heapUsedRatio: number;
  /** `Retry-After` sent with each 503, seconds. */
  readonly retryAfterSeconds: number;
}

/**
 * Decides, off the request path, whether new requests should be turned away.
 * The runtime sampler updates it on Keel's tick and the monitor (or the app)
 * can force it; a request only reads `shedding`, a boolean.
 */
export class LoadShedder {
  /** Read per request: true means answer 503 + Retry-After (probes and critical routes excepted). */
  shedding = false;
  /** Why, in words; empty when not shedding. */
  reason = '';
  /** Requests turned away since start. */
  shed = 0;
  readonly config: SheddingConfig;
  #forced: string | undefined;
  #pressure: string | undefined;

  constructor(config: SheddingConfig) {
    this.config = config;
  }

  /** Re-judges pressure from a fresh runtime sample. */
  update(runtime: RuntimeSnapshot): void {
    if (!this.config.enabled) return;
    const heap = runtime.heapLimitBytes > 0 ? runtime.heapUsedBytes / runtime.heapLimitBytes : 0;
    if (runtime.eventLoopDelayP99 >= this.config.eventLoopDelay) {
      this.#pressure = `event-loop delay p99 ${Math.round(runtime.eventLoopDelayP99)} ms >= ${this.config.eventLoopDelay} ms`;
    } else if (heap >= this.config.heapUsedRatio) {
      this.#pressure = `heap ${Math.round(heap * 100)} % of limit >= ${Math.round(this.config.heapUsedRatio * 100)} %`;
    } else {
      this.#pressure = undefined;
    }
    this.#apply();
  }

  /** Forces shedding on (with a reason) or releases a forced state (`undefined`). */
  force(reason: string | undefined): void {
    this.#forced = reason;
    this.#apply();
  }

  #apply(): void {
    const reason = this.#forced ?? this.#pressure;
    this.shedding = reason !== undefined;
    this.reason = reason ?? '';
  }
}
