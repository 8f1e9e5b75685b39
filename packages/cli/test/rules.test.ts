import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync as writeFile } from 'node:fs';
import { join } from 'node:path';
import { createKeel, HTTP_SIGNAL, resolveConfigFile } from '@keel/core';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { expectRulesPass, promtoolAvailable } from '../../../scripts/test/support/promtool.js';
import { prometheusRules } from '../src/index.js';
import { keel, project, SERVER_BUDGETS } from './helpers.js';

const promtoolMissing = !promtoolAvailable('the promtool checks of keel rules');

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

function rulesOf(dir: string): Rule[] {
  const file = parse(readFileSync(join(dir, 'deploy/prometheus/keel-rules.yaml'), 'utf8')) as {
    groups: { rules: Rule[] }[];
  };
  return file.groups.flatMap((g) => g.rules);
}

describe('keel rules', () => {
  it('names recorded series level:metric:operations, one per window of the alerts and the period', async () => {
    const dir = project({ 'keel.config.json': { service: 'shop', budgets: SERVER_BUDGETS } });
    expect((await keel(['rules'], dir)).code).toBe(0);
    const records = rulesOf(dir).flatMap((r) => (r.record ? [r.record] : []));
    for (const name of records) expect(name).toMatch(/^[a-z_]+:[a-z_]+:[a-z_0-9]+$/);
    const windows = ['5m', '30m', '1h', '2h', '6h', '1d', '3d', '30d'];
    for (const w of windows) expect(records).toContain(`job:keel_sli_error:ratio_rate${w}`);
    expect(records).toContain('instance:keel_sli_error:ratio_rate5m');
    expect(records).toContain('job:keel_error_budget_remaining:ratio');
    expect(records).toContain('keel_budget:objective:ratio');
  });

  it('judges latency at the exact le bucket Keel exports, never with histogram_quantile', async () => {
    const dir = project({
      'keel.config.json': { budgets: { ...SERVER_BUDGETS, api_latency: { target: 300 } } },
    });
    await keel(['rules'], dir);
    const exprs = rulesOf(dir)
      .map((r) => r.expr)
      .join('\n');
    expect(exprs).not.toContain('histogram_quantile');
    // 300 ms is not a default boundary: Keel adds the target, and the rules read that bucket.
    const keelApp = createKeel({ runtime: false, budgets: { api_latency: { target: 300 } } });
    keelApp.recordRequest('GET', '/x', 200, 5);
    expect(await keelApp.metrics()).toContain('le="0.3"}');
    await keelApp.close();
    expect(exprs).toContain('http_server_request_duration_seconds_bucket{job="app",le="0.3"}');
    expect(exprs).toContain('db_client_operation_duration_seconds_bucket{job="app",le="0.1"}');
  });

  it("counts Keel's own 503s (shed, circuit open) as failures of availability and error rate", async () => {
    const app = createKeel({ runtime: false });
    app.recordRequest('GET', '/x', 503, 1, 'shed');
    app.recordRequest('GET', '/x', 503, 1, 'circuit_open');
    const lines = (await app.metrics())
      .split('\n')
      .filter((l) => l.startsWith('http_server_request_duration_seconds_count'));
    await app.close();
    const { groups } = prometheusRules(resolveConfigFile({ budgets: SERVER_BUDGETS }));
    const errorRate = groups.find((g) => g.name.endsWith('-error_rate'))!.rules[0]!.expr;
    const matcher = /http_response_status_code=~"([^"]+)"/.exec(errorRate)![1]!;
    for (const outcome of ['shed', 'circuit_open']) {
      const line = lines.find((l) => l.includes(`keel_outcome="${outcome}"`))!;
      const status = /http_response_status_code="(\d+)"/.exec(line)![1]!;
      expect(status).toMatch(new RegExp(`^(?:${matcher})$`));
    }
  });

  it('scales every window down through the config (seconds for tests)', async () => {
    const dir = project({
      'keel.config.json': {
        window: { interval: 1000, length: 10_000 },
        burnRateWindows: [{ short: 10_000, long: 60_000, factor: 14.4 }],
        budgets: SERVER_BUDGETS,
        prometheus: { period: 120_000, ticketWindows: [{ short: 20_000, long: 120_000, factor: 3 }] },
      },
    });
    const { code, stdout } = await keel(['rules', '--json'], dir);
    expect(code).toBe(0);
    expect(JSON.parse(stdout).result.windows).toEqual(['10s', '20s', '1m', '2m']);
    const alerts = rulesOf(dir).filter((r) => r.alert === 'KeelErrorRateBudgetBurn');
    expect(alerts.map((a) => a.labels)).toEqual([
      { severity: 'page', short: '10s', long: '1m' },
      { severity: 'ticket', short: '20s', long: '2m' },
    ]);
    expect(alerts[0]!.expr).toContain(
      'job:keel_sli_error:ratio_rate10s{job="app",budget="error_rate"} >= (14.4 * 0.001)',
    );
  });

  it('writes per-route alerts for a budget split per route, and route labels for one fixed to a route', async () => {
    const dir = project({
      'keel.config.json': {
        budgets: {
          ...SERVER_BUDGETS,
          checkout: { kind: 'latency', signal: HTTP_SIGNAL, group: '/checkout', target: 500 },
        },
        prometheus: { perGroup: ['api_latency'], runbookUrl: 'https://runbooks.example.com/shop' },
      },
    });
    await keel(['rules'], dir);
    const rules = rulesOf(dir);
    const perRoute = rules.find((r) => r.record === 'job_http_route:keel_sli_error:ratio_rate5m');
    expect(perRoute?.expr).toContain('sum by (job, http_route)');
    const alert = rules.find((r) => r.alert === 'KeelApiLatencyBudgetBurn')!;
    expect(alert.annotations!.summary).toContain('{{ $labels.http_route }}');
    expect(alert.annotations!.runbook_url).toBe('https://runbooks.example.com/shop#api_latency');
    const fixed = rules.find(
      (r) => r.record === 'job:keel_sli_error:ratio_rate5m' && r.labels?.budget === 'checkout',
    );
    expect(fixed?.labels).toMatchObject({ http_route: '/checkout' });
    expect(fixed?.expr).toContain('http_route="/checkout"');
  });

  it.skipIf(promtoolMissing)(
    'writes rules promtool accepts without warnings, and tests of its own that promtool passes',
    async () => {
      const dir = project({
        'keel.config.json': {
          http: { clientErrorsAreErrors: true },
          budgets: {
            ...SERVER_BUDGETS,
            checkout: { kind: 'latency', signal: HTTP_SIGNAL, group: '/checkout', target: 500 },
          },
          prometheus: { perGroup: ['api_latency'] },
        },
      });
      expect((await keel(['rules'], dir)).code).toBe(0);
      const cwd = join(dir, 'deploy/prometheus');
      expectRulesPass(cwd);
      // The tests assert alerts both ways: at some checks an alert fires, at others none does.
      const tests = parse(readFileSync(join(cwd, 'keel-rules.page.test.yaml'), 'utf8')) as {
        tests: { alert_rule_test: { exp_alerts: unknown[] }[] }[];
      };
      const checks = tests.tests.flatMap((t) => t.alert_rule_test);
      expect(checks.some((c) => c.exp_alerts.length > 0)).toBe(true);
      expect(checks.some((c) => c.exp_alerts.length === 0)).toBe(true);
    },
    120_000,
  );

  it.skipIf(promtoolMissing)(
    'fails its own promtool tests when an alert is wrong (the tests can fail)',
    async () => {
      const dir = project({
        'keel.config.json': {
          budgets: { ...SERVER_BUDGETS, api_latency: false, db_latency: false, availability: false },
        },
      });
      await keel(['rules'], dir);
      const cwd = join(dir, 'deploy/prometheus');
      const file = join(cwd, 'keel-rules.yaml');
      // A page threshold ten times too high: the fast burn no longer pages when the tests say it must.
      writeFile(file, readFileSync(file, 'utf8').replace('>= (14.4 * 0.001)', '>= (144 * 0.001)'));
      const test = spawnSync('promtool', ['test', 'rules', 'keel-rules.page.test.yaml'], {
        cwd,
        encoding: 'utf8',
      });
      expect(test.status).toBe(1);
      expect(test.stdout + test.stderr).toContain('KeelErrorRateBudgetBurn');
    },
    60_000,
  );

  it('--format prometheus-operator writes a PrometheusRule that validates against its CRD schema', async () => {
    const dir = project({
      'keel.config.json': {
        budgets: SERVER_BUDGETS,
        kubernetes: { namespace: 'shop' },
        prometheus: { ruleLabels: { release: 'prom' } },
      },
    });
    const { code, stdout } = await keel(['rules', '--format', 'prometheus-operator'], dir);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^written +deploy\/prometheus\/keel-prometheusrule\.yaml$/m);
    const object = parse(readFileSync(join(dir, 'deploy/prometheus/keel-prometheusrule.yaml'), 'utf8'));
    expect(() => new PrometheusRule(object).validate()).not.toThrow();
    expect(object.metadata).toMatchObject({
      name: 'app-keel',
      namespace: 'shop',
      labels: { release: 'prom' },
    });
    expect(object.spec.groups).toEqual(
      prometheusRules(resolveConfigFile({ budgets: SERVER_BUDGETS, kubernetes: { namespace: 'shop' } }))
        .groups,
    );
    expect((await keel(['rules', '--format', 'nope'], dir)).code).toBe(2);
  });
});
