// Benchmark 3: memory. (a) what a realistic load retains; (b) what a
// cardinality attack (a distinct label value per request, e.g. a raw path
// used as the route) does, where Keel caps series and prom-client does not.
//
// Each scenario runs in its own child process. In one shared process the
// previous scenario's objects can outlive it (V8 may keep a dead local
// reachable until its stack slot is reused), and that moved the next
// scenario's figure by several MB. A fresh heap per scenario removes the
// guesswork. Each figure is one measurement, not a median: heap after a full GC
// is stable (within 1 % between runs), and repeating 10^6-sample loads would
// blow the time budget.

import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Histogram, Registry } from 'prom-client';
import { createFakeClock, createKeel } from '../dist/index.js';
import { formatValue, latencies, mb, renderTable, retainedBytes, settleHeap } from './harness.mjs';
import { BUCKETS_SECONDS } from './record.mjs';

const SAMPLES = 1_000_000;
const SERIES = 1000;
const KEEL_DISTINCT = 1_000_000;
// prom-client keeps every label set forever; 10^6 would take most of the run's time budget and
// several hundred MB, so it gets a tenth of the load and the table says so.
const PROM_DISTINCT = 100_000;
const SERIES_LINE = /^http_server_request_duration_seconds_count\{/gm;

const VALUES = latencies(1 << 16, 40, 11);
const MASK = VALUES.length - 1;

// Route templates are the app's strings, not the library's: made before any baseline.
const ROUTES = Array.from({ length: SERIES }, (_, i) => `/r/${i}`);

/** name -> [load, inspect?] for `measure`; each runs in a fresh process. */
const SCENARIOS = {
  'keel-empty': [
    () => {
      const keel = createKeel({ runtime: false, clock: createFakeClock() });
      return { keep: keel, series: 0 };
    },
  ],
  'keel-steady': [
    () => {
      const keel = createKeel({ runtime: false, clock: createFakeClock() });
      for (let i = 0; i < SAMPLES; i++) {
        keel.http.record(VALUES[i & MASK], true, 'GET', ROUTES[i % SERIES], 200);
      }
      return {
        keep: keel,
        series: keel.http.seriesCount,
        groups: keel.http.groups.size,
        slots: keel.config.windowIntervals + 1,
      };
    },
  ],
  'prom-steady': [
    () => {
      const { histogram, registry } = promHistogram();
      for (let i = 0; i < SAMPLES; i++) {
        histogram.observe({ method: 'GET', route: ROUTES[i % SERIES], status: 200 }, VALUES[i & MASK] / 1000);
      }
      return { keep: registry, series: Object.keys(histogram.hashMap).length };
    },
  ],
  'keel-flood': [
    () => {
      const keel = createKeel({ runtime: false, clock: createFakeClock() });
      const start = process.hrtime.bigint();
      for (let i = 0; i < KEEL_DISTINCT; i++) keel.http.record(VALUES[i & MASK], true, 'GET', `/u/${i}`, 200);
      const ns = Number(process.hrtime.bigint() - start) / KEEL_DISTINCT;
      return { keep: keel, series: keel.http.seriesCount, overflowed: keel.http.overflowed, ns };
    },
    async (keel) => {
      // Rendered after the heap is measured: V8 keeps the last RegExp subject
      // alive (RegExp.input), which would count the 2.4 MB text as Keel's.
      const text = await keel.metrics();
      return { rendered: text.match(SERIES_LINE)?.length ?? 0, textKB: Math.round(text.length / 1000) };
    },
  ],
  'prom-flood': [
    () => {
      const { histogram, registry } = promHistogram();
      const start = process.hrtime.bigint();
      for (let i = 0; i < PROM_DISTINCT; i++) {
        histogram.observe({ method: 'GET', route: `/u/${i}`, status: 200 }, VALUES[i & MASK] / 1000);
      }
      const ns = Number(process.hrtime.bigint() - start) / PROM_DISTINCT;
      return { keep: registry, series: Object.keys(histogram.hashMap).length, ns };
    },
  ],
};

export async function benchMemory() {
  const keelEmpty = await inChild('keel-empty');
  const keelSteady = await inChild('keel-steady');
  const promSteady = await inChild('prom-steady');

  console.log(
    `\n3a. Memory retained after ${SAMPLES.toLocaleString('en')} samples over ${SERIES.toLocaleString('en')} series (after full GC)`,
  );
  console.log(
    renderTable(
      ['library', 'series', 'heap MB', 'ArrayBuffer MB', 'total MB', 'bytes/series', 'vs prom-client'],
      [
        ['Keel, empty instance', keelEmpty],
        ['Keel', keelSteady],
        ['prom-client', promSteady],
      ].map(([name, m]) => [
        name,
        String(m.series),
        formatValue(mb(m.delta.heap)),
        formatValue(mb(m.delta.buffers)),
        formatValue(mb(m.delta.total)),
        m.series ? String(Math.round(m.delta.total / m.series)) : '-',
        `${formatValue(m.delta.total / promSteady.delta.total)}x`,
      ]),
    ),
  );
  console.log(
    `  Keel keeps, besides the cumulative histograms, a rolling window of ${keelSteady.slots} interval slots for each ` +
      `route group: ${keelSteady.groups} groups here (limits.maxGroups; later routes share the overflow group). ` +
      'prom-client keeps no window.',
  );

  const keelFlood = await inChild('keel-flood');
  const promFlood = await inChild('prom-flood');

  console.log(`\n3b. Cardinality flood: a distinct route per sample, default limits (after full GC)`);
  console.log(
    renderTable(
      [
        'library',
        'distinct values',
        'series kept',
        'overflowed',
        'total MB',
        'bytes/value offered',
        'ns/sample',
      ],
      [
        [
          'Keel',
          KEEL_DISTINCT.toLocaleString('en'),
          `${keelFlood.series} + 1 overflow`,
          keelFlood.overflowed.toLocaleString('en'),
          formatValue(mb(keelFlood.delta.total)),
          formatValue(keelFlood.delta.total / KEEL_DISTINCT),
          formatValue(keelFlood.ns),
        ],
        [
          'prom-client',
          PROM_DISTINCT.toLocaleString('en'),
          promFlood.series.toLocaleString('en'),
          'n/a (no cap)',
          formatValue(mb(promFlood.delta.total)),
          formatValue(promFlood.delta.total / PROM_DISTINCT),
          formatValue(promFlood.ns),
        ],
      ],
    ),
  );
  const projected = (promFlood.delta.total / PROM_DISTINCT) * KEEL_DISTINCT;
  console.log(
    `  prom-client was offered ${PROM_DISTINCT.toLocaleString('en')} values (not ${KEEL_DISTINCT.toLocaleString('en')}) to keep the run short; ` +
      `it grows linearly, so 10^6 would retain about ${formatValue(mb(projected))} MB (projection, not measured).`,
  );
  console.log(
    `  Keel /metrics after the flood: ${keelFlood.rendered} histogram series rendered (cap + overflow), ${keelFlood.textKB} KB.`,
  );

  return { keelEmpty, keelSteady, promSteady, keelFlood, promFlood };
}

function promHistogram() {
  const registry = new Registry();
  const histogram = new Histogram({
    name: 'http_server_request_duration_seconds',
    help: 'Duration of HTTP server requests.',
    labelNames: ['method', 'route', 'status'],
    buckets: BUCKETS_SECONDS,
    registers: [registry],
  });
  return { histogram, registry };
}

/**
 * Heap and ArrayBuffer growth across `load`, each side after a full GC.
 * `load` returns `keep`, held until after the second measurement so what it
 * built counts as retained; the rest of its result is passed through.
 * `inspect(keep)` runs after the measurement, for checks that allocate.
 */
async function measure(load, inspect) {
  settleHeap();
  const before = retainedBytes();
  const { keep, ...rest } = await load();
  settleHeap();
  const after = retainedBytes();
  const delta = {
    heap: after.heap - before.heap,
    buffers: after.buffers - before.buffers,
    total: after.total - before.total,
  };
  const extra = inspect ? await inspect(keep) : {};
  if (typeof keep.close === 'function') await keep.close();
  return { ...rest, ...extra, delta };
}

/** Runs one scenario in a fresh `node --expose-gc` and resolves with its result. */
function inChild(name) {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [], {
      execArgv: ['--expose-gc'],
      env: { ...process.env, KEEL_BENCH_MEMORY_SCENARIO: name },
    });
    let result;
    child.once('message', (message) => {
      result = message;
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0 && result) resolve(result);
      else reject(new Error(`memory scenario ${name} exited with code ${code}`));
    });
  });
}

// Child side: run the scenario named by the parent, report, let the process end.
const scenario = process.env.KEEL_BENCH_MEMORY_SCENARIO;
if (scenario && process.send) {
  if (!SCENARIOS[scenario]) throw new Error(`unknown memory scenario ${scenario}`);
  // Let start-up finish first (module loading, the IPC channel): what it frees
  // later would otherwise be subtracted from the scenario's figure.
  await new Promise((resolve) => setTimeout(resolve, 100));
  const result = await measure(...SCENARIOS[scenario]);
  process.send(result, () => process.disconnect());
}
