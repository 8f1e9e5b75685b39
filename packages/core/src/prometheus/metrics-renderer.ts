import type { Registry } from 'prom-client';
import { decodeMetrics, MetricsWriter } from './exposition.js';
import { type KeelMetricsSource, renderKeelMetrics } from './keel-metrics.js';

/**
 * `/metrics` of one instance: Keel's exposition, then the prom-client
 * registry's, as UTF-8 bytes written into the buffer the previous scrape
 * gave back (decision 0012).
 */
export class MetricsRenderer {
  readonly #source: KeelMetricsSource;
  readonly #registry: Registry;
  /** Size of the last `/metrics` text, bytes: where the next render's buffer starts. */
  #bytes = 64 * 1024;
  /**
   * The writer between scrapes, emptied (`take()`), and kept alive on purpose:
   * with none alive, a full GC between scrapes let V8 drop the optimized
   * render code (decision 0012), and the next scrape ran deoptimized, 4-19 ms
   * instead of 1-2.
   */
  #idleWriter: MetricsWriter | undefined = undefined;

  constructor(source: KeelMetricsSource, registry: Registry) {
    this.#source = source;
    this.#registry = registry;
  }

  /** The exposition as bytes (no string to build and flatten). */
  async buffer(): Promise<Buffer> {
    // A scrape that overlaps another (both wait for the registry) takes a writer of its own.
    const out = this.#idleWriter ?? new MetricsWriter(0);
    this.#idleWriter = undefined;
    out.restart(this.#bytes);
    renderKeelMetrics(out, this.#source);
    const others = await this.#registry.metrics();
    if (others) out.text(others.endsWith('\n') ? others : `${others}\n`);
    const bytes = out.take();
    // Room for some growth next time; bounded by what the series caps allow.
    this.#bytes = Math.ceil(bytes.length * 1.1) + 1024;
    this.#idleWriter = out;
    return bytes;
  }

  /** Takes back bytes from `buffer()` once sent, so the next render writes into them. */
  release(bytes: Buffer): void {
    this.#idleWriter?.giveBack(bytes);
  }

  /** The exposition as a string. */
  async text(): Promise<string> {
    const bytes = await this.buffer();
    const text = decodeMetrics(bytes);
    // The string is a copy: the bytes can serve the next render.
    this.release(bytes);
    return text;
  }
}
