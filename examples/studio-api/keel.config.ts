import { defineConfig, HTTP_SIGNAL } from '@keel/core';

/**
 * studio-api's budgets and what runs around it, in one file: src/main.ts
 * passes it to createKeel(), and `pnpm generate` (the keel CLI) turns the same
 * budgets into Prometheus rules and alerts, Kubernetes objects and a Grafana
 * dashboard under deploy/.
 */
export default defineConfig({
  service: 'studio-api',
  budgets: {
    // The five defaults (availability, api_latency, page_load, error_rate, db_latency) and the
    // Core Web Vitals stay on; one more, for one route: a user lookup is fast or it is broken.
    user_lookup_latency: {
      kind: 'latency',
      signal: HTTP_SIGNAL,
      group: '/api/users/:id',
      percentile: 99,
      target: 100,
    },
  },
  // What capacity costs: scaling advice in /health and the dashboard, the monitor's pool resizes and
  // `keel k8s`'s replica bounds state their monthly price (KEEL_COST_* and KEEL_INSTANCES override it).
  cost: { instanceHourly: 0.05, currency: 'USD', dbConnectionHourly: 0.002, instances: 2 },
  // The optimisation loop looks for bottlenecks as soon as a route's p95 misses the API budget
  // (the default waits for 1000 ms): see "Find and fix a slow route" in the README.
  optimise: { triggerMs: 200 },
  // What Kubernetes waits for on a rolling update: readiness 503, 5 s for the endpoint to be
  // removed, up to 10 s for requests in flight, then the cleanups (pool, database).
  shutdown: { preStopDelay: 5000, drainTimeout: 10_000, cleanupTimeout: 5000 },
  prometheus: {
    runbookUrl: 'https://runbooks.example.com/studio-api',
    alertLabels: { team: 'studio' },
    ruleLabels: { release: 'kube-prometheus-stack' },
  },
  kubernetes: {
    namespace: 'studio',
    image: 'registry.example.com/studio-api:1.0.0',
    port: 3000,
    replicas: { min: 2, max: 8 },
    scaleOn: { budget: 'api_latency', target: 1 },
  },
});
