import { readFileSync } from 'node:fs';
import { defineConfig, type KeelFileOptions } from '@keel/core';
import fileConfig from '../keel.config.js';

/**
 * Reads an optional integer from the environment. Range checks are left to
 * `defineConfig`, whose errors name the option and the rule.
 */
export function envInt(name: string, env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value)) throw new Error(`${name} must be an integer, got "${raw}"`);
  return value;
}

/**
 * keel.config.ts, the one source of the budgets, with the demo's overrides:
 * `KEEL_CONFIG` names a JSON config to use instead (the Prometheus test runs
 * the app with windows scaled down to seconds), and KEEL_INTERVAL_MS and
 * friends shorten Keel's timing for a demo.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<KeelFileOptions> {
  const base: KeelFileOptions = env.KEEL_CONFIG
    ? (JSON.parse(readFileSync(env.KEEL_CONFIG, 'utf8')) as KeelFileOptions)
    : fileConfig;
  // Outside Kubernetes no load balancer needs telling, so Ctrl-C does not wait out a pre-stop delay.
  const inKubernetes = env.KUBERNETES_SERVICE_HOST !== undefined;
  return defineConfig({
    ...base,
    window: {
      ...base.window,
      interval: envInt('KEEL_INTERVAL_MS', env) ?? base.window?.interval,
      length: envInt('KEEL_WINDOW_MS', env) ?? base.window?.length,
    },
    minSamples: envInt('KEEL_MIN_SAMPLES', env) ?? base.minSamples,
    hysteresis: envInt('KEEL_HYSTERESIS', env) ?? base.hysteresis,
    health: {
      ...base.health,
      stabilityWindow: envInt('KEEL_STABILITY_MS', env) ?? base.health?.stabilityWindow,
    },
    shutdown: {
      ...base.shutdown,
      preStopDelay: envInt('KEEL_PRESTOP_MS', env) ?? (inKubernetes ? base.shutdown?.preStopDelay : 0),
    },
  });
}
