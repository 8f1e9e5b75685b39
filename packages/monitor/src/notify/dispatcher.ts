import type { Clock, TimerHandle } from '@keel/core';
import type { IncidentNotification, Notifier } from './notifier.js';

export interface DeliveryConfig {
  /** Messages waiting per notifier; past it the oldest is dropped (and counted). */
  readonly maxQueue: number;
  /** Attempts per message, the first included; `Infinity`: until delivered or expired. */
  readonly maxAttempts: number;
  /** A message not delivered this long after it was sent is given up on (expired), ms. */
  readonly expireAfter: number;
  /** Wait before the first retry, doubled each time up to `maxBackoff`, ms. */
  readonly backoff: number;
  readonly maxBackoff: number;
  /** An attempt that has not settled by then is abandoned (and its signal aborted), ms. */
  readonly timeout: number;
}

export interface NotifierStats {
  readonly name: string;
  readonly sent: number;
  /** Attempts that failed or timed out (each retry counts). */
  readonly failedAttempts: number;
  /** Messages given up on after `maxAttempts`. */
  readonly exhausted: number;
  /** Messages given up on because they were older than `expireAfter`. */
  readonly expired: number;
  /** Messages pushed out of a full queue. */
  readonly overflowed: number;
  /** exhausted + expired + overflowed: what never arrived. */
  readonly dropped: number;
  readonly queued: number;
  readonly lastError: string | null;
}

interface Item {
  readonly message: IncidentNotification;
  attempts: number;
  /** Epoch ms past which it is given up on. */
  readonly expiresAt: number;
}

interface Lane {
  readonly notifier: Notifier;
  readonly queue: Item[];
  busy: boolean;
  /** The message being attempted (out of the queue, so overflow cannot drop it mid-flight). */
  current: Item | undefined;
  timer: TimerHandle | undefined;
  sent: number;
  failedAttempts: number;
  exhausted: number;
  expired: number;
  overflowed: number;
  lastError: string | null;
}

/** Why a message was given up on for one notifier. */
export type GiveUpReason = 'exhausted' | 'expired' | 'overflowed';

export interface DispatcherEvents {
  delivered(message: IncidentNotification, notifier: string): void;
  gaveUp(message: IncidentNotification, notifier: string, reason: GiveUpReason, error: string | null): void;
}

/**
 * Delivers each message to every notifier, in order per notifier, one attempt
 * in flight per notifier, retried with backoff until delivered, expired
 * (`expireAfter`) or, when set, `maxAttempts` are spent. Nothing here can
 * block or throw into the app: an attempt is abandoned after `timeout` even if
 * the notifier ignores its signal, retries back off on the Keel clock, and
 * the queue is bounded.
 */
export class Dispatcher {
  readonly #lanes: Lane[];
  readonly #clock: Clock;
  readonly #config: DeliveryConfig;
  readonly #report: (where: string, error: unknown) => void;
  readonly #on: DispatcherEvents;
  /** Attempts in flight (each settles by its timeout at the latest). */
  readonly #attempts = new Set<Promise<unknown>>();
  #closed = false;
  readonly #idle = new Set<() => void>();

  constructor(
    notifiers: readonly Notifier[],
    clock: Clock,
    config: DeliveryConfig,
    report: (where: string, error: unknown) => void,
    on: DispatcherEvents,
  ) {
    this.#lanes = notifiers.map((notifier) => ({
      notifier,
      queue: [],
      busy: false,
      current: undefined,
      timer: undefined,
      sent: 0,
      failedAttempts: 0,
      exhausted: 0,
      expired: 0,
      overflowed: 0,
      lastError: null,
    }));
    this.#clock = clock;
    this.#config = config;
    this.#report = report;
    this.#on = on;
  }

  get size(): number {
    return this.#lanes.length;
  }

  get names(): string[] {
    return this.#lanes.map((l) => l.notifier.name);
  }

  /**
   * Queues `message` for every notifier (or only those named in `to`, a
   * message reloaded from the outbox), given up on at `expiresAt`.
   */
  send(
    message: IncidentNotification,
    to?: readonly string[],
    expiresAt = this.#clock.now() + this.#config.expireAfter,
  ): void {
    if (this.#closed) return;
    for (const lane of this.#lanes) {
      if (to && !to.includes(lane.notifier.name)) continue;
      if (lane.queue.length >= this.#config.maxQueue) {
        const dropped = lane.queue.shift()!;
        lane.overflowed++;
        this.#gaveUp(lane, dropped, 'overflowed');
      }
      lane.queue.push({ message, attempts: 0, expiresAt });
      this.#pump(lane);
    }
  }

  stats(): NotifierStats[] {
    return this.#lanes.map((l) => ({
      name: l.notifier.name,
      sent: l.sent,
      failedAttempts: l.failedAttempts,
      exhausted: l.exhausted,
      expired: l.expired,
      overflowed: l.overflowed,
      dropped: l.exhausted + l.expired + l.overflowed,
      queued: l.queue.length + (l.current ? 1 : 0),
      lastError: l.lastError,
    }));
  }

  /** Resolves when no attempt is in flight (retries waiting for their backoff aside). */
  async attemptsSettled(): Promise<void> {
    while (this.#attempts.size > 0) await Promise.all([...this.#attempts]);
  }

  /** Resolves when nothing is queued or in flight (tests, and a last chance before exit). */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idle.add(resolve));
  }

  /**
   * Stops retries. Messages still queued are not given up on: with a
   * journal they stay in the outbox for the next start.
   */
  close(): void {
    this.#closed = true;
    for (const lane of this.#lanes) {
      if (lane.timer !== undefined) this.#clock.clearTimeout(lane.timer);
      lane.timer = undefined;
      lane.queue.length = 0;
      if (!lane.busy) lane.current = undefined;
    }
    this.#checkIdle();
  }

  #gaveUp(lane: Lane, item: Item, reason: GiveUpReason): void {
    try {
      this.#on.gaveUp(item.message, lane.notifier.name, reason, lane.lastError);
    } catch (error) {
      this.#report('notify-gave-up', error);
    }
  }

  #isIdle(): boolean {
    return this.#lanes.every((l) => l.queue.length === 0 && !l.busy && l.current === undefined);
  }

  #checkIdle(): void {
    if (!this.#isIdle()) return;
    for (const resolve of this.#idle) resolve();
    this.#idle.clear();
  }

  #pump(lane: Lane): void {
    if (lane.busy || lane.timer !== undefined || this.#closed) return;
    // A message waiting for its retry is `current`; otherwise take the oldest queued.
    let item = lane.current ?? lane.queue.shift();
    while (item && this.#clock.now() >= item.expiresAt) {
      lane.expired++;
      this.#gaveUp(lane, item, 'expired');
      item = lane.queue.shift();
    }
    lane.current = item;
    if (!item) {
      this.#checkIdle();
      return;
    }
    lane.busy = true;
    item.attempts++;
    const controller = new AbortController();
    let timer: TimerHandle | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = this.#clock.setTimeout(() => {
        const error = new Error(`no answer within ${this.#config.timeout} ms`);
        controller.abort(error);
        reject(error);
      }, this.#config.timeout);
    });
    let attempt: Promise<unknown>;
    try {
      attempt = Promise.resolve(lane.notifier.send(item.message, controller.signal));
    } catch (error) {
      attempt = Promise.reject(error);
    }
    const settled = Promise.race([attempt, timedOut])
      .then(
        () => {
          lane.sent++;
          lane.current = undefined;
          try {
            this.#on.delivered(item.message, lane.notifier.name);
          } catch (error) {
            this.#report('notify-delivered', error);
          }
        },
        (error: unknown) => {
          lane.failedAttempts++;
          lane.lastError = error instanceof Error ? error.message : String(error);
          if (this.#closed) {
            // Left in the outbox (with a journal) for the next start.
            lane.current = undefined;
            return;
          }
          if (item.attempts === 1)
            this.#report(
              `notifier:${lane.notifier.name}`,
              new Error(`delivering ${item.message.type} failed (retried): ${lane.lastError}`),
            );
          const wait = Math.min(this.#config.backoff * 2 ** (item.attempts - 1), this.#config.maxBackoff);
          const exhausted = item.attempts >= this.#config.maxAttempts;
          if (exhausted || this.#clock.now() + wait >= item.expiresAt) {
            lane.current = undefined;
            if (exhausted) lane.exhausted++;
            else lane.expired++;
            this.#report(
              `notifier:${lane.notifier.name}`,
              new Error(
                `gave up on ${item.message.type} after ${item.attempts} attempts (${exhausted ? 'maxAttempts' : 'expired'}): ${lane.lastError}`,
              ),
            );
            this.#gaveUp(lane, item, exhausted ? 'exhausted' : 'expired');
            return;
          }
          lane.timer = this.#clock.setTimeout(() => {
            lane.timer = undefined;
            this.#pump(lane);
          }, wait);
        },
      )
      .finally(() => {
        if (timer !== undefined) this.#clock.clearTimeout(timer);
        // A notifier that ignored the abort may still settle later; nothing waits for it.
        attempt.catch(() => {});
        lane.busy = false;
        this.#attempts.delete(settled);
        this.#pump(lane);
      });
    this.#attempts.add(settled);
  }
}
