import type { BurnRateWindow, KeelFileConfig } from '@keel/core';

export type Severity = 'page' | 'ticket';

export interface AlertWindow extends BurnRateWindow {
  readonly severity: Severity;
}

/** The page pairs (Keel's own `burnRateWindows`) then the ticket pairs. */
export function alertWindows(config: KeelFileConfig): AlertWindow[] {
  return [
    ...config.prometheus.pageWindows.map((w) => ({ ...w, severity: 'page' as const })),
    ...config.prometheus.ticketWindows.map((w) => ({ ...w, severity: 'ticket' as const })),
  ];
}

/** Every window a rule records, shortest first: each alert pair's two windows, and the SLO period. */
export function recordedWindows(config: KeelFileConfig): number[] {
  const all = alertWindows(config).flatMap((w) => [w.short, w.long]);
  return [...new Set([...all, config.prometheus.period])].sort((a, b) => a - b);
}
