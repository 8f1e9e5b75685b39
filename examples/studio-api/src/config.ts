import { readFileSync } from 'node:fs';
import { defineConfig, type KeelFileOptions } from '@keel/core';
import fileConfig from '../keel.config.js';

/**
 * Reads an optional integer from the environment. Range checks are left to
 * `defineConfig`, whose errors name the option and the rule.
 */
export function envInt(name: string, env: NodeJS.ProcessEnv = process.env): number | undefined {
  return envNumber(name, env, true);
}

/** Reads an optional number (a price) from the environment; checks are left to `defineConfig`. */
export function envNumber(
  name: string,
  env: NodeJS.ProcessEnv = process.env,
  integer = false,
): number | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const value = Number(raw);
  if (integer ? !Number.isInteger(value) : !Number.isFinite(value))
    throw new Error(`${name} must be ${integer ? 'an integer' : 'a number'}, got "${raw}"`);
  return value;
}

/** `cost` with the KEEL_COST_* / KEEL_INSTANCES overrides; left out when neither names a price. */
function costFrom(base: KeelFileOptions['cost'], env: NodeJS.ProcessEnv): KeelFileOptions['cost'] {
  const instanceHourly = envNumber('KEEL_COST_INSTANCE_HOURLY', env) ?? base?.instanceHourly;
  const currency = env.KEEL_COST_CURRENCY?.trim() || base?.currency;
  if (instanceHourly === undefined && currency === undefined) return undefined;
  return {
    ...base,
    instanceHourly: instanceHourly as number,
    currency: currency as string,
    dbConnectionHourly: envNumber('KEEL_COST_DB_CONNECTION_HOURLY', env) ?? base?.dbConnectionHourly,
    instances: envInt('KEEL_INSTANCES', env) ?? base?.instances,
  };
}

/**
 * keel.config.ts, the one source of the budgets, with the demo's overrides:
 * `KEEL_CONFIG` names a JSON config to use instead (the Prometheus test runs
 * the app with windows scaled down to seconds), KEEL_INTERVAL_MS and
 * friends shorten Keel's timing for a demo, and KEEL_COST_INSTANCE_HOURLY,
 * KEEL_COST_CURRENCY, KEEL_COST_DB_CONNECTION_HOURLY and KEEL_INSTANCES set
 * the prices and fleet size the capacity advice is stated in.
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
    cost: costFrom(base.cost, env),
    shutdown: {
      ...base.shutdown,
      preStopDelay: envInt('KEEL_PRESTOP_MS', env) ?? (inKubernetes ? base.shutdown?.preStopDelay : 0),
    },
  });
}
