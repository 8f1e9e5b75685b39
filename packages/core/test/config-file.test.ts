import { describe, expect, it } from 'vitest';
import {
  bucketLabel,
  createKeel,
  defineConfig,
  HTTP_SIGNAL,
  KeelError,
  KeelErrorCode,
  type KeelFileOptions,
  resolveConfigFile,
} from '../src/index.js';

/** The error a config gets, or `undefined` when it is valid. */
function rejection(options: unknown): KeelError | undefined {
  try {
    resolveConfigFile(options as KeelFileOptions);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(KeelError);
    return error as KeelError;
  }
}

describe('defineConfig', () => {
  it('returns a frozen copy that createKeel takes as it is, tool sections included', async () => {
    const given = {
      service: 'shop',
      budgets: { api_latency: { target: 300 } },
      shutdown: { preStopDelay: 2000 },
      prometheus: { period: 7 * 86_400_000 },
      kubernetes: { replicas: { min: 3, max: 6 } },
    };
    const config = defineConfig(given);
    expect(Object.isFrozen(config)).toBe(true);
    expect(config).not.toBe(given);
    const keel = createKeel(config);
    expect(keel.config.budgets.find((b) => b.name === 'api_latency')?.target).toBe(300);
    await keel.close();
  });

  it("takes the adapters' `signals` flag beside the graceful-shutdown timings", () => {
    const resolved = resolveConfigFile({ service: 'shop', shutdown: { signals: true, drainTimeout: 2000 } });
    expect(resolved.shutdown).toEqual({
      preStopDelay: 5000,
      drainTimeout: 2000,
      cleanupTimeout: 5000,
      signals: true,
    });
  });

  it('applies every default in one place', () => {
    const resolved = resolveConfigFile({ service: 'shop' });
    expect(resolved.shutdown).toEqual({
      preStopDelay: 5000,
      drainTimeout: 10_000,
      cleanupTimeout: 5000,
      signals: false,
    });
    expect(resolved.prometheus.selector).toEqual({ job: 'shop' });
    expect(resolved.prometheus.period).toBe(30 * 86_400_000);
    expect(resolved.prometheus.pageWindows).toEqual(resolved.keel.burnRateWindows);
    expect(resolved.prometheus.ticketWindows).toEqual([
      { short: 7_200_000, long: 86_400_000, factor: 3 },
      { short: 21_600_000, long: 259_200_000, factor: 1 },
    ]);
    expect(resolved.kubernetes).toMatchObject({
      name: 'shop',
      image: 'shop:latest',
      port: 3000,
      replicas: { min: 2, max: 10 },
      scaleOn: { budget: 'api_latency', target: 1 },
    });
  });

  it.each([
    ['an unknown top-level key', { budget: {} }, 'budget'],
    ['an unknown nested key', { window: { intervall: 1000 } }, 'window.intervall'],
    [
      'an unknown budget key',
      { budgets: { api_latency: { treshold: 250 } } },
      'budgets.api_latency.treshold',
    ],
    ['an objective of 100 %', { budgets: { availability: { target: 100 } } }, 'budgets.availability.target'],
    ['an objective of 0 %', { budgets: { error_rate: { target: 0 } } }, 'budgets.error_rate.target'],
    [
      'a percentile of 100',
      { budgets: { api_latency: { percentile: 100 } } },
      'budgets.api_latency.percentile',
    ],
    [
      'a budget window that is not a multiple of the interval',
      { window: { interval: 10_000 }, budgets: { api_latency: { window: 15_000 } } },
      'budgets.api_latency.window',
    ],
    [
      'an SLO period that is not a multiple of the interval',
      { prometheus: { period: 86_400_001 } },
      'prometheus.period',
    ],
    [
      'a ticket window that is not a multiple of the interval',
      { prometheus: { ticketWindows: [{ short: 7_200_500, long: 86_400_000, factor: 3 }] } },
      'prometheus.ticketWindows[0].short',
    ],
    ['an unknown prometheus key', { prometheus: { windows: [] } }, 'prometheus.windows'],
    [
      'perGroup on a fixed group',
      {
        budgets: { checkout: { kind: 'latency', signal: HTTP_SIGNAL, target: 500, group: '/checkout' } },
        prometheus: { perGroup: ['checkout'] },
      },
      'prometheus.perGroup[0]',
    ],
    ['an unknown shutdown key', { shutdown: { drain: 1 } }, 'shutdown.drain'],
    ['max replicas below min', { kubernetes: { replicas: { min: 4, max: 2 } } }, 'kubernetes.replicas.max'],
    [
      'scaling on a budget that is off',
      { budgets: { db_latency: false }, kubernetes: { scaleOn: { budget: 'db_latency' } } },
      'kubernetes.scaleOn.budget',
    ],
    ['a service name Kubernetes cannot use', { service: 'Studio API' }, 'kubernetes.name'],
  ])('rejects %s, naming the key', (_, options, key) => {
    const error = rejection(options);
    expect(error?.code).toBe(KeelErrorCode.InvalidOption);
    expect(error?.message).toContain(`\`${key}\``);
  });

  it('names the le bucket of a budget target as /metrics writes it', async () => {
    const keel = createKeel({ runtime: false });
    keel.recordRequest('GET', '/x', 200, 5);
    const text = await keel.metrics();
    const definition = keel.config.signals.find((s) => s.name === HTTP_SIGNAL)!;
    expect(bucketLabel(definition, 200)).toBe('0.2');
    for (const boundary of definition.boundaries) {
      expect(text).toContain(`le="${bucketLabel(definition, boundary)}"}`);
    }
    await keel.close();
  });
});
