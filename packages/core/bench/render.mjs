// Benchmark 2: rendering /metrics for 1,000 histogram series, and how long
// that render holds the event loop (a scrape must not stall requests).

import { PerformanceObserver, performance } from 'node:perf_hooks';
import { Histogram, Registry } from 'prom-client';
import { createFakeClock, createKeel } from '../dist/index.js';
import { compare, formatValue, goal, latencies, printTable } from './harness.mjs';
import { BUCKETS_SECONDS } from './record.mjs';

const ROUTES = 1000;
const SAMPLES_PER_ROUTE = 10;
const RENDERS_PER_ROUND = 10;
const BLOCK_PROBES = 50;
// Both sides name the histogram the same, so one pattern counts series in either text.
const SERIES_LINE = /^http_server_request_duration_seconds_count\{/gm;

export async function benchRender() {
  const values = latencies(1 << 14, 40, 7);
  const routes = Array.from({ length: ROUTES }, (_, i) => `/r/${i}`);

  const keel = createKeel({ runtime: false, clock: createFakeClock() });
  const registry = new Registry();
  const histogram = new Histogram({
    name: 'http_server_request_duration_seconds',
    help: 'Duration of HTTP server requests.',
    labelNames: ['method', 'route', 'status'],
    buckets: BUCKETS_SECONDS,
    registers: [registry],
  });
  let k = 0;
  for (const route of routes) {
    for (let i = 0; i < SAMPLES_PER_ROUTE; i++, k++) {
      const v = values[k & (values.length - 1)];
      keel.http.record(v, true, 'GET', route, 200);
      histogram.observe({ method: 'GET', route, status: 200 }, v / 1000);
    }
  }

  // Same content on both sides before timing anything.
  const keelText = await keel.metrics();
  const promText = await registry.metrics();
  const keelSeries = keelText.match(SERIES_LINE)?.length ?? 0;
  const promSeries = promText.match(SERIES_LINE)?.length ?? 0;

  // "As served" is what each endpoint does before the bytes go out. Keel's
  // /metrics writes its text as UTF-8 bytes (`metricsBuffer()`, no string);
  // `metrics()` decodes those bytes to a string for callers that want one.
  // prom-client returns a rope built with `+=`, which V8 flattens in the
  // endpoint's `Buffer.byteLength`, so it is charged for that here.
  // Keel's endpoint gives the bytes back once the response has finished
  // (`releaseMetricsBuffer`), so the next render writes into them.
  const keelServed = async () => {
    const bytes = await keel.metricsBuffer();
    const length = bytes.length;
    keel.releaseMetricsBuffer(bytes);
    return length;
  };
  const promServed = async () => Buffer.byteLength(await registry.metrics());

  let sink = 0;
  const variants = [
    {
      name: 'keel.metrics()',
      async run(n) {
        for (let i = 0; i < n; i++) sink += (await keel.metrics()).length;
      },
    },
    {
      name: 'prom-client registry.metrics()',
      async run(n) {
        for (let i = 0; i < n; i++) sink += (await registry.metrics()).length;
      },
    },
    {
      name: 'keel, as served',
      async run(n) {
        for (let i = 0; i < n; i++) sink += await keelServed();
      },
    },
    {
      name: 'prom-client, as served',
      async run(n) {
        for (let i = 0; i < n; i++) sink += await promServed();
      },
    },
  ];
  const results = await compare(variants, { iterations: RENDERS_PER_ROUND });
  const title = `2. Rendering /metrics for ${ROUTES.toLocaleString('en')} histogram series`;
  printTable(`${title}: the render call alone`, results.slice(0, 2), {
    against: ['prom-client registry.metrics()'],
    unit: 'ms',
  });
  printTable(`${title}: as the /metrics endpoint serves it`, results.slice(2), {
    against: ['prom-client, as served'],
    unit: 'ms',
  });
  console.log(
    `  (sanity: keel ${keelSeries} series, ${kb(keelText.length)} KB; prom-client ${promSeries} series, ${kb(promText.length)} KB; checksum ${sink > 0})`,
  );
  const renderMet = goal('keel.metrics() median', results[0].median / 1e6, 3, 'ms');
  const servedMet = goal('keel, as served, median', results[2].median / 1e6, 3, 'ms');

  const keelBlock = await probeBlocks(keelServed);
  const promBlock = await probeBlocks(promServed);
  console.log(`\n  Event-loop blocks, one per render, as served, over ${BLOCK_PROBES} renders each:`);
  for (const [name, b] of [
    ['keel', keelBlock],
    ['prom-client', promBlock],
  ]) {
    console.log(
      `    ${name.padEnd(11)} median ${formatValue(b.medianMs)} ms, longest ${formatValue(b.longestMs)} ms ` +
        `(GC inside the longest: ${formatValue(b.gcInLongestMs)} ms; a timer ran mid-render: ${b.interleaved ? 'yes' : 'no'})`,
    );
  }
  const blockMet = goal('keel longest event-loop block', keelBlock.longestMs, 5, 'ms');

  await keel.close();
  return {
    results,
    keelBlock,
    promBlock,
    goals: { renderMs: renderMet, servedMs: servedMet, blockMs: blockMet },
  };
}

/**
 * How long each render keeps the event loop from doing anything else. Each
 * render starts in its own macrotask with a 0 ms timer armed; the timer never
 * gets to run before the render's promise settles (`interleaved` would say
 * so), i.e. neither library yields while rendering in-memory metrics, so the
 * whole render, synchronous part and the microtasks after it, is one block.
 * GC pauses are listed because they, not the rendering, make the longest one.
 */
async function probeBlocks(render) {
  const gcs = [];
  const observer = new PerformanceObserver((list) => gcs.push(...list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  const blocks = [];
  let interleaved = false;
  for (let i = 0; i < BLOCK_PROBES; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    let timerRan = false;
    const timer = setTimeout(() => {
      timerRan = true;
    }, 0);
    const start = performance.now();
    await render();
    const end = performance.now();
    if (timerRan) interleaved = true;
    clearTimeout(timer);
    blocks.push({ start, end, ms: end - start });
  }
  // GC entries are delivered asynchronously; let the observer catch up.
  await new Promise((resolve) => setTimeout(resolve, 10));
  observer.disconnect();
  const longest = blocks.reduce((a, b) => (b.ms > a.ms ? b : a));
  const gcInLongestMs = gcs
    .filter((e) => e.startTime < longest.end && e.startTime + e.duration > longest.start)
    .reduce((sum, e) => sum + e.duration, 0);
  const sorted = blocks.map((b) => b.ms).sort((a, b) => a - b);
  return {
    medianMs: sorted[sorted.length >> 1],
    longestMs: longest.ms,
    gcInLongestMs,
    interleaved,
  };
}

function kb(chars) {
  return Math.round(chars / 1000);
}
