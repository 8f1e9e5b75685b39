import type { SignalDefinition } from './signal.js';

// The signals every Keel records into, by name. Budgets, the vitals collector
// and the adapters name them from here, so none of them depends on another to
// know a signal.

export const HTTP_SIGNAL = 'http.server.request.duration';
export const DB_SIGNAL = 'db.client.operation.duration';
export const TTI_SIGNAL = 'web_vitals.tti';

/** The signal of each metric `@keel/web-vitals` sends. */
export const WEB_VITAL_SIGNALS = Object.freeze({
  TTI: TTI_SIGNAL,
  LCP: 'web_vitals.lcp',
  FCP: 'web_vitals.fcp',
  TTFB: 'web_vitals.ttfb',
  INP: 'web_vitals.inp',
  CLS: 'web_vitals.cls',
});

/** OpenTelemetry's recommended boundaries for request durations, in ms. */
export const LATENCY_BOUNDARIES: readonly number[] = [
  5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000,
];
const PAGE_LOAD_BOUNDARIES = [
  500, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 7500, 10000, 15000, 20000, 30000,
];

/** A built-in signal as `options.signals` would define it; `resolveSignals` applies the limits. */
export interface BuiltInSignal {
  readonly description: string;
  readonly unit?: SignalDefinition['unit'];
  readonly labels: readonly string[];
  readonly groupBy: string;
  readonly boundaries: readonly number[];
}

export const BUILT_IN_SIGNALS: Readonly<Record<string, BuiltInSignal>> = {
  [HTTP_SIGNAL]: {
    description: 'Duration of HTTP server requests.',
    // `keel_outcome` is empty (absent) when the app answered, and names why when Keel did.
    labels: ['http_request_method', 'http_route', 'http_response_status_code', 'keel_outcome'],
    groupBy: 'http_route',
    boundaries: LATENCY_BOUNDARIES,
  },
  [DB_SIGNAL]: {
    description: 'Duration of database client operations.',
    labels: ['db_operation_name', 'db_query_summary'],
    groupBy: 'db_query_summary',
    boundaries: LATENCY_BOUNDARIES,
  },
  [TTI_SIGNAL]: {
    description: 'Time To Interactive measured in real browsers.',
    labels: ['page_group'],
    groupBy: 'page_group',
    boundaries: PAGE_LOAD_BOUNDARIES,
  },
  // Boundaries include Google's "good" and "poor" thresholds of each metric.
  [WEB_VITAL_SIGNALS.LCP]: {
    description: 'Largest Contentful Paint measured in real browsers.',
    labels: ['page_group'],
    groupBy: 'page_group',
    boundaries: PAGE_LOAD_BOUNDARIES,
  },
  [WEB_VITAL_SIGNALS.FCP]: {
    description: 'First Contentful Paint measured in real browsers.',
    labels: ['page_group'],
    groupBy: 'page_group',
    boundaries: [...PAGE_LOAD_BOUNDARIES, 1800].sort((a, b) => a - b),
  },
  [WEB_VITAL_SIGNALS.TTFB]: {
    description: 'Time To First Byte of the page, measured in real browsers.',
    labels: ['page_group'],
    groupBy: 'page_group',
    boundaries: [100, 200, 400, 800, 1200, 1800, 2500, 5000, 10000],
  },
  [WEB_VITAL_SIGNALS.INP]: {
    description: 'Interaction to Next Paint measured in real browsers.',
    labels: ['page_group'],
    groupBy: 'page_group',
    boundaries: [25, 50, 100, 200, 300, 500, 750, 1000, 2000, 5000],
  },
  [WEB_VITAL_SIGNALS.CLS]: {
    description: 'Cumulative Layout Shift measured in real browsers (unitless).',
    unit: '1',
    labels: ['page_group'],
    groupBy: 'page_group',
    boundaries: [0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5],
  },
};
