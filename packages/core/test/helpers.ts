import { readFileSync } from 'node:fs';
import { createFakeClock, createKeel, type FakeClock, type Keel, type KeelOptions } from '../src/index.js';

/** A deterministic PRNG (mulberry32) so distribution tests are reproducible. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal via Box-Muller. */
export function normal(rand: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

export interface TestKeel {
  keel: Keel;
  clock: FakeClock;
  /** Advances one evaluation interval. */
  step(times?: number): void;
}

/** A Keel on a fake clock without runtime sampling, so scores depend only on what the test records. */
export function testKeel(options: KeelOptions = {}): TestKeel {
  const clock = createFakeClock();
  const keel = createKeel({ runtime: false, clock, ...options });
  const interval = keel.config.interval;
  return {
    keel,
    clock,
    step(times = 1) {
      for (let i = 0; i < times; i++) clock.advance(interval);
    },
  };
}

/** Records `n` requests on one route: `slowShare` of them at `slowMs`, the rest at `fastMs`. */
export function traffic(
  keel: Keel,
  n: number,
  { fastMs = 20, slowMs = 400, slowShare = 0, errorShare = 0, route = '/api/users/:id' } = {},
): void {
  const slowEvery = slowShare > 0 ? Math.round(1 / slowShare) : 0;
  const errorEvery = errorShare > 0 ? Math.round(1 / errorShare) : 0;
  for (let i = 0; i < n; i++) {
    const slow = slowEvery > 0 && i % slowEvery === 0;
    const error = errorEvery > 0 && i % errorEvery === 0;
    keel.recordRequest('GET', route, error ? 500 : 200, slow ? slowMs : fastMs);
  }
}

/** A row of the core README's table "OpenTelemetry names → Prometheus names". */
export interface MetricNameRow {
  otel: string;
  unit: string;
  instrument: 'histogram' | 'gauge' | 'counter';
  prometheus: string;
}

/** The core README's table of every metric's OpenTelemetry name, unit, instrument and Prometheus name. */
export function readmeMetricNames(): MetricNameRow[] {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('### OpenTelemetry names → Prometheus names'));
  const rows: MetricNameRow[] = [];
  for (const line of section.split('\n')) {
    // The table ends at the first line after it that is not a table row.
    if (rows.length > 0 && !line.startsWith('|')) break;
    const cells = line.split('|').map((c) => c.trim().replaceAll('`', ''));
    if (cells.length !== 6 || !/^(histogram|gauge|counter)$/.test(cells[3]!)) continue;
    rows.push({
      otel: cells[1]!,
      unit: cells[2]!,
      instrument: cells[3] as MetricNameRow['instrument'],
      prometheus: cells[4]!,
    });
  }
  return rows;
}
