import type { Dispatcher, GiveUpReason } from './dispatcher.js';
import type { IncidentNotification } from './notifier.js';

/**
 * The journal line of one message: who still has to receive it. The last
 * line per `id` wins; an empty `pending` closes it.
 */
export interface OutboxRecord {
  readonly t: 'outbox';
  readonly at: number;
  readonly id: string;
  readonly expiresAt: number;
  /** The message; `null` once `pending` is empty (nothing to re-send). */
  readonly message: IncidentNotification | null;
  readonly pending: readonly string[];
}

interface Entry {
  readonly message: IncidentNotification;
  readonly pending: Set<string>;
  readonly expiresAt: number;
}

export interface OutboxDeps {
  readonly dispatcher: Dispatcher;
  readonly expireAfter: number;
  now(): number;
  /** Writes the record; resolves once it is on disk (or could not be, for now). */
  persist(record: OutboxRecord): Promise<unknown>;
}

/**
 * Notifications survive restarts: a message is recorded in the journal with
 * the notifiers that have yet to receive it before it is handed to the
 * dispatcher, and each delivery (or giving up: expired, overflowed) updates
 * the record. A message still pending when the process stops is sent again on
 * the next start, with its original delivery id so receivers can drop a
 * duplicate, until it is delivered or expires.
 */
export class Outbox {
  readonly #deps: OutboxDeps;
  readonly #entries = new Map<string, Entry>();

  constructor(deps: OutboxDeps) {
    this.#deps = deps;
  }

  /**
   * Records `message` for every notifier and sends it once that record and
   * `after` (the record of the event it announces) have settled.
   */
  send(message: IncidentNotification, after: Promise<unknown> = Promise.resolve()): Promise<void> {
    const names = this.#deps.dispatcher.names;
    if (names.length === 0) return Promise.resolve();
    const entry: Entry = {
      message,
      pending: new Set(names),
      expiresAt: this.#deps.now() + this.#deps.expireAfter,
    };
    this.#entries.set(message.deliveryId, entry);
    const written = this.#persist(entry);
    return Promise.all([after, written]).then(() => {
      this.#deps.dispatcher.send(message, [...entry.pending], entry.expiresAt);
    });
  }

  delivered(message: IncidentNotification, notifier: string): void {
    this.#settle(message, notifier);
  }

  gaveUp(message: IncidentNotification, notifier: string, _reason: GiveUpReason): void {
    this.#settle(message, notifier);
  }

  /** Messages a previous run left pending: the live ones are sent again; the expired ones are closed and returned. */
  restore(records: readonly OutboxRecord[]): OutboxRecord[] {
    const expired: OutboxRecord[] = [];
    const now = this.#deps.now();
    const names = new Set(this.#deps.dispatcher.names);
    for (const r of records) {
      const pending = r.pending.filter((n) => names.has(n));
      if (!r.message || pending.length === 0) continue;
      const entry: Entry = { message: r.message, pending: new Set(pending), expiresAt: r.expiresAt };
      if (now >= r.expiresAt) {
        expired.push(r);
        entry.pending.clear();
        void this.#persist(entry);
        continue;
      }
      this.#entries.set(r.message.deliveryId, entry);
      this.#deps.dispatcher.send(r.message, pending, r.expiresAt);
    }
    return expired;
  }

  /** The records still open, for the top of a rotated journal. */
  records(): OutboxRecord[] {
    return [...this.#entries.values()].map((e) => this.#record(e));
  }

  #settle(message: IncidentNotification, notifier: string): void {
    const entry = this.#entries.get(message.deliveryId);
    if (!entry?.pending.delete(notifier)) return;
    if (entry.pending.size === 0) this.#entries.delete(message.deliveryId);
    void this.#persist(entry);
  }

  #persist(entry: Entry): Promise<unknown> {
    return this.#deps.persist(this.#record(entry));
  }

  #record(entry: Entry): OutboxRecord {
    const done = entry.pending.size === 0;
    return {
      t: 'outbox',
      at: this.#deps.now(),
      id: entry.message.deliveryId,
      expiresAt: entry.expiresAt,
      message: done ? null : entry.message,
      pending: [...entry.pending],
    };
  }
}
