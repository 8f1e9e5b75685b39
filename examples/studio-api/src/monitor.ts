import { resolve } from 'node:path';
import type { Keel } from '@keel/core';
import {
  createMonitor,
  type Monitor,
  type MonitorOptions,
  type Notifier,
  type PoolLike,
  recyclePool,
  resizePool,
  slackNotifier,
  webhookNotifier,
} from '@keel/monitor';
import { envInt } from './config.js';

/**
 * The monitor's settings from the environment. The defaults are production
 * ones (validate after 10 min, a cycle every 4 h); for a demo shorten them,
 * e.g. KEEL_MONITOR_VALIDATE_MS=20000 KEEL_MONITOR_RECOVERY_MS=30000.
 * KEEL_MONITOR_LAST_RESORT=readiness-off turns readiness off (once, validated
 * like any mitigation) when nothing else helped; KEEL_MONITOR_RECHECK_MS is
 * how often a breach nothing fixed is looked at again.
 *
 * With the app's pool, the monitor may also grow it (up to KEEL_POOL_MAX_SIZE,
 * default 20) when queries queue for a connection, and replace its connections
 * when database time is in breach.
 */
export function monitorOptionsFromEnv(env: NodeJS.ProcessEnv = process.env, pool?: PoolLike): MonitorOptions {
  const notifiers: Notifier[] = [];
  if (env.KEEL_WEBHOOK_URL)
    notifiers.push(
      webhookNotifier({ url: env.KEEL_WEBHOOK_URL, secret: env.KEEL_WEBHOOK_SECRET || undefined }),
    );
  if (env.KEEL_SLACK_WEBHOOK_URL) notifiers.push(slackNotifier({ url: env.KEEL_SLACK_WEBHOOK_URL }));
  const lastResort = env.KEEL_MONITOR_LAST_RESORT === 'readiness-off' ? 'readiness-off' : false;
  return {
    // Incidents, the action record and post-mortems survive restarts here; absolute, so the
    // post-mortem path the app prints can be opened from any folder.
    dir: resolve(env.KEEL_MONITOR_DIR || '.keel'),
    validateAfter: envInt('KEEL_MONITOR_VALIDATE_MS', env),
    recoveryWindow: envInt('KEEL_MONITOR_RECOVERY_MS', env),
    stabilityWindow: envInt('KEEL_MONITOR_STABILITY_MS', env),
    schedule: envInt('KEEL_MONITOR_SCHEDULE_MS', env),
    dryRun: env.KEEL_MONITOR_DRY_RUN === '1',
    notifiers,
    mitigations: pool
      ? [resizePool({ pool, maxSize: envInt('KEEL_POOL_MAX_SIZE', env) ?? 20 }), recyclePool({ pool })]
      : [],
    // readiness-off is opt-in: it is registered only when it is the last resort.
    builtIns: { readinessOff: lastResort === 'readiness-off' },
    escalation: { recheckAfter: envInt('KEEL_MONITOR_RECHECK_MS', env), lastResort },
  };
}

/**
 * Starts the monitoring cycle and incident response: a breach of a budget
 * opens an incident (in /health under `incidents`), the monitor tries the
 * built-in mitigations (serve the users cache stale, shed the routes in
 * breach), keeps what measurably served users better, escalates when nothing
 * did, and a post-mortem is written when the budgets recover. Every event
 * logged here is already on disk (the journal in KEEL_MONITOR_DIR).
 */
export function startMonitor(keel: Keel, options: MonitorOptions = {}): Monitor {
  const monitor = createMonitor(keel, options);
  monitor.on('incident', ({ incident, change }) => {
    if (change === 'opened')
      console.log(`incident ${incident.id} opened: ${incident.severity} ${incident.title}`);
    if (change === 'escalated')
      console.log(`incident ${incident.id} escalated to ${incident.severity}: ${incident.severityReason}`);
    if (change === 'resolved')
      console.log(
        `incident ${incident.id} resolved; post-mortem: ${
          incident.postMortemPath ??
          (incident.postMortemError ? `not written (${incident.postMortemError}), in /health` : 'in /health')
        }`,
      );
  });
  monitor.on('step', (step) => {
    if (step.mitigation) console.log(`monitor: ${step.kind} ${step.mitigation}: ${step.detail}`);
  });
  return monitor;
}
