import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HTTP_SIGNAL } from '@keel/core';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { keel, project } from './helpers.js';

const config = {
  service: 'shop',
  budgets: {
    api_latency: { target: 300 },
    checkout: { kind: 'latency', signal: HTTP_SIGNAL, group: '/checkout', percentile: 99, target: 800 },
  },
  prometheus: { period: 28 * 86_400_000 },
};

describe('keel slo (OpenSLO v1)', () => {
  it('exports one SLO per budget and imports them back as the same budgets', async () => {
    const dir = project({ 'keel.config.json': config });
    expect((await keel(['slo', 'export'], dir)).code).toBe(0);
    const file = join(dir, 'deploy/openslo/openslo.yaml');
    const docs = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS());
    expect(docs).toHaveLength(9);
    const latency = docs.find((d) => d.metadata.name === 'shop-api-latency');
    expect(latency).toMatchObject({
      apiVersion: 'openslo/v1',
      kind: 'SLO',
      spec: {
        service: 'shop',
        timeWindow: [{ duration: '28d', isRolling: true }],
        budgetingMethod: 'Occurrences',
        objectives: [{ target: 0.95 }],
        indicator: {
          spec: {
            ratioMetric: {
              counter: true,
              good: {
                metricSource: {
                  type: 'Prometheus',
                  spec: { query: 'http_server_request_duration_seconds_bucket{job="shop",le="0.3"}' },
                },
              },
            },
          },
        },
      },
    });
    const { code, stdout } = await keel(['slo', 'import', file, '--json'], dir);
    expect(code).toBe(0);
    const imported = JSON.parse(stdout).result.config;
    expect(imported.service).toBe('shop');
    expect(imported.prometheus).toEqual({ period: 28 * 86_400_000 });
    expect(imported.budgets.api_latency).toEqual({
      kind: 'latency',
      signal: HTTP_SIGNAL,
      target: 300,
      percentile: 95,
    });
    expect(imported.budgets.checkout).toEqual(config.budgets.checkout);
    const text = await keel(['slo', 'import', file], dir);
    expect(text.stdout).toMatch(
      /^import \{ defineConfig \} from '@keel\/core';\n\nexport default defineConfig\(\{/,
    );
    // Import prints; it writes no file, so --out and --check are refused rather than ignored.
    for (const flag of [['--out', 'elsewhere'], ['--check']]) {
      const refused = await keel(['slo', 'import', file, ...flag], dir);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(
        /^error: keel slo import writes no files: --out and --check do not apply/,
      );
    }
  });

  it('imports ratio and threshold SLOs written for Keel metrics by hand; lists the ones it cannot measure (exit 3)', async () => {
    const slo = (name: string, indicator: object, objective: object) => ({
      apiVersion: 'openslo/v1',
      kind: 'SLO',
      metadata: { name },
      spec: {
        service: 'shop',
        indicator: { metadata: { name }, spec: indicator },
        timeWindow: [{ duration: '30d', isRolling: true }],
        budgetingMethod: 'Occurrences',
        objectives: [objective],
      },
    });
    const q = (query: string) => ({ metricSource: { type: 'Prometheus', spec: { query } } });
    const text = [
      slo(
        'search-latency',
        {
          ratioMetric: {
            counter: true,
            good: q('http_server_request_duration_seconds_bucket{job="shop",http_route="/search",le="0.5"}'),
            total: q('http_server_request_duration_seconds_count{job="shop",http_route="/search"}'),
          },
        },
        { target: 0.99 },
      ),
      slo(
        'errors',
        {
          ratioMetric: {
            counter: true,
            bad: q('http_server_request_duration_seconds_count{job="shop",http_response_status_code=~"5.."}'),
            total: q('http_server_request_duration_seconds_count{job="shop"}'),
          },
        },
        { target: 0.995 },
      ),
      slo(
        'db-p90',
        {
          thresholdMetric: q(
            'histogram_quantile(0.9, sum by (le) (rate(db_client_operation_duration_seconds_bucket[5m])))',
          ),
        },
        { op: 'lte', value: 0.05, target: 0.99 },
      ),
      slo(
        'queue-depth',
        { thresholdMetric: q('max(rabbitmq_queue_messages)') },
        { op: 'lte', value: 100, target: 0.99 },
      ),
    ]
      .map((d) => stringify(d))
      .join('---\n');
    const dir = project({ 'slos.yaml': text });
    const { code, stdout, stderr } = await keel(['slo', 'import', 'slos.yaml', '--json'], dir);
    expect(code).toBe(3);
    const out = JSON.parse(stdout);
    expect(out.result.config.budgets).toEqual({
      search_latency: { kind: 'latency', signal: HTTP_SIGNAL, percentile: 99, target: 500, group: '/search' },
      errors: { kind: 'error_rate', signal: HTTP_SIGNAL, target: 0.5 },
      db_p90: { kind: 'latency', signal: 'db.client.operation.duration', percentile: 90, target: 50 },
    });
    expect(out.incomplete).toEqual([expect.stringMatching(/^SLO queue-depth not imported: /)]);
    expect(stderr).toContain('warning: db-p90: Keel judges p90 over requests');
  });

  it('refuses two SLOs with one name, and an objective Keel cannot hold (exit 2)', async () => {
    const doc = (name: string, target: number) =>
      stringify({
        apiVersion: 'openslo/v1',
        kind: 'SLO',
        metadata: { name },
        spec: {
          indicator: {
            spec: {
              ratioMetric: {
                counter: true,
                bad: {
                  metricSource: {
                    spec: {
                      query: 'http_server_request_duration_seconds_count{http_response_status_code=~"5.."}',
                    },
                  },
                },
                total: { metricSource: { spec: { query: 'http_server_request_duration_seconds_count' } } },
              },
            },
          },
          objectives: [{ target }],
        },
      });
    const twice = await keel(
      ['slo', 'import', 'x.yaml'],
      project({ 'x.yaml': `${doc('errors', 0.99)}---\n${doc('errors', 0.999)}` }),
    );
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/^error: KEEL_INVALID_OPTION: .*`budgets\.errors` is defined twice/);
    const perfect = await keel(['slo', 'import', 'x.yaml'], project({ 'x.yaml': doc('errors', 1) }));
    expect(perfect.code).toBe(2);
    expect(perfect.stderr).toContain('`budgets.errors.target`');
  });
});
