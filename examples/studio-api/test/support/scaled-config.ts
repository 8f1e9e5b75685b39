import exampleConfig from '../../keel.config.js';

/**
 * keel.config.ts with Keel's windows in seconds, for tests that run the app
 * as a process (`KEEL_CONFIG`): 1 s intervals, a 10 s budget window, a
 * 10 s/1 m page pair, a 2 min SLO period.
 */
export const scaledConfig = {
  ...exampleConfig,
  window: { interval: 1000, length: 10_000 },
  burnRateWindows: [{ short: 10_000, long: 60_000, factor: 14.4 }],
  hysteresis: 1,
  prometheus: {
    ...exampleConfig.prometheus,
    period: 120_000,
    ticketWindows: [{ short: 20_000, long: 120_000, factor: 3 }],
  },
};
