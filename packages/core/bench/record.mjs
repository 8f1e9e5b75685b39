// Benchmark 1: the cost of recording one latency sample, the call every
// request pays. Keel against prom-client's Histogram.observe, and against a
// floor that does the least any histogram can: scan the boundaries, bump a
// counter in a typed array.

import { Histogram, Registry } from 'prom-client';
import { createFakeClock, createKeel } from '../dist/index.js';
import { compare, goal, latencies, printTable } from './harness.mjs';

/** Same boundaries as Keel's HTTP signal (OpenTelemetry's, plus the 200 ms `api_latency` target), in seconds. */
export const BUCKETS_SECONDS = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.2, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
];

// 64 Ki values (512 KiB): generated up front so the timed loop only reads
// them, and too many for the branch predictor to learn the boundary scan.
const VALUES = latencies(1 << 16);
const MASK = VALUES.length - 1;
const ITERATIONS = 1_000_000;

export async function benchRecord() {
  // A fake clock: no timer fires, so no window rotates in the middle of a batch.
  const keel = createKeel({ runtime: false, clock: createFakeClock() });
  const http = keel.http;

  const registry = new Registry();
  const histogram = new Histogram({
    name: 'http_server_request_duration_seconds',
    help: 'Duration of HTTP server requests.',
    labelNames: ['method', 'route', 'status'],
    buckets: BUCKETS_SECONDS,
    registers: [registry],
  });
  // One labels object for the whole run: prom-client is not charged for
  // building it per request, as a middleware usually does.
  const labels = { method: 'GET', route: '/users/:id', status: 200 };

  const bounds = Float64Array.from(BUCKETS_SECONDS);
  const floorCounts = new Float64Array(bounds.length + 1);

  const variants = [
    {
      name: 'keel.http.record',
      run(n) {
        for (let i = 0; i < n; i++) http.record(VALUES[i & MASK], true, 'GET', '/users/:id', 200);
      },
    },
    {
      name: 'keel.recordRequest',
      run(n) {
        for (let i = 0; i < n; i++) keel.recordRequest('GET', '/users/:id', 200, VALUES[i & MASK]);
      },
    },
    {
      name: 'prom-client observe',
      run(n) {
        for (let i = 0; i < n; i++) histogram.observe(labels, VALUES[i & MASK] / 1000);
      },
    },
    {
      name: 'Float64Array floor',
      run(n) {
        for (let i = 0; i < n; i++) {
          const v = VALUES[i & MASK] / 1000;
          let b = 0;
          while (b < bounds.length && v > bounds[b]) b++;
          floorCounts[b]++;
        }
      },
    },
  ];

  const results = await compare(variants, { iterations: ITERATIONS });
  printTable(
    `1. Recording one latency sample (${ITERATIONS.toLocaleString('en')} samples per round, one series)`,
    results,
    { against: ['prom-client observe', 'Float64Array floor'] },
  );
  const keelResult = results[0];
  const met = goal('keel.http.record', keelResult.median, 25, 'ns/op');

  // Keep the side effects observable, so no JIT could ever call the loops dead.
  const recorded = http.series.reduce((n, s) => n + s.le.reduce((a, b) => a + b, 0), 0);
  const floorTotal = floorCounts.reduce((a, b) => a + b, 0);
  console.log(
    `  (sanity: keel series ${http.seriesCount}, ${recorded} samples; floor ${floorTotal} samples)`,
  );
  await keel.close();
  return { results, goals: { recordNs: met } };
}
