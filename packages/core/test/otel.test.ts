import { metrics as otelMetrics, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { KeelSpanProcessor, registerOtelMetrics, UNMATCHED_ROUTE } from '../src/index.js';
import { testKeel, traffic } from './helpers.js';

class TestReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

describe('OpenTelemetry bridge', () => {
  it('feeds SERVER and database CLIENT spans from any instrumentation into Keel signals', () => {
    const { keel } = testKeel();
    const provider = new BasicTracerProvider({ spanProcessors: [new KeelSpanProcessor(keel)] });
    const tracer = provider.getTracer('test');
    const t0 = Date.now();

    const server = tracer.startSpan('GET /users/:id', {
      kind: SpanKind.SERVER,
      startTime: t0,
      attributes: {
        'http.request.method': 'GET',
        'http.route': '/users/:id',
        'http.response.status_code': 503,
      },
    });
    server.end(t0 + 250);
    const unmatched = tracer.startSpan('GET', {
      kind: SpanKind.SERVER,
      startTime: t0,
      attributes: { 'http.request.method': 'GET', 'http.response.status_code': 404 },
    });
    unmatched.end(t0 + 1);
    const query = tracer.startSpan('SELECT', {
      kind: SpanKind.CLIENT,
      startTime: t0,
      attributes: {
        'db.system.name': 'postgresql',
        'db.query.text': 'select * from users where id = $1',
        'db.collection.name': 'users',
      },
    });
    query.setStatus({ code: SpanStatusCode.ERROR });
    query.end(t0 + 40);
    // Neither server nor database: ignored.
    tracer.startSpan('internal', { kind: SpanKind.INTERNAL }).end();

    expect(keel.http.series.map((s) => s.labelValues)).toEqual([
      ['GET', '/users/:id', '503', ''],
      ['GET', UNMATCHED_ROUTE, '404', ''],
    ]);
    expect(keel.http.series[0]!.sum).toBeCloseTo(250, 0);
    expect(keel.db.series.map((s) => s.labelValues)).toEqual([['SELECT', 'SELECT users']]);
    const slot = keel.db.series[0]!.group.ring.current;
    expect(slot.bad).toBe(1);
  });

  it('can leave HTTP spans to a Keel adapter', () => {
    const { keel } = testKeel();
    const processor = new KeelSpanProcessor(keel, { http: false });
    processor.onEnd({ kind: 1, attributes: { 'http.request.method': 'GET' }, duration: [0, 5e6] });
    expect(keel.http.seriesCount).toBe(0);
  });

  it('refuses an unknown span-processor option, naming it', () => {
    const { keel } = testKeel();
    expect(() => new KeelSpanProcessor(keel, { htpp: false } as never)).toThrowError(
      expect.objectContaining({ code: 'KEEL_INVALID_OPTION', message: expect.stringMatching(/`htpp`/) }),
    );
  });

  it('publishes the score, budgets and percentiles as observable gauges', async () => {
    const { keel, step } = testKeel();
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    const unregister = registerOtelMetrics(keel, provider.getMeter('keel'));
    traffic(keel, 1000, { slowShare: 0.5 });
    step(2);
    const { resourceMetrics } = await reader.collect();
    const all = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
    const byName = new Map(all.map((m) => [m.descriptor.name, m.dataPoints]));
    expect(byName.get('keel.health.score')![0]!.value).toBe(keel.health().score);
    const state = byName
      .get('keel.budget.state')!
      .find((p) => p.attributes['keel.budget'] === 'api_latency')!;
    expect(state.value).toBe(2);
    const p95 = byName
      .get('keel.signal.percentile')!
      .find(
        (p) =>
          p.attributes['keel.signal'] === 'http.server.request.duration' &&
          p.attributes['keel.percentile'] === '95',
      )!;
    expect(p95.value).toBeCloseTo(400, -1);
    unregister();
    await provider.shutdown();
  });

  it('costs nothing without an SDK: the global no-op meter never calls back', () => {
    const { keel } = testKeel();
    let calls = 0;
    const meter = otelMetrics.getMeter('keel');
    const original = keel.health.bind(keel);
    keel.health = () => {
      calls++;
      return original();
    };
    registerOtelMetrics(keel, meter);
    expect(calls).toBe(0);
  });
});
