import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Service } from 'kubernetes-models/v1/Service';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { kubernetesObjects, loadConfig } from '../src/index.js';
import { keel, project } from './helpers.js';

const VALIDATORS: Record<string, (o: never) => { validate(): void }> = {
  'deployment.yaml': (o) => new Deployment(o),
  'service.yaml': (o) => new Service(o),
  'servicemonitor.yaml': (o) => new ServiceMonitor(o),
  'hpa.yaml': (o) => new HorizontalPodAutoscaler(o),
  'keda-scaledobject.yaml': (o) => new ScaledObject(o),
};

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML, checked field by field below
type Any = any;

async function generate(config: object): Promise<Record<string, Any>> {
  const dir = project({ 'keel.config.json': config });
  const { code, stderr } = await keel(['k8s'], dir);
  expect(code, stderr).toBe(0);
  const objects: Record<string, Any> = {};
  for (const name of Object.keys(VALIDATORS)) {
    objects[name] = parse(readFileSync(join(dir, 'deploy/kubernetes', name), 'utf8'));
  }
  return objects;
}

describe('keel k8s', () => {
  it('writes objects that validate against their Kubernetes and CRD schemas', async () => {
    const objects = await generate({
      service: 'shop',
      kubernetes: { namespace: 'prod', replicas: { min: 3, max: 12 } },
    });
    for (const [name, object] of Object.entries(objects)) {
      expect(() => VALIDATORS[name]!(object as never).validate(), name).not.toThrow();
      expect(object.metadata).toMatchObject({ name: 'shop', namespace: 'prod' });
    }
    // The validators are real: a broken Deployment is refused.
    const broken = structuredClone(objects['deployment.yaml']);
    broken.spec.template.spec.containers[0].livenessProbe.periodSeconds = 'often';
    expect(() => new Deployment(broken).validate()).toThrow();
  });

  it('derives probes and the grace period from the interval, hysteresis, shedding and shutdown timings', async () => {
    const objects = await generate({
      window: { interval: 5000 },
      hysteresis: 3,
      shedding: { eventLoopDelay: 2000 },
      shutdown: { preStopDelay: 8000, drainTimeout: 20_000, cleanupTimeout: 4000 },
      endpoints: { prefix: '/ops' },
      kubernetes: { startupTimeout: 90_000, port: 8080 },
    });
    const pod = objects['deployment.yaml'].spec.template.spec;
    const [container] = pod.containers;
    expect(pod.terminationGracePeriodSeconds).toBe(8 + 20 + 4 + 1);
    expect(container.readinessProbe).toMatchObject({
      httpGet: { path: '/ops/readyz', port: 'http' },
      periodSeconds: 5,
      failureThreshold: 3,
      timeoutSeconds: 3,
    });
    expect(container.livenessProbe).toMatchObject({
      httpGet: { path: '/ops/livez' },
      periodSeconds: 5,
      failureThreshold: 4,
    });
    expect(container.startupProbe).toMatchObject({
      httpGet: { path: '/ops/livez' },
      periodSeconds: 2,
      failureThreshold: 45,
    });
    expect(container.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    expect(objects['servicemonitor.yaml'].spec.endpoints[0]).toMatchObject({
      path: '/ops/metrics',
      interval: '5s',
    });
  });

  it('probes and scrapes the admin port when the endpoints are served there', async () => {
    const objects = await generate({ endpoints: { adminPort: 9464 } });
    const [container] = objects['deployment.yaml'].spec.template.spec.containers;
    expect(container.ports.map((p: Any) => p.name)).toEqual(['http', 'admin']);
    expect(container.readinessProbe.httpGet.port).toBe('admin');
    expect(objects['servicemonitor.yaml'].spec.endpoints[0].port).toBe('admin');
  });

  it('scales between the configured bounds on a Keel signal through Prometheus', async () => {
    const objects = await generate({
      service: 'shop',
      kubernetes: { replicas: { min: 2, max: 6 }, scaleOn: { budget: 'api_latency', target: 1.5 } },
    });
    const hpa = objects['hpa.yaml'].spec;
    expect(hpa).toMatchObject({ minReplicas: 2, maxReplicas: 6 });
    expect(hpa.metrics[0].pods).toEqual({
      metric: {
        name: 'keel_budget_burn_rate',
        selector: { matchLabels: { budget: 'api_latency', window: '5m' } },
      },
      target: { type: 'AverageValue', averageValue: '1500m' },
    });
    expect(hpa.behavior.scaleDown.stabilizationWindowSeconds).toBe(300);
    const keda = objects['keda-scaledobject.yaml'].spec;
    expect(keda).toMatchObject({ minReplicaCount: 2, maxReplicaCount: 6 });
    expect(keda.triggers[0]).toMatchObject({
      type: 'prometheus',
      metricType: 'Value',
      metadata: {
        query: 'max(job:keel_sli_error:ratio_rate5m{job="shop",budget="api_latency"}) / 0.05',
        threshold: '1.5',
      },
    });
  });

  it('states what the autoscaler costs at min and max replicas: in the files, the output and --json', async () => {
    const config = {
      service: 'shop',
      cost: { instanceHourly: 0.12, currency: 'EUR' },
      kubernetes: { replicas: { min: 2, max: 8 } },
    };
    const dir = project({ 'keel.config.json': config });
    const { code, stdout, stderr } = await keel(['k8s'], dir);
    expect(code, stderr).toBe(0);
    // 2 × 0.12 × 730 = 175.20; 8 × 0.12 × 730 = 700.80.
    const line = '2 replicas 175.20 EUR/month (min), 8 replicas 700.80 EUR/month (max)';
    expect(stdout).toContain(`cost ${line}`);
    for (const file of ['hpa.yaml', 'keda-scaledobject.yaml']) {
      const text = readFileSync(join(dir, 'deploy/kubernetes', file), 'utf8');
      expect(text, file).toContain(`# Cost: ${line}, at 0.12 EUR per replica-hour × 730 h.`);
      // Still valid YAML with the same object.
      expect(parse(text).spec).toBeDefined();
    }
    const json = await keel(['k8s', '--json', '--out', 'other'], dir);
    expect(JSON.parse(json.stdout).result.cost).toEqual({
      currency: 'EUR',
      instanceHourly: 0.12,
      min: { replicas: 2, monthly: 175.2 },
      max: { replicas: 8, monthly: 700.8 },
    });
    const none = await keel(['k8s'], project({ 'keel.config.json': { service: 'shop' } }));
    expect(none.stdout).toContain('cost not configured');
  });

  it('refuses probes kubelet cannot pass (a token on /readyz) and a scrape without the token', async () => {
    const token = 'a-token-of-sixteen-chars';
    const probes = await keel(
      ['k8s'],
      project({ 'keel.config.json': { endpoints: { token, public: ['livez'] } } }),
    );
    expect(probes.code).toBe(2);
    expect(probes.stderr).toMatch(/^error: KEEL_INVALID_OPTION: .*`endpoints.public`/);
    const scrape = await keel(['k8s'], project({ 'keel.config.json': { endpoints: { token } } }));
    expect(scrape.code).toBe(2);
    expect(scrape.stderr).toContain('`kubernetes.tokenSecret`');
    const objects = await generate({
      endpoints: { token },
      kubernetes: { tokenSecret: { name: 'keel-token', key: 'token' } },
    });
    expect(objects['servicemonitor.yaml'].spec.endpoints[0].authorization).toEqual({
      type: 'Bearer',
      credentials: { name: 'keel-token', key: 'token' },
    });
    expect(() => new ServiceMonitor(objects['servicemonitor.yaml']).validate()).not.toThrow();
  });
});

describe('keel k8s on the example app', () => {
  it("validates the example's objects, generated from its keel.config.ts", async () => {
    const example = fileURLToPath(new URL('../../../examples/studio-api/keel.config.ts', import.meta.url));
    const objects = kubernetesObjects((await loadConfig(example)).resolved);
    expect(() => new Deployment(objects.deployment as never).validate()).not.toThrow();
    expect(() => new Service(objects.service as never).validate()).not.toThrow();
    expect(() => new ServiceMonitor(objects.serviceMonitor as never).validate()).not.toThrow();
    expect(() => new HorizontalPodAutoscaler(objects.hpa as never).validate()).not.toThrow();
    expect(() => new ScaledObject(objects.scaledObject as never).validate()).not.toThrow();
  });
});
