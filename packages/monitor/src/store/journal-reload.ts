import { type Clock, KeelError, KeelErrorCode } from '@keel/core';
import type { MonitorStep } from '../cycle/cycle-state.js';
import type { Incident } from '../incidents/incident.js';
import type { OutboxRecord } from '../notify/outbox.js';
import type { MonitorConfig } from '../options.js';
import { Journal } from './journal.js';

/** What the monitor writes to its journal, one JSON line each. */
export type JournalRecord =
  | { readonly t: 'incident'; readonly at: number; readonly incident: Incident }
  | { readonly t: 'step'; readonly at: number; readonly step: MonitorStep }
  | OutboxRecord;

/** The key a record replaces its own older, not yet written, self by (the journal coalesces them). */
export function keyOf(record: JournalRecord): string | undefined {
  if (record.t === 'incident') return `incident:${record.incident.id}`;
  if (record.t === 'outbox') return `outbox:${record.id}`;
  return undefined;
}

/** What a previous run left, ready to be taken back. */
export interface Reloaded {
  /** Steps, oldest first. */
  readonly steps: MonitorStep[];
  /** The newest open incident (if any) and the resolved ones, oldest first. */
  readonly incidents: Incident[];
  /** Messages some notifier has not received yet (the last record of each). */
  readonly outbox: OutboxRecord[];
  /** Unreadable lines skipped (a torn write after a crash). */
  readonly skipped: number;
}

/**
 * Reads the journal back. Each incident's last record wins. Only the newest
 * open incident carries on; an older one left open by a crash is resolved as
 * superseded, and that is written back so it happens once.
 */
export function reloadJournal(
  journal: Journal<JournalRecord>,
  now: number,
  keepIncidents: number,
  prepare: () => void = () => {},
): Reloaded {
  let loaded: ReturnType<typeof journal.load>;
  try {
    loaded = journal.load();
    prepare();
  } catch (error) {
    throw new KeelError(
      KeelErrorCode.InvalidOption,
      `createMonitor: option \`dir\` (${journal.config.dir}) cannot be used: ${error instanceof Error ? error.message : String(error)}.`,
      { cause: error },
    );
  }
  const steps: MonitorStep[] = [];
  const byId = new Map<string, Incident>();
  const seqs = new Set<number>();
  const outbox = new Map<string, OutboxRecord>();
  for (const r of loaded.records) {
    if (r?.t === 'incident' && r.incident?.id) byId.set(r.incident.id, r.incident);
    else if (r?.t === 'outbox' && typeof r.id === 'string') outbox.set(r.id, r);
    else if (r?.t === 'step' && r.step && !seqs.has(r.step.seq)) {
      // A retried write can leave a step twice: one is enough.
      seqs.add(r.step.seq);
      steps.push(r.step);
    }
  }
  const all = [...byId.values()].sort((a, b) => a.openedAt - b.openedAt);
  const open = all.filter((i) => i.status === 'open');
  for (const stale of open.slice(0, -1)) {
    stale.status = 'resolved';
    stale.resolvedAt = stale.openedAt;
    stale.timeline.push({ kind: 'note', at: now, detail: 'superseded by a newer open incident on reload' });
    // Written back, or the next restart would find it open and supersede it again.
    void journal.append({ t: 'incident', at: now, incident: stale }, `incident:${stale.id}`);
  }
  const incidents = all
    .filter((i) => i.status === 'open')
    .concat(all.filter((i) => i.status === 'resolved').slice(-keepIncidents));
  const pending = [...outbox.values()].filter((r) => r.pending?.length > 0 && r.message);
  return { steps, incidents, outbox: pending, skipped: loaded.skipped };
}

/**
 * Opens the journal in `config.dir` (a directory that cannot be used fails
 * `createMonitor` with `KEEL_INVALID_OPTION`), reads back what a previous run
 * left and hands it to `restore`; a torn line is reported, not fatal.
 */
export function openJournal(
  config: MonitorConfig,
  clock: Clock,
  report: (where: string, error: unknown) => void,
  use: { snapshot(): JournalRecord[]; prepare(): void; restore(reloaded: Reloaded): void },
): Journal<JournalRecord> {
  const journal = new Journal<JournalRecord>(
    {
      dir: config.dir!,
      maxBytes: config.maxFileBytes,
      maxFiles: config.maxFiles,
      maxPending: config.journal.maxPending,
      retryDelay: config.journal.retryDelay,
      maxRetryDelay: config.journal.maxRetryDelay,
    },
    clock,
    use.snapshot,
    report,
  );
  const reloaded = reloadJournal(journal, clock.now(), config.keepIncidents, use.prepare);
  if (reloaded.skipped > 0)
    report(
      'monitor-journal',
      new Error(
        `${reloaded.skipped} unreadable line(s) in ${journal.path} skipped (a torn write after a crash?)`,
      ),
    );
  use.restore(reloaded);
  return journal;
}
