import type { BudgetChangeEvent } from '../budgets/budget.js';
import type { KeelEvents, SelfAnswerEvent } from '../health/report.js';

/** The few span methods Keel calls (any `@opentelemetry/api` 1.x `Span` fits). */
export interface SpanLike {
  setAttribute(key: string, value: string | number | boolean | string[]): unknown;
  addEvent(name: string, attributes?: Record<string, string | number | boolean | string[]>): unknown;
}

/** `trace` of `@opentelemetry/api`, as far as Keel uses it. */
export interface TraceApiLike {
  getActiveSpan(): SpanLike | undefined;
}

/** What `registerOtelTracing` listens to: a Keel. */
export interface OtelTracingSource {
  on<K extends keyof KeelEvents>(event: K, listener: (payload: KeelEvents[K]) => void): () => void;
  reportError(where: string, error: unknown): void;
}

/**
 * Tells the app's traces what Keel decided: when Keel answers a request
 * itself (shed, an open circuit, not ready, cut off), the request's active
 * span gets `keel.outcome` and a `keel.self_answer` event; when a budget
 * changes state, the span active at that moment (if any) gets a
 * `keel.budget.<state>` event. Spans started while budgets are breached get
 * `keel.budgets.breached` from `KeelSpanProcessor`. Costs nothing per request
 * that Keel does not answer itself. Returns a function that stops it.
 *
 * @example
 * import { trace } from '@opentelemetry/api';
 * registerOtelTracing(keel, trace);
 */
export function registerOtelTracing(keel: OtelTracingSource, trace: TraceApiLike): () => void {
  const safely =
    <T>(where: string, fn: (payload: T) => void) =>
    (payload: T) => {
      try {
        fn(payload);
      } catch (error) {
        keel.reportError(where, error);
      }
    };
  const offs = [
    keel.on(
      'answer',
      safely('otel-tracing', (a: SelfAnswerEvent) => {
        const span = trace.getActiveSpan();
        if (!span) return;
        span.setAttribute('keel.outcome', a.outcome);
        span.addEvent('keel.self_answer', {
          'keel.outcome': a.outcome,
          'http.route': a.route,
          'http.response.status_code': a.status,
        });
      }),
    ),
    keel.on(
      'budget',
      safely('otel-tracing', (e: BudgetChangeEvent) => {
        trace.getActiveSpan()?.addEvent(`keel.budget.${e.to}`, {
          'keel.budget': e.budget,
          'keel.budget.from': e.from,
          'keel.budget.value': e.snapshot.value ?? -1,
          'keel.budget.target': e.snapshot.target,
        });
      }),
    ),
  ];
  return () => {
    for (const off of offs.splice(0)) off();
  };
}

/** Names of the budgets breached now, kept up to date from `budget` events (for span processors). */
export class BreachedBudgets {
  readonly names: string[] = [];

  update(e: BudgetChangeEvent): void {
    const i = this.names.indexOf(e.budget);
    if (e.to === 'breached' && i < 0) this.names.push(e.budget);
    else if (e.to !== 'breached' && i >= 0) this.names.splice(i, 1);
  }
}
