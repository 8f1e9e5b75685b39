import { checkKnownKeys, HTTP_SIGNAL, invalidOptionOf, type TimerHandle } from '@keel/core';
import type { PoolClient } from 'pg';
import { type AdvisorThresholds, checkThresholds } from './advisor/advisor-options.js';
import {
  MAINTENANCE_TABLES_SQL,
  type MaintenanceTableRow,
  maintenanceNeeds,
} from './advisor/maintenance-needs.js';
import { quoteIdent } from './advisor/sql-text.js';
import type { KeelPool } from './pool.js';

export interface MaintenanceOptions {
  /**
   * When maintenance may run: `HH:MM` to `HH:MM` in `timeZone`; a window
   * crossing midnight (`22:00`–`04:00`) works. @default { start: '02:00', end: '05:00', timeZone: 'UTC' }
   */
  window?: { start: string; end: string; timeZone?: string };
  /**
   * Only while the app serves fewer requests per second than this, averaged
   * over Keel's window (`http.server.request.duration` samples). @default 5
   */
  maxRequestsPerSecond?: number;
  /** Each statement gives up rather than wait this long for a lock, ms. @default 5000 */
  lockTimeoutMs?: number;
  /** How often `start()` looks for work, ms. @default 900000 (15 min) */
  intervalMs?: number;
  /** Which tables need what; the advisor's thresholds. */
  thresholds?: AdvisorThresholds;
  /** Runs kept for `runs()`. @default 100 */
  keep?: number;
  /** Called after each statement, with its record. */
  onRun?: (run: MaintenanceRun) => void;
}

export interface MaintenanceRun {
  readonly table: string;
  readonly action: 'VACUUM (ANALYZE)' | 'ANALYZE';
  /** Clock time it started, ms since the epoch. */
  readonly startedAt: number;
  readonly durationMs: number;
  readonly ok: boolean;
  readonly error: string | null;
}

export interface MaintenancePass {
  /** Why nothing (or not everything) ran, or `null` when the pass ran to the end. */
  readonly skipped: string | null;
  readonly runs: readonly MaintenanceRun[];
}

export interface MaintenanceRunner {
  /** Looks once: inside the window and at a low request rate, runs what the tables need, one at a time. */
  runOnce(): Promise<MaintenancePass>;
  /** Every statement run so far (up to `keep`), oldest first. */
  runs(): readonly MaintenanceRun[];
  /** Looks every `intervalMs` (an unref'd timer) until `stop()`. */
  start(): void;
  stop(): void;
}

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;
const WHO = 'createMaintenance';
const OPTION_KEYS: ReadonlySet<string> = new Set([
  'window',
  'maxRequestsPerSecond',
  'lockTimeoutMs',
  'intervalMs',
  'thresholds',
  'keep',
  'onRun',
]);
const WINDOW_KEYS: ReadonlySet<string> = new Set(['start', 'end', 'timeZone']);

/** `value` must be an object holding only `keys`; the error names the first other key with its path. */
function objectOf(path: string, value: unknown, keys: ReadonlySet<string>): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalidOptionOf(WHO, path || 'options', 'must be an object', value);
  checkKnownKeys(value, keys, (key, rule, got) =>
    invalidOptionOf(WHO, path ? `${path}.${key}` : key, rule, got),
  );
}

function minutesOf(path: string, value: unknown): number {
  const m = typeof value === 'string' ? HHMM.exec(value) : null;
  if (!m) throw invalidOptionOf(WHO, path, 'must be "HH:MM" (24 h)', value);
  return Number(m[1]) * 60 + Number(m[2]);
}

function positive(path: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    throw invalidOptionOf(WHO, path, 'must be a positive number', value);
  return value;
}

/** Minutes since midnight of `epochMs` in the formatter's time zone. */
function minuteOfDay(epochMs: number, format: Intl.DateTimeFormat): number {
  const parts = format.formatToParts(new Date(epochMs));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return get('hour') * 60 + get('minute');
}

/**
 * A maintenance runner on a Keel pool: `ANALYZE` or `VACUUM (ANALYZE)` on
 * the tables that need it (by the advisor's thresholds), one table at a time,
 * each with a `lock_timeout`, only inside the window and while the app is
 * quiet; every statement is recorded. Its statements are not recorded in
 * Keel's DB signal: maintenance is not the app's traffic.
 */
export function createMaintenance(pool: KeelPool, options: MaintenanceOptions = {}): MaintenanceRunner {
  objectOf('', options, OPTION_KEYS);
  if (options.window !== undefined) objectOf('window', options.window, WINDOW_KEYS);
  const thresholds = checkThresholds(WHO, options.thresholds);
  if (options.onRun !== undefined && typeof options.onRun !== 'function')
    throw invalidOptionOf(WHO, 'onRun', 'must be a function', options.onRun);
  const window = options.window ?? { start: '02:00', end: '05:00' };
  const start = minutesOf('window.start', window.start);
  const end = minutesOf('window.end', window.end);
  const timeZone = window.timeZone ?? 'UTC';
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
  } catch {
    throw invalidOptionOf(WHO, 'window.timeZone', 'must be an IANA time zone', timeZone);
  }
  const maxRate = positive('maxRequestsPerSecond', options.maxRequestsPerSecond, 5);
  const lockTimeoutMs = Math.round(positive('lockTimeoutMs', options.lockTimeoutMs, 5000));
  const intervalMs = positive('intervalMs', options.intervalMs, 15 * 60_000);
  const keep = Math.round(positive('keep', options.keep, 100));
  const { keel } = pool;
  const clock = keel.config.clock;
  const history: MaintenanceRun[] = [];
  let timer: TimerHandle | undefined;
  let running: Promise<MaintenancePass> | undefined;
  let stopped = true;

  const inWindow = () => {
    const now = minuteOfDay(clock.now(), format);
    return start <= end ? now >= start && now < end : now >= start || now < end;
  };
  const requestRate = () => {
    const http = keel.health().signals.find((s) => s.name === HTTP_SIGNAL);
    const seconds = (keel.config.windowIntervals * keel.config.interval) / 1000;
    return http ? http.samples / seconds : 0;
  };
  const blocked = (): string | null => {
    if (!inWindow()) return `outside the maintenance window ${window.start}-${window.end} ${timeZone}`;
    const rate = requestRate();
    if (rate >= maxRate) return `request rate ${rate.toFixed(2)}/s is not below ${maxRate}/s`;
    return null;
  };

  const record = (run: MaintenanceRun) => {
    history.push(run);
    if (history.length > keep) history.shift();
    try {
      options.onRun?.(run);
    } catch (error) {
      keel.reportError('pg.maintenance.onRun', error);
    }
  };

  const pass = async (): Promise<MaintenancePass> => {
    const reason = blocked();
    if (reason) return { skipped: reason, runs: [] };
    const runs: MaintenanceRun[] = [];
    let client: PoolClient;
    try {
      // A connection of the wrapped pool, not an instrumented one: these statements are not app traffic.
      client = await pool.inner.connect();
    } catch (error) {
      return { skipped: `cannot connect: ${(error as Error).message}`, runs };
    }
    let broken = false;
    try {
      await client.query(`SET lock_timeout = ${lockTimeoutMs}`);
      const tables = (await client.query(MAINTENANCE_TABLES_SQL)).rows as MaintenanceTableRow[];
      const todo = tables
        .map((row) => ({ row, needs: maintenanceNeeds(row, thresholds) }))
        .filter(({ needs }) => needs.vacuum || needs.analyze);
      for (const { row, needs } of todo) {
        // Conditions are checked again before each table: traffic may have come back.
        const now = blocked();
        if (now) return { skipped: now, runs };
        const name = `${quoteIdent(row.schema)}.${quoteIdent(row.table)}`;
        const action = needs.vacuum ? 'VACUUM (ANALYZE)' : 'ANALYZE';
        const startedAt = clock.now();
        const t0 = performance.now();
        let error: string | null = null;
        try {
          await client.query(`${action} ${name}`);
        } catch (e) {
          error = (e as Error).message;
        }
        const run: MaintenanceRun = {
          table: `${row.schema}.${row.table}`,
          action,
          startedAt,
          durationMs: performance.now() - t0,
          ok: error === null,
          error,
        };
        runs.push(run);
        record(run);
      }
      return { skipped: null, runs };
    } catch (error) {
      broken = true;
      return { skipped: `failed: ${(error as Error).message}`, runs };
    } finally {
      // The connection goes back to the app's pool: without the setting it came with.
      if (!broken) await client.query('RESET lock_timeout').catch(() => (broken = true));
      client.release(broken);
    }
  };

  const schedule = () => {
    if (stopped) return;
    timer = clock.setTimeout(() => {
      timer = undefined;
      runner.runOnce().then(schedule, (error: unknown) => {
        keel.reportError('pg.maintenance', error);
        schedule();
      });
    }, intervalMs);
  };

  const runner: MaintenanceRunner = {
    runOnce() {
      // One pass at a time: a second call while one runs shares it.
      running ??= pass().finally(() => {
        running = undefined;
      });
      return running;
    },
    runs: () => history.slice(),
    start() {
      if (!stopped) return;
      stopped = false;
      schedule();
    },
    stop() {
      stopped = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
    },
  };
  keel.onShutdown(() => runner.stop(), `pg-maintenance:${pool.name}`);
  return runner;
}
