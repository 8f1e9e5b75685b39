import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeelErrorCode, resolveConfigFile } from '@keel/core';
import { describe, expect, it } from 'vitest';
import fileConfig from '../keel.config.js';
import { loadConfig } from '../src/config.js';

describe('studio-api config: keel.config.ts with the demo overrides', () => {
  it('is keel.config.ts as it is, without a pre-stop delay outside Kubernetes', () => {
    const config = loadConfig({});
    expect(config.budgets).toEqual(fileConfig.budgets);
    expect(config.shutdown).toMatchObject({ preStopDelay: 0, drainTimeout: 10_000 });
    expect(loadConfig({ KUBERNETES_SERVICE_HOST: '10.0.0.1' }).shutdown?.preStopDelay).toBe(5000);
    expect(resolveConfigFile(config).keel.interval).toBe(10_000);
  });

  it('applies the KEEL_* overrides, and rejects ones Keel cannot use', () => {
    const config = resolveConfigFile(
      loadConfig({
        KEEL_INTERVAL_MS: '2000',
        KEEL_WINDOW_MS: '60000',
        KEEL_MIN_SAMPLES: '3',
        KEEL_PRESTOP_MS: '250',
      }),
    );
    expect(config.keel).toMatchObject({ interval: 2000, windowIntervals: 30, minSamples: 3 });
    expect(config.shutdown.preStopDelay).toBe(250);
    expect(() => loadConfig({ KEEL_INTERVAL_MS: '7000', KEEL_WINDOW_MS: '60000' })).toThrow(
      expect.objectContaining({ code: KeelErrorCode.InvalidOption }),
    );
  });

  it('reads a JSON config named by KEEL_CONFIG instead', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'studio-config-')), 'keel.config.json');
    writeFileSync(file, JSON.stringify({ service: 'scaled', window: { interval: 1000, length: 10_000 } }));
    const config = resolveConfigFile(loadConfig({ KEEL_CONFIG: file }));
    expect(config.keel).toMatchObject({ service: 'scaled', interval: 1000 });
  });
});
