import { type KeelConfig, type KeelOptions, resolveOptions } from '../options.js';
import { type GracefulShutdownOptions, resolveShutdownOptions } from '../shutdown/graceful-shutdown.js';
import { checkKeelOptionKeys } from './keel-option-keys.js';
import {
  type KubernetesConfig,
  type KubernetesOptions,
  resolveKubernetesOptions,
} from './kubernetes-options.js';
import { OptionReader } from './option-reader.js';
import {
  type PrometheusConfig,
  type PrometheusOptions,
  resolvePrometheusOptions,
} from './prometheus-options.js';

/** Graceful shutdown as the adapters take it (`instrument(app, { shutdown })`); `keel k8s` derives grace periods from it. */
export interface ShutdownFileOptions extends GracefulShutdownOptions {
  /** Handle SIGTERM and SIGINT, then exit. @default false */
  signals?: boolean;
}

/**
 * A Keel config file (`keel.config.ts`): the engine's options, which
 * `createKeel(config)` takes as they are, plus sections for the tools that
 * turn the same budgets into Prometheus rules, Kubernetes objects and a
 * dashboard (`keel rules`, `keel k8s`, `keel dashboard`).
 */
export interface KeelFileOptions extends KeelOptions {
  /** Graceful shutdown timings, for the adapters and the Deployment's grace period. @default the adapters' defaults */
  shutdown?: ShutdownFileOptions;
  /** Rules, alerts and dashboards. @default see `PrometheusOptions` */
  prometheus?: PrometheusOptions;
  /** Probes, ServiceMonitor and autoscalers. @default see `KubernetesOptions` */
  kubernetes?: KubernetesOptions;
}

/** A config file validated, with every default applied. */
export interface KeelFileConfig {
  readonly keel: KeelConfig;
  readonly shutdown: Readonly<Required<ShutdownFileOptions>>;
  readonly prometheus: PrometheusConfig;
  readonly kubernetes: KubernetesConfig;
}

/**
 * Types and validates a config file. Bad options throw a `KeelError`
 * (`KEEL_INVALID_OPTION`) naming the key and what to change, at load time
 * rather than at the first request; the result goes to `createKeel(config)`.
 *
 * @example
 * // keel.config.ts
 * export default defineConfig({ service: 'checkout', budgets: { api_latency: { target: 300 } } });
 */
export function defineConfig(options: KeelFileOptions): Readonly<KeelFileOptions> {
  resolveConfigFile(options);
  return Object.freeze({ ...options });
}

/** Validates a config file's contents (from any format) and applies every default. */
export function resolveConfigFile(options: KeelFileOptions): KeelFileConfig {
  const reader = new OptionReader('keel config');
  reader.object('config', options);
  checkKeelOptionKeys(options);
  const keel = resolveOptions(options);
  const shutdown = reader.object('shutdown', options.shutdown);
  reader.known('shutdown', shutdown, ['signals', 'preStopDelay', 'drainTimeout', 'cleanupTimeout']);
  // `signals` is the adapters' option, not graceful shutdown's.
  const { signals, ...durations } = shutdown;
  const kubernetes = resolveKubernetesOptions(options.kubernetes, keel);
  return Object.freeze({
    keel,
    shutdown: Object.freeze({
      ...resolveShutdownOptions(durations as GracefulShutdownOptions),
      signals: reader.read(
        'shutdown.signals',
        signals,
        false,
        (v) => typeof v === 'boolean',
        'must be a boolean',
      ),
    }),
    // A ServiceMonitor's job label is the Service's name: the rules select that job by default.
    prometheus: resolvePrometheusOptions(options.prometheus, keel, kubernetes.name),
    kubernetes,
  });
}
