import { PanelBuilder as BarGaugePanel } from '@grafana/grafana-foundation-sdk/bargauge';
import {
  type Dashboard,
  DashboardBuilder,
  DatasourceVariableBuilder,
  MappingType,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as StateTimelinePanel } from '@grafana/grafana-foundation-sdk/statetimeline';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import { bucketLabel, HTTP_SIGNAL, KEEL_METRICS, type KeelFileConfig, prometheusName } from '@keel/core';
import { seconds } from '../rules/duration.js';
import { REMAINING_RECORD } from '../rules/rule-groups.js';
import { matchersOf, planSlis, SLI_ERROR_RATIO } from '../rules/sli.js';

// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax (the data source the viewer picks)
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

function target(expr: string, legend: string, refId = 'A') {
  return new DataqueryBuilder().datasource(DATASOURCE).expr(expr).legendFormat(legend).refId(refId);
}

/**
 * A Grafana dashboard over what Keel exports and `keel rules` records: the
 * health score, each budget's state, its burn rate per recorded window, the
 * error budget left over the SLO period, and latency per route (from the
 * buckets; the budget itself is judged at its exact `le` bucket).
 */
export function grafanaDashboard(config: KeelFileConfig): Dashboard {
  const { keel, prometheus } = config;
  const sel = matchersOf(prometheus.selector);
  const slis = planSlis(config).flatMap((p) => (p.supported ? [p.sli] : []));
  const interval = `${seconds(keel.interval)}s`;

  const builder = new DashboardBuilder(`${keel.service}: Keel budgets`)
    .uid(`keel-${keel.service}`.slice(0, 40))
    .tags(['keel', keel.service])
    .refresh(interval)
    .time({ from: 'now-6h', to: 'now' })
    .timezone('browser')
    .withVariable(new DatasourceVariableBuilder('datasource').label('Prometheus').type('prometheus'));

  builder.withRow(new RowBuilder('Health'));
  builder.withPanel(
    new StatPanel()
      .title('Health score (lowest instance)')
      .description('0 (down) to 10 (every budget met, resources fine); healthy from 8.')
      .withTarget(target(`min(${KEEL_METRICS.healthScore}{${sel}})`, 'score'))
      .min(0)
      .max(10)
      .thresholds(
        new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([
          { value: null, color: 'red' },
          { value: 5, color: 'orange' },
          { value: 8, color: 'green' },
        ]),
      )
      .span(6),
  );
  builder.withPanel(
    new TimeseriesPanel()
      .title('Health score per instance')
      .withTarget(target(`${KEEL_METRICS.healthScore}{${sel}}`, '{{instance}}'))
      .min(0)
      .max(10)
      .span(18),
  );
  builder.withPanel(
    new StateTimelinePanel()
      .title('Budget states (worst instance)')
      .description('ok, at risk (over 80 % of the error budget used, or a burn-rate alert), breached.')
      .withTarget(
        target(
          `max by (budget) (${KEEL_METRICS.budgetState}{${sel},state="breached"}) * 2 + max by (budget) (${KEEL_METRICS.budgetState}{${sel},state="at_risk"})`,
          '{{budget}}',
        ),
      )
      .mappings([
        {
          type: MappingType.ValueToText,
          options: {
            '0': { text: 'ok', color: 'green', index: 0 },
            '1': { text: 'at risk', color: 'orange', index: 1 },
            '2': { text: 'breached', color: 'red', index: 2 },
          },
        },
      ])
      .span(24),
  );

  builder.withRow(new RowBuilder('Error budgets'));
  builder.withPanel(
    new BarGaugePanel()
      .title(`Error budget remaining over ${promDurationLabel(prometheus.period)}`)
      .withTarget(target(`job:${REMAINING_RECORD}{${sel}}`, '{{budget}}'))
      .unit('percentunit')
      .max(1)
      .thresholds(
        new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([
          { value: null, color: 'red' },
          { value: 0, color: 'orange' },
          { value: 0.25, color: 'green' },
        ]),
      )
      .span(24),
  );
  for (const sli of slis) {
    const matchers = matchersOf({ ...prometheus.selector, ...sli.labels });
    builder.withPanel(
      new TimeseriesPanel()
        .title(`Burn rate: ${sli.budget.name}`)
        .description(
          `${sli.budget.description}. 1 spends the error budget (${sli.errorBudget}) exactly as fast as allowed.`,
        )
        .withTarget(
          target(
            `{__name__=~"${sli.fleet.name}:${SLI_ERROR_RATIO}.+",${matchers}} / ${sli.errorBudget}`,
            '{{window}}',
          ),
        )
        .min(0)
        .span(12),
    );
  }

  const http = keel.signals.find((s) => s.name === HTTP_SIGNAL);
  const apiLatency = keel.budgets.find((b) => b.name === 'api_latency');
  if (http?.groupBy) {
    const metric = prometheusName(http);
    const route = http.groupBy;
    builder.withRow(new RowBuilder('Routes'));
    builder.withPanel(
      new TimeseriesPanel()
        .title('p95 latency per route (estimated from the buckets)')
        .withTarget(
          target(
            `histogram_quantile(0.95, sum by (le, ${route}) (rate(${metric}_bucket{${sel}}[$__rate_interval])))`,
            `{{${route}}}`,
          ),
        )
        .unit('s')
        .span(12),
    );
    if (apiLatency) {
      const le = bucketLabel(http, apiLatency.target);
      builder.withPanel(
        new TimeseriesPanel()
          .title(`Share of requests slower than ${apiLatency.target} ms per route (exact)`)
          .withTarget(
            target(
              `1 - sum by (${route}) (rate(${metric}_bucket{${sel},le="${le}"}[$__rate_interval])) / sum by (${route}) (rate(${metric}_count{${sel}}[$__rate_interval]))`,
              `{{${route}}}`,
            ),
          )
          .unit('percentunit')
          .span(12),
      );
    }
  }
  return builder.build();
}

function promDurationLabel(ms: number): string {
  const days = ms / 86_400_000;
  return Number.isInteger(days) ? `${days} days` : `${seconds(ms)} s`;
}
