import type { KeelFileConfig } from '@keel/core';
import { seconds } from '../rules/duration.js';

export interface ProbeTimings {
  /** Readiness and liveness probe period: Keel's evaluation interval. */
  readonly periodSeconds: number;
  readonly timeoutSeconds: number;
  /** Failed readiness probes before the pod leaves the Service. */
  readonly readinessFailures: number;
  /** Failed liveness probes before a restart. */
  readonly livenessFailures: number;
  readonly startupPeriodSeconds: number;
  readonly startupFailures: number;
  readonly terminationGracePeriodSeconds: number;
}

/**
 * Probe settings derived from the config, so none is set by hand:
 * - Keel judges budgets and the score once per `window.interval`: probing
 *   more often reads the same answer, so both probes run at that period;
 * - a pod leaves the Service after `hysteresis` failed readiness probes, as
 *   many as Keel's own evaluations needed to adopt a new budget state;
 * - liveness outlasts readiness by one probe, so a stuck instance is drained
 *   before it is restarted, never restarted while still taking traffic;
 * - a probe waits past the event-loop delay at which Keel sheds load (a
 *   loaded process answers late, and is not dead);
 * - the startup probe allows `kubernetes.startupTimeout`;
 * - the grace period covers Keel's shutdown: the pre-stop delay, the drain
 *   timeout and the cleanup timeout, plus a second to exit.
 */
export function probeTimings(config: KeelFileConfig): ProbeTimings {
  const { keel, shutdown, kubernetes } = config;
  const periodSeconds = seconds(keel.interval);
  const shedAt = keel.shedding.enabled ? keel.shedding.eventLoopDelay : 1000;
  const readinessFailures = keel.hysteresis;
  const startupPeriodSeconds = Math.min(2, periodSeconds);
  return {
    periodSeconds,
    timeoutSeconds: Math.max(1, seconds(shedAt) + 1),
    readinessFailures,
    livenessFailures: readinessFailures + 1,
    startupPeriodSeconds,
    startupFailures: Math.ceil(seconds(kubernetes.startupTimeout) / startupPeriodSeconds),
    terminationGracePeriodSeconds:
      seconds(shutdown.preStopDelay + shutdown.drainTimeout + shutdown.cleanupTimeout) + 1,
  };
}
