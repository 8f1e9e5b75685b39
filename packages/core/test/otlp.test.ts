import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createOtelMetricProducer,
  KeelSpanProcessor,
  prometheusName,
  registerOtelTracing,
} from '../src/index.js';
import { testKeel } from './helpers.js';

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

let collector: Awaited<ReturnType<typeof receiver>>;
beforeAll(async () => {
  collector = await receiver();
});
afterAll(async () => {
  await new Promise((r) => collector.server.close(r));
});

describe('OTLP export through the OpenTelemetry SDK', () => {
  it('sends what /metrics has: same names, units, bucket boundaries and counts, budget states, burn rates, score', async () => {
    const { keel, step } = testKeel({ minSamples: 5, hysteresis: 1 });
    for (let i = 0; i < 3; i++) {
      for (let n = 0; n < 30; n++) keel.recordRequest('GET', '/api/users/:id', 200, 3 + n * 9);
      for (let n = 0; n < 5; n++) keel.recordRequest('POST', '/api/orders', n === 0 ? 500 : 201, 120 + n);
      keel.recordRequest('GET', '/api/orders', 503, 0.4, 'shed');
      for (let n = 0; n < 12; n++) keel.recordQuery('SELECT', 'SELECT users', 2 + n);
      step();
    }

    // As a user would: the endpoint from OTEL_EXPORTER_OTLP_ENDPOINT, Keel's producer on the reader.
    const before = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = collector.url;
    const reader = new PeriodicExportingMetricReader({
      exporter: new OTLPMetricExporter(),
      exportIntervalMillis: 60_000,
      metricProducers: [createOtelMetricProducer(keel)],
    });
    if (before === undefined) delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    else process.env.OTEL_EXPORTER_OTLP_ENDPOINT = before;
    const provider = new MeterProvider({ readers: [reader] });
    // The app's own instruments travel in the same export.
    provider.getMeter('app').createCounter('app.orders').add(1);
    await reader.forceFlush();
    await provider.shutdown();

    expect(collector.received.length).toBeGreaterThan(0);
    const metrics = collector.received
      .flatMap((r) => r.resourceMetrics)
      .flatMap((r) => r.scopeMetrics)
      .flatMap((s) => s.metrics);
    const byName = new Map(metrics.map((m) => [m.name, m]));
    expect(byName.has('app.orders')).toBe(true);
    const exposition = parseExposition(await keel.metrics());

    // Histograms: one per signal, seconds, /metrics' boundaries, the same cumulative counts per series.
    for (const signal of keel.signals) {
      const m = byName.get(signal.definition.name);
      expect(m, signal.definition.name).toBeDefined();
      const prom = prometheusName(signal.definition);
      const expectedUnit = signal.definition.unit === 'ms' ? 's' : signal.definition.unit;
      expect(m!.unit).toBe(expectedUnit);
      expect(m!.histogram!.aggregationTemporality).toBe(2); // AGGREGATION_TEMPORALITY_CUMULATIVE
      const buckets = exposition.get(`${prom}_bucket`) ?? new Map();
      const counts = exposition.get(`${prom}_count`) ?? new Map();
      const sums = exposition.get(`${prom}_sum`) ?? new Map();
      const seriesWithSamples = [...counts.values()].filter((c) => c > 0).length;
      expect(m!.histogram!.dataPoints).toHaveLength(seriesWithSamples);
      for (const p of m!.histogram!.dataPoints) {
        const id = key(labelsOf(p.attributes));
        expect(Number(p.count)).toBe(counts.get(id));
        expect(p.sum).toBeCloseTo(sums.get(id)!, 9);
        const les = [...buckets.keys()].filter((k) => k.startsWith(`${id}|`)).map((k) => k.split('|le=')[1]!);
        expect(p.explicitBounds).toEqual(les.filter((le) => le !== '+Inf').map(Number));
        let cumulative = 0;
        p.bucketCounts!.forEach((c, i) => {
          cumulative += Number(c);
          expect(cumulative).toBe(buckets.get(`${id}|le=${les[i]}`));
        });
      }
    }
    const http = byName.get('http.server.request.duration')!;
    expect(http.histogram!.dataPoints.length).toBe(4);
    const shed = http.histogram!.dataPoints.find((p) => p.attributes?.some((a) => a.key === 'keel.outcome'))!;
    expect(shed.attributes).toEqual(
      expect.arrayContaining([
        { key: 'http.route', value: { stringValue: '/api/orders' } },
        { key: 'http.response.status_code', value: { intValue: 503 } },
        { key: 'keel.outcome', value: { stringValue: 'shed' } },
      ]),
    );
    expect(byName.get('db.client.operation.duration')!.histogram!.dataPoints[0]!.explicitBounds).toEqual([
      0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
    ]);

    // Gauges and counters: the same values under their OpenTelemetry names.
    const gauge = (name: string) => byName.get(name)!.gauge!.dataPoints;
    expect(gauge('keel.health.score')[0]!.asDouble).toBe(exposition.get('keel_health_score')!.get(''));
    const states = exposition.get('keel_budget_state')!;
    expect(gauge('keel.budget.state')).toHaveLength(states.size);
    for (const p of gauge('keel.budget.state'))
      expect(p.asDouble ?? 0).toBe(states.get(key(labelsOf(p.attributes))));
    expect([...states.entries()].some(([k, v]) => k.includes('state=breached') && v === 1)).toBe(true);
    const burn = exposition.get('keel_budget_burn_rate')!;
    expect(gauge('keel.budget.burn_rate')).toHaveLength(burn.size);
    for (const p of gauge('keel.budget.burn_rate'))
      expect(p.asDouble ?? 0).toBeCloseTo(burn.get(key(labelsOf(p.attributes)))!, 9);
    const used = byName.get('keel.budget.error_budget_used')!;
    expect(used.unit).toBe('1');
    const shedTotal = byName.get('keel.http.requests_shed')!;
    expect(shedTotal.sum!.isMonotonic).toBe(true);
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
