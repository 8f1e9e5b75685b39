import { formatDuration, invalidOptionOf, KEEL_METRICS, type KeelFileConfig } from '@keel/core';
import { seconds } from '../rules/duration.js';
import { type BudgetSli, matchersOf, planSlis, recordedRatio } from '../rules/sli.js';
import { type ProbeTimings, probeTimings } from './probes.js';

export interface KubernetesObjects {
  readonly deployment: Record<string, unknown>;
  readonly service: Record<string, unknown>;
  readonly serviceMonitor: Record<string, unknown>;
  readonly hpa: Record<string, unknown>;
  readonly scaledObject: Record<string, unknown>;
  readonly timings: ProbeTimings;
  /** The query KEDA scales on. */
  readonly kedaQuery: string;
}

/** A Kubernetes quantity for a number: `1`, `1500m`. */
function quantity(value: number): string {
  return Number.isInteger(value) ? String(value) : `${Math.round(value * 1000)}m`;
}

/**
 * The Deployment (probes, grace period), Service, ServiceMonitor and both
 * autoscalers (an HPA on Keel's per-pod burn-rate gauge through
 * prometheus-adapter, a KEDA ScaledObject on the fleet's recorded ratio):
 * apply the HPA or the ScaledObject, not both.
 */
export function kubernetesObjects(config: KeelFileConfig): KubernetesObjects {
  const { keel, kubernetes, prometheus } = config;
  const { name, namespace } = kubernetes;
  const { endpoints } = keel;
  const fail = (path: string, rule: string, got: unknown) => invalidOptionOf('keel k8s', path, rule, got);
  if (endpoints.token && !(endpoints.public.includes('livez') && endpoints.public.includes('readyz')))
    throw fail(
      'endpoints.public',
      'must include livez and readyz: kubelet probes cannot send the token',
      endpoints.public,
    );
  if (endpoints.token && !endpoints.public.includes('metrics') && !kubernetes.tokenSecret)
    throw fail(
      'kubernetes.tokenSecret',
      'is required: /metrics needs the token and Prometheus must send it',
      undefined,
    );

  const labels = { 'app.kubernetes.io/name': name };
  const meta = (extra: Record<string, unknown> = {}) => ({
    name,
    ...(namespace ? { namespace } : {}),
    labels: { ...labels, 'app.kubernetes.io/managed-by': 'keel' },
    ...extra,
  });
  const path = (endpoint: 'livez' | 'readyz' | 'metrics') => `${endpoints.prefix}/${endpoint}`;
  const probePort = endpoints.adminPort !== undefined ? 'admin' : 'http';
  const ports = [
    { name: 'http', containerPort: kubernetes.port, protocol: 'TCP' },
    ...(endpoints.adminPort !== undefined
      ? [{ name: 'admin', containerPort: endpoints.adminPort, protocol: 'TCP' }]
      : []),
  ];
  const t = probeTimings(config);
  const probe = (
    endpoint: 'livez' | 'readyz',
    failureThreshold: number,
    periodSeconds = t.periodSeconds,
  ) => ({
    httpGet: { path: path(endpoint), port: probePort },
    periodSeconds,
    timeoutSeconds: t.timeoutSeconds,
    successThreshold: 1,
    failureThreshold,
  });

  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(),
    // No `replicas`: the autoscaler owns the count.
    spec: {
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          terminationGracePeriodSeconds: t.terminationGracePeriodSeconds,
          containers: [
            {
              name,
              image: kubernetes.image,
              ports,
              startupProbe: probe('livez', t.startupFailures, t.startupPeriodSeconds),
              livenessProbe: probe('livez', t.livenessFailures),
              readinessProbe: probe('readyz', t.readinessFailures),
            },
          ],
        },
      },
    },
  };

  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(),
    spec: {
      selector: labels,
      ports: ports.map((p) => ({ name: p.name, port: p.containerPort, targetPort: p.name, protocol: 'TCP' })),
    },
  };

  const scrape = `${seconds(keel.interval)}s`;
  const serviceMonitor = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: meta(),
    spec: {
      selector: { matchLabels: labels },
      endpoints: [
        {
          port: probePort,
          path: path('metrics'),
          // Keel's gauges change once per interval: scraping at that pace misses nothing and wastes nothing.
          interval: scrape,
          scrapeTimeout: `${Math.min(seconds(keel.interval), 10)}s`,
          ...(kubernetes.tokenSecret && !endpoints.public.includes('metrics')
            ? { authorization: { type: 'Bearer', credentials: kubernetes.tokenSecret } }
            : {}),
        },
      ],
    },
  };

  const sli = planSlis(config).find((p) => p.supported && p.sli.budget.name === kubernetes.scaleOn.budget);
  if (!sli?.supported)
    throw fail(
      'kubernetes.scaleOn.budget',
      'must name a budget Prometheus can judge (see keel rules)',
      kubernetes.scaleOn.budget,
    );
  const window = keel.burnRateWindows[0]?.short ?? keel.interval;
  // Scale down no faster than the budget window empties of the load that scaled up.
  const budgetWindow = sli.sli.budget.windowIntervals * keel.interval;
  const behavior = { scaleDown: { stabilizationWindowSeconds: seconds(budgetWindow) } };
  const target = quantity(kubernetes.scaleOn.target);

  const hpa = {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: meta(),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      minReplicas: kubernetes.replicas.min,
      maxReplicas: kubernetes.replicas.max,
      metrics: [
        {
          type: 'Pods',
          pods: {
            metric: {
              name: KEEL_METRICS.burnRate,
              selector: {
                matchLabels: { budget: kubernetes.scaleOn.budget, window: formatDuration(window) },
              },
            },
            target: { type: 'AverageValue', averageValue: target },
          },
        },
      ],
      behavior,
    },
  };

  const kedaQuery = burnQuery(sli.sli, config, window);
  const scaledObject = {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: meta(),
    spec: {
      scaleTargetRef: { name },
      minReplicaCount: kubernetes.replicas.min,
      maxReplicaCount: kubernetes.replicas.max,
      advanced: { horizontalPodAutoscalerConfig: { behavior } },
      triggers: [
        {
          type: 'prometheus',
          // `Value`: replicas follow current x burn rate / target, as an HPA does with a ratio.
          metricType: 'Value',
          metadata: {
            serverAddress: prometheus.url,
            query: kedaQuery,
            threshold: String(kubernetes.scaleOn.target),
          },
        },
      ],
    },
  };
  return { deployment, service, serviceMonitor, hpa, scaledObject, timings: t, kedaQuery };
}

/** The fleet's burn rate of a budget over a window, from the recorded ratio `keel rules` writes. */
export function burnQuery(sli: BudgetSli, config: KeelFileConfig, window: number): string {
  const matchers = matchersOf({ ...config.prometheus.selector, ...sli.labels });
  return `max(${recordedRatio(sli.fleet, window)}{${matchers}}) / ${sli.errorBudget}`;
}
