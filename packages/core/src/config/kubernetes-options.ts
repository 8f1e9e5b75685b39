import type { KeelConfig } from '../options.js';
import {
  type Check,
  isNonEmptyString,
  isPositiveInteger,
  isPositiveNumber,
  OptionReader,
} from './option-reader.js';

/** What `keel k8s` generates, in a config file's `kubernetes` section. */
export interface KubernetesOptions {
  /** Name of the Deployment, Service, ServiceMonitor and autoscalers; a DNS label. @default the `service` */
  name?: string;
  /** Namespace of the objects. @default none (kubectl's current one) */
  namespace?: string;
  /** Container image. @default `<name>:latest` */
  image?: string;
  /** Port the app listens on. @default 3000 */
  port?: number;
  /** Replica bounds of the HPA and the KEDA ScaledObject. @default { min: 2, max: 10 } */
  replicas?: { min?: number; max?: number };
  /**
   * The autoscalers scale on this budget's error-budget burn rate over its
   * short page window, aiming at `target` (1 = spending the error budget
   * exactly as fast as allowed).
   * @default { budget: 'api_latency', target: 1 }
   */
  scaleOn?: { budget?: string; target?: number };
  /** How long the app may take to start answering `/livez` before the startupProbe restarts it, ms. @default 60000 */
  startupTimeout?: number;
  /** The Secret holding `endpoints.token`, for the ServiceMonitor when `/metrics` needs it. @default none */
  tokenSecret?: { name: string; key: string };
}

export interface KubernetesConfig {
  readonly name: string;
  readonly namespace: string | undefined;
  readonly image: string;
  readonly port: number;
  readonly replicas: Readonly<{ min: number; max: number }>;
  readonly scaleOn: Readonly<{ budget: string; target: number }>;
  readonly startupTimeout: number;
  readonly tokenSecret: Readonly<{ name: string; key: string }> | undefined;
}

const KEYS = ['name', 'namespace', 'image', 'port', 'replicas', 'scaleOn', 'startupTimeout', 'tokenSecret'];
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const isDnsLabel: Check = (v) => typeof v === 'string' && DNS_LABEL.test(v);
const dnsRule = 'must be a DNS label: lower-case letters, digits and "-", at most 63 characters';

/** Validates the `kubernetes` section against the engine's resolved config (its service, budgets). */
export function resolveKubernetesOptions(value: unknown, keel: KeelConfig): KubernetesConfig {
  const reader = new OptionReader('keel config');
  const o = reader.object('kubernetes', value);
  reader.known('kubernetes', o, KEYS);
  if (o.name === undefined && !DNS_LABEL.test(keel.service)) {
    throw reader.fail(
      'kubernetes.name',
      `is required: the service name is not a DNS label (${dnsRule})`,
      o.name,
    );
  }
  const name = reader.read('kubernetes.name', o.name, keel.service, isDnsLabel, dnsRule);

  const replicas = reader.object('kubernetes.replicas', o.replicas);
  reader.known('kubernetes.replicas', replicas, ['min', 'max']);
  const min = reader.read(
    'kubernetes.replicas.min',
    replicas.min,
    2,
    isPositiveInteger,
    'must be an integer >= 1',
  );
  const max = reader.read(
    'kubernetes.replicas.max',
    replicas.max,
    Math.max(10, min),
    (v) => isPositiveInteger(v) && (v as number) >= min,
    `must be an integer >= replicas.min (${min})`,
  );

  const scaleOn = reader.object('kubernetes.scaleOn', o.scaleOn);
  reader.known('kubernetes.scaleOn', scaleOn, ['budget', 'target']);
  const budgetNames = keel.budgets.map((b) => b.name);
  const defaultBudget = budgetNames.includes('api_latency') ? 'api_latency' : budgetNames[0];
  const budget = reader.read<string | undefined>(
    'kubernetes.scaleOn.budget',
    scaleOn.budget,
    defaultBudget,
    (v) => typeof v === 'string' && budgetNames.includes(v),
    `must name a budget that is on (${budgetNames.join(', ') || 'none is'})`,
  );
  if (budget === undefined)
    throw reader.fail(
      'kubernetes.scaleOn.budget',
      'needs a budget to scale on, and every budget is off',
      budget,
    );

  let tokenSecret: KubernetesConfig['tokenSecret'];
  if (o.tokenSecret !== undefined) {
    const secret = reader.object('kubernetes.tokenSecret', o.tokenSecret);
    reader.known('kubernetes.tokenSecret', secret, ['name', 'key']);
    tokenSecret = Object.freeze({
      name: reader.read('kubernetes.tokenSecret.name', secret.name, '', isDnsLabel, dnsRule),
      key: reader.read(
        'kubernetes.tokenSecret.key',
        secret.key,
        '',
        (v) => typeof v === 'string' && /^[-._a-zA-Z0-9]+$/.test(v),
        'must be a Secret key (letters, digits, "-", "_", ".")',
      ),
    });
    if (!tokenSecret.name || !tokenSecret.key)
      throw reader.fail('kubernetes.tokenSecret', 'needs name and key', o.tokenSecret);
  }

  return Object.freeze({
    name,
    namespace: reader.read<string | undefined>(
      'kubernetes.namespace',
      o.namespace,
      undefined,
      isDnsLabel,
      dnsRule,
    ),
    image: reader.read(
      'kubernetes.image',
      o.image,
      `${name}:latest`,
      isNonEmptyString,
      'must be an image reference',
    ),
    port: reader.read(
      'kubernetes.port',
      o.port,
      3000,
      (v) => isPositiveInteger(v) && (v as number) <= 65535,
      'must be a port number from 1 to 65535',
    ),
    replicas: Object.freeze({ min, max }),
    scaleOn: Object.freeze({
      budget,
      target: reader.read(
        'kubernetes.scaleOn.target',
        scaleOn.target,
        1,
        isPositiveNumber,
        'must be a number > 0',
      ),
    }),
    startupTimeout: reader.read(
      'kubernetes.startupTimeout',
      o.startupTimeout,
      60_000,
      (v) => isPositiveInteger(v) && (v as number) >= 1000,
      'must be an integer >= 1000 (ms)',
    ),
    tokenSecret,
  });
}
