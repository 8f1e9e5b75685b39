import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, metrics, propagation, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { Counter } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOtelMetricProducer, type Keel, KeelSpanProcessor, registerOtelTracing } from '../src/index.js';
import { readmeMetricNames, testKeel } from './helpers.js';

// OTLP/JSON as the exporter sends it (proto3 JSON: 64-bit integers may arrive as strings).
type AnyValue = { stringValue?: string; intValue?: number | string; doubleValue?: number };
interface KeyValue {
  key: string;
  value: AnyValue;
}
interface Point {
  attributes?: KeyValue[];
  asDouble?: number;
  asInt?: number | string;
  count?: number | string;
  sum?: number;
  bucketCounts?: (number | string)[];
  explicitBounds?: number[];
}
interface OtlpMetric {
  name: string;
  unit?: string;
  description?: string;
  histogram?: { dataPoints: Point[]; aggregationTemporality: number };
  gauge?: { dataPoints: Point[] };
  sum?: { dataPoints: Point[]; isMonotonic?: boolean; aggregationTemporality: number };
}
interface OtlpRequest {
  resourceMetrics: {
    resource: { attributes: KeyValue[] };
    scopeMetrics: { scope: { name: string }; metrics: OtlpMetric[] }[];
  }[];
}

/** A collector stand-in: takes OTLP/HTTP JSON posts at /v1/metrics and keeps them decoded. */
async function receiver(): Promise<{ server: Server; url: string; received: OtlpRequest[] }> {
  const received: OtlpRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/v1/metrics' && req.headers['content-type']?.startsWith('application/json'))
        received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

const attributeValue = (v: AnyValue) => v.stringValue ?? String(v.intValue ?? v.doubleValue);
const labelsOf = (attributes: KeyValue[] = []) =>
  Object.fromEntries(attributes.map((a) => [a.key.replace(/\./g, '_'), attributeValue(a.value)]));
const key = (labels: Record<string, string>) =>
  Object.entries(labels)
    .filter(([k]) => k !== 'le')
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');

/** `/metrics` text as samples: name → labels key → value, with `le` kept apart for buckets. */
function parseExposition(text: string) {
  const samples = new Map<string, Map<string, number>>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]),
    );
    const name = m[1]!;
    const id = labels.le === undefined ? key(labels) : `${key(labels)}|le=${labels.le}`;
    if (!samples.has(name)) samples.set(name, new Map());
    samples.get(name)!.set(id, Number(m[3]));
  }
  return samples;
}

/** `/metrics` families as its `# TYPE` lines declare them: name → type. */
function familiesOf(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
}

/** Sets environment variables while `fn` runs and puts back what was there before, absent ones included. */
async function withEnv(vars: Record<string, string>, fn: () => Promise<void>): Promise<void> {
  const before = Object.keys(vars).map((k) => [k, process.env[k]] as const);
  Object.assign(process.env, vars);
  try {
    await fn();
  } finally {
    for (const [k, v] of before) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/**
 * Traffic through every part of Keel that `/metrics` has a family for: requests (one shed),
 * queries (one rejected sample), a cache (hits, a miss, an eviction, a failed load), a breaker
 * held open (a rejected call), a dependency check, web-vitals beacons (accepted, censored,
 * malformed) over HTTP, and runtime samples. Ends one runtime sample after an evaluation, as a
 * collection between two evaluations would.
 */
async function allTraffic(keel: Keel, step: () => void, advance: (ms: number) => void): Promise<void> {
  keel.shedder.force('load test');
  for (let i = 0; i < 3; i++) {
    for (let n = 0; n < 30; n++) keel.recordRequest('GET', '/api/users/:id', 200, 3 + n * 9);
    for (let n = 0; n < 5; n++) keel.recordRequest('POST', '/api/orders', n === 0 ? 500 : 201, 120 + n);
    // What an adapter does when it sheds a request: count it, record Keel's own answer.
    keel.shedder.shed++;
    keel.recordRequest('GET', '/api/orders', 503, 0.4, 'shed');
    for (let n = 0; n < 12; n++) keel.recordQuery('SELECT', 'SELECT users', 2 + n);
    step();
  }
  keel.recordQuery('SELECT', 'SELECT users', Number.NaN);

  const users = keel.cache<string>({ name: 'users', max: 2, maxBytes: 10_000 });
  for (const id of ['1', '2', '1', '3']) await users.get(id, () => `user ${id}`);
  await users.get('4', () => Promise.reject(new Error('database down'))).catch(() => {});
  const inventory = keel.breaker({ name: 'inventory' });
  inventory.forceOpen('maintenance');
  await inventory.run(() => 'stock').catch(() => {});
  keel.addCheck({ name: 'postgres', check: () => true });
  await keel.runChecks();

  const server = createServer((req, res) => keel.vitals!.handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${keel.vitals!.path}`;
    const beacon = async (body: string) =>
      (
        await fetch(url, {
          method: 'POST',
          // What a browser on one of the app's own pages sends with `sendBeacon`.
          headers: { 'content-type': 'text/plain;charset=UTF-8', 'sec-fetch-site': 'same-origin' },
          body,
        })
      ).status;
    const page = (metrics: unknown[]) => JSON.stringify({ page: '/products/:id', metrics });
    expect(
      await beacon(
        page([
          { name: 'TTI', value: 2100 },
          { name: 'LCP', value: 1800 },
          { name: 'INP', value: 96 },
          { name: 'CLS', value: 0.04 },
          { name: 'FCP', value: 900 },
          { name: 'TTFB', value: 120 },
        ]),
      ),
    ).toBe(204);
    expect(await beacon(page([{ name: 'TTI', value: 4500, censored: true }]))).toBe(204);
    expect(await beacon('{not json')).toBe(400);
  } finally {
    await new Promise((r) => server.close(r));
  }
  step();
  advance(keel.config.runtime!.sampleInterval);
}

let collector: Awaited<ReturnType<typeof receiver>>;
beforeAll(async () => {
  collector = await receiver();
});
afterAll(async () => {
  await new Promise((r) => collector.server.close(r));
});

/**
 * `/metrics` families not sent over OTLP, and why. Everything else `/metrics` serves must arrive
 * with the same values, or the test fails.
 */
const NOT_EXPORTED: ReadonlyMap<string, string> = new Map([
  [
    // `/metrics` serves `keel.registry` after Keel's own series, but what is in it is the app's:
    // an app that exports OTLP records its own metrics with its own meter (`app.orders.placed` here).
    'app_orders_placed_total',
    "the app's prom-client metric in keel.registry",
  ],
]);

describe('OTLP export through the OpenTelemetry SDK', () => {
  it('sends every family /metrics has through NodeSDK: names and units of the README table, bucket boundaries, counts and values', async () => {
    const { keel, step, clock } = testKeel({
      minSamples: 5,
      hysteresis: 1,
      runtime: { sampleInterval: 1000 },
    });
    new Counter({ name: 'app_orders_placed_total', help: 'Orders placed.', registers: [keel.registry] }).inc(
      3,
    );
    await allTraffic(keel, step, (ms) => clock.advance(ms));
    // The collection comes one runtime sample after the last evaluation: /metrics serves that sample.
    expect(keel.runtimeSample!.sampledAt).toBeGreaterThan(keel.health().runtime!.sampledAt);

    // Set up as a user of Keel would: NodeSDK with Keel's producer on its metric reader, the
    // endpoint from OTEL_EXPORTER_OTLP_ENDPOINT, no auto-instrumentation; traces and logs off,
    // since this test is about metrics.
    let appProvider: unknown;
    let flushed = 0;
    await withEnv(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        OTEL_TRACES_EXPORTER: 'none',
        OTEL_LOGS_EXPORTER: 'none',
      },
      async () => {
        const reader = new PeriodicExportingMetricReader({
          exporter: new OTLPMetricExporter(),
          metricProducers: [createOtelMetricProducer(keel)],
        });
        const sdk = new NodeSDK({ serviceName: 'orders-api', metricReaders: [reader], instrumentations: [] });
        sdk.start();
        try {
          // The app's own instruments, through the global API the SDK registered, travel in the same export.
          appProvider = metrics.getMeterProvider();
          metrics.getMeter('app').createCounter('app.orders.placed').add(3);
          await reader.forceFlush();
          flushed = collector.received.length;
        } finally {
          await sdk.shutdown();
          // NodeSDK registers global providers, a context manager and a propagator, and its
          // shutdown leaves them registered: unregister them so later tests start clean.
          metrics.disable();
          trace.disable();
          propagation.disable();
          context.disable();
        }
      },
    );
    expect(metrics.getMeterProvider()).not.toBe(appProvider);
    // One export on the flush, one more on shutdown; cumulative temporality: the last holds everything.
    expect(flushed).toBe(1);
    expect(collector.received).toHaveLength(2);
    const last = collector.received.at(-1)!;
    const resource = last.resourceMetrics[0]!.resource;
    expect(resource.attributes).toContainEqual({ key: 'service.name', value: { stringValue: 'orders-api' } });
    const scopes = last.resourceMetrics.flatMap((r) => r.scopeMetrics);
    expect(scopes.flatMap((s) => s.metrics).some((m) => m.name === 'app.orders.placed')).toBe(true);
    const exported = new Map(
      scopes.filter((s) => s.scope.name === '@keel/core').flatMap((s) => s.metrics.map((m) => [m.name, m])),
    );

    const text = await keel.metrics();
    const exposition = parseExposition(text);
    const families = familiesOf(text);
    const table = new Map(readmeMetricNames().map((row) => [row.prometheus, row]));
    const checked = new Set<string>();
    for (const [family, type] of families) {
      if (NOT_EXPORTED.has(family)) {
        expect([...exported.keys()], family).not.toContain(family);
        continue;
      }
      // The OpenTelemetry name, unit and instrument the README table gives this family.
      const row = table.get(family);
      expect(row, `${family} is not in the README table`).toBeDefined();
      expect(row!.instrument, family).toBe(type);
      const m = exported.get(row!.otel);
      expect(m, `${family} → ${row!.otel} was not exported`).toBeDefined();
      expect(m!.unit ?? '', row!.otel).toBe(row!.unit);
      checked.add(row!.otel);

      if (type === 'histogram') {
        expect(m!.histogram!.aggregationTemporality).toBe(2); // AGGREGATION_TEMPORALITY_CUMULATIVE
        const buckets = exposition.get(`${family}_bucket`) ?? new Map<string, number>();
        const counts = exposition.get(`${family}_count`) ?? new Map<string, number>();
        const sums = exposition.get(`${family}_sum`) ?? new Map<string, number>();
        expect(counts.size, `${family} has no series: the traffic misses it`).toBeGreaterThan(0);
        expect(m!.histogram!.dataPoints).toHaveLength(counts.size);
        for (const p of m!.histogram!.dataPoints) {
          const id = key(labelsOf(p.attributes));
          expect(Number(p.count), `${family}{${id}}`).toBe(counts.get(id));
          expect(p.sum).toBeCloseTo(sums.get(id)!, 9);
          const les = [...buckets.keys()]
            .filter((k) => k.startsWith(`${id}|`))
            .map((k) => k.split('|le=')[1]!);
          expect(p.explicitBounds).toEqual(les.filter((le) => le !== '+Inf').map(Number));
          let cumulative = 0;
          p.bucketCounts!.forEach((c, i) => {
            cumulative += Number(c);
            expect(cumulative).toBe(buckets.get(`${id}|le=${les[i]}`));
          });
        }
        continue;
      }

      const samples = exposition.get(family) ?? new Map<string, number>();
      expect(samples.size, `${family} has no samples: the traffic misses it`).toBeGreaterThan(0);
      let points: Point[];
      if (type === 'counter') {
        expect(m!.sum, `${row!.otel} is a monotonic sum`).toMatchObject({
          isMonotonic: true,
          aggregationTemporality: 2,
        });
        points = m!.sum!.dataPoints;
      } else {
        expect(m!.gauge, `${row!.otel} is a gauge`).toBeDefined();
        points = m!.gauge!.dataPoints;
      }
      // proto3 JSON leaves out zeros.
      const values = new Map(
        points.map((p) => [key(labelsOf(p.attributes)), p.asDouble ?? Number(p.asInt ?? 0)]),
      );
      expect(values, family).toEqual(samples);
    }
    // Nothing exported that /metrics does not have.
    expect([...exported.keys()].filter((name) => !checked.has(name))).toEqual([]);

    // The traffic reached what it was meant to: a sample of the values that were compared above.
    expect(exposition.get('keel_http_requests_shed_total')!.get('')).toBe(3);
    expect(exposition.get('keel_shedding')!.get('')).toBe(1);
    expect(exposition.get('keel_signal_rejected_total')!.get('signal=db.client.operation.duration')).toBe(1);
    expect(exposition.get('keel_cache_evictions_total')!.get('cache=users')).toBeGreaterThan(0);
    expect(exposition.get('keel_cache_loads_total')!.get('cache=users,outcome=error')).toBe(1);
    expect(exposition.get('keel_circuit_breaker_rejected_total')!.get('breaker=inventory')).toBe(1);
    expect(exposition.get('keel_web_vitals_beacons_total')!.get('outcome=accepted')).toBe(2);
    expect(exposition.get('keel_web_vitals_beacons_total')!.get('outcome=malformed')).toBe(1);
    expect(exposition.get('keel_web_vitals_tti_censored_total')!.get('recorded=true')).toBe(1);
    const states = exposition.get('keel_budget_state')!;
    expect([...states.entries()].some(([k, v]) => k.includes('state=breached') && v === 1)).toBe(true);

    // Attributes under the semantic conventions: the shed request's series.
    const shed = exported
      .get('http.server.request.duration')!
      .histogram!.dataPoints.find((p) => p.attributes?.some((a) => a.key === 'keel.outcome'))!;
    expect(shed.attributes).toEqual(
      expect.arrayContaining([
        { key: 'http.route', value: { stringValue: '/api/orders' } },
        { key: 'http.response.status_code', value: { intValue: 503 } },
        { key: 'keel.outcome', value: { stringValue: 'shed' } },
      ]),
    );
    expect(exported.get('db.client.operation.duration')!.histogram!.dataPoints[0]!.explicitBounds).toEqual([
      0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
    ]);
    await keel.close();
  });
});

describe('tracing: what Keel decided, on the active span', () => {
  it('marks a self-answer on the request span, and server spans started during a breach', async () => {
    const manager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(manager);
    const { keel, step } = testKeel({ minSamples: 5, hysteresis: 1 });
    const spans = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      spanProcessors: [
        new KeelSpanProcessor(keel, { http: false, db: false }),
        new SimpleSpanProcessor(spans),
      ],
    });
    const tracer = provider.getTracer('test');
    const stop = registerOtelTracing(keel, trace);
    try {
      // A request Keel sheds, recorded while its server span is active.
      tracer.startActiveSpan('GET /api/orders', { kind: SpanKind.SERVER }, (span) => {
        keel.recordRequest('GET', '/api/orders', 503, 0.3, 'shed');
        span.end();
      });
      // An ordinary answer adds nothing.
      tracer.startActiveSpan('GET /api/users', { kind: SpanKind.SERVER }, (span) => {
        keel.recordRequest('GET', '/api/users', 200, 10);
        span.end();
      });
      // Breach api_latency, then start a request.
      for (let n = 0; n < 30; n++) keel.recordRequest('GET', '/slow', 200, 900);
      step();
      expect(keel.health().budgets.find((b) => b.name === 'api_latency')!.state).toBe('breached');
      tracer.startActiveSpan('GET /slow', { kind: SpanKind.SERVER }, (span) => span.end());

      const [shed, ordinary, during] = spans.getFinishedSpans();
      expect(shed!.attributes['keel.outcome']).toBe('shed');
      expect(shed!.events.map((e) => [e.name, e.attributes])).toEqual([
        [
          'keel.self_answer',
          { 'keel.outcome': 'shed', 'http.route': '/api/orders', 'http.response.status_code': 503 },
        ],
      ]);
      expect(ordinary!.attributes['keel.outcome']).toBeUndefined();
      expect(ordinary!.events).toEqual([]);
      expect(ordinary!.attributes['keel.budgets.breached']).toBeUndefined();
      expect(during!.attributes['keel.budgets.breached']).toEqual(expect.arrayContaining(['api_latency']));
    } finally {
      stop();
      await provider.shutdown();
      context.disable();
    }
  });
});
