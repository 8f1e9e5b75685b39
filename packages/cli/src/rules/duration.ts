const UNITS: readonly [string, number][] = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
  ['ms', 1],
];

/** A duration in Prometheus' syntax, in its largest whole unit: `5m`, `1h`, `3d`, `30d`, `10s`. */
export function promDuration(ms: number): string {
  for (const [unit, size] of UNITS) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** Seconds, rounded up: Kubernetes fields count whole seconds. */
export function seconds(ms: number): number {
  return Math.ceil(ms / 1000);
}
