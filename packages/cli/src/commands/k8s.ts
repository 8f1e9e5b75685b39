import { basename } from 'node:path';
import type { Command } from '../cli/command.js';
import { kubernetesObjects } from '../kubernetes/objects.js';
import { describeReplicaCost, replicaCost, replicaCostComment } from '../kubernetes/replica-cost.js';
import { generatedHeader, toYaml } from '../rules/prometheus-rules.js';

export const k8s: Command = {
  name: 'k8s',
  summary: 'Deployment probes and grace period, Service, ServiceMonitor, HPA and KEDA ScaledObject',
  synopsis: '[common options]',
  defaultOut: 'deploy/kubernetes',
  options: {},
  help: `
Kubernetes objects whose settings come from the config, none set by hand:
  deployment.yaml       startupProbe, livenessProbe -> /livez, readinessProbe -> /readyz:
                        period = window.interval (Keel re-judges once per interval),
                        readiness fails after \`hysteresis\` probes, liveness one probe
                        later (drained before restarted), timeouts past the event-loop
                        delay at which Keel sheds; terminationGracePeriodSeconds =
                        shutdown.preStopDelay + drainTimeout + cleanupTimeout + 1 s
  service.yaml          the ports the probes and Prometheus use
  servicemonitor.yaml   prometheus-operator scrapes /metrics every window.interval
  hpa.yaml              autoscaling/v2 on Keel's per-pod keel_budget_burn_rate gauge
                        (needs prometheus-adapter), min/max from kubernetes.replicas,
                        with their monthly cost (the config's \`cost\`) in a comment
  keda-scaledobject.yaml  KEDA on the fleet's recorded burn rate (needs \`keel rules\`);
                        apply it or the HPA, not both

--json result: { name, namespace, probes: { periodSeconds, timeoutSeconds,
  readinessFailures, livenessFailures, startupPeriodSeconds, startupFailures,
  terminationGracePeriodSeconds }, scaleOn: { budget, target, kedaQuery },
  cost: { currency, instanceHourly, min: { replicas, monthly }, max: { replicas, monthly } } | null }`,
  async run(context) {
    const { resolved, path } = await context.config();
    const objects = kubernetesObjects(resolved);
    const job = resolved.prometheus.selector.job;
    if (job !== undefined && job !== resolved.kubernetes.name)
      context.warn(
        `prometheus.selector.job is "${job}" but the ServiceMonitor's targets get job="${resolved.kubernetes.name}" (the Service's name): the rules will not see them`,
      );
    const header = generatedHeader('k8s', basename(path));
    const file = (name: string, object: unknown, note = '') => ({
      path: name,
      content: header + note + toYaml(object),
    });
    const t = objects.timings;
    const cost = replicaCost(resolved);
    const costComment = replicaCostComment(cost);
    return {
      files: [
        file('deployment.yaml', objects.deployment),
        file('service.yaml', objects.service),
        file('servicemonitor.yaml', objects.serviceMonitor),
        file(
          'hpa.yaml',
          objects.hpa,
          '# Reads keel_budget_burn_rate per pod through the custom metrics API (prometheus-adapter).\n# Apply this or keda-scaledobject.yaml, not both.\n' +
            costComment,
        ),
        file(
          'keda-scaledobject.yaml',
          objects.scaledObject,
          '# Queries the fleet burn rate `keel rules` records. Apply this or hpa.yaml, not both.\n' +
            costComment,
        ),
      ],
      data: {
        name: resolved.kubernetes.name,
        namespace: resolved.kubernetes.namespace ?? null,
        probes: t,
        scaleOn: { ...resolved.kubernetes.scaleOn, kedaQuery: objects.kedaQuery },
        cost,
      },
      text:
        `probes every ${t.periodSeconds} s (readiness fails after ${t.readinessFailures}, liveness after ${t.livenessFailures}), ` +
        `grace period ${t.terminationGracePeriodSeconds} s; ` +
        `${resolved.kubernetes.replicas.min}-${resolved.kubernetes.replicas.max} replicas on ${resolved.kubernetes.scaleOn.budget}'s burn rate; ` +
        (cost ? `cost ${describeReplicaCost(cost)}` : 'cost not configured (set `cost` in the config)'),
    };
  },
};
