/**
 * All of Keel's time comes from a `Clock`, so tests can run hours of windows,
 * hysteresis and stability in milliseconds.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Schedules `fn` once after `ms`; the handle must not keep the process alive. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export type TimerHandle = { readonly __timer: unique symbol } | object;

/** The real clock: `Date.now()` and `unref()`'d Node timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return timer;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

/** A manual clock for tests. Timers fire, in order, only when the clock is advanced. */
export interface FakeClock extends Clock {
  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void;
  /** Like `advance`, but lets pending promises settle after each timer fires. */
  advanceAsync(ms: number): Promise<void>;
  /** Sets the wall time without firing timers (a clock jump). */
  set(epochMs: number): void;
  /** Timers not yet fired. */
  pending(): number;
}

interface FakeTimer {
  at: number;
  seq: number;
  fn: () => void;
}

export function createFakeClock(startEpochMs = Date.UTC(2026, 0, 1)): FakeClock {
  let now = startEpochMs;
  let seq = 0;
  const timers = new Set<FakeTimer>();

  const nextDue = (until: number): FakeTimer | undefined => {
    let best: FakeTimer | undefined;
    for (const t of timers) {
      if (t.at <= until && (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq))) best = t;
    }
    return best;
  };

  return {
    now: () => now,
    setTimeout(fn, ms) {
      const timer: FakeTimer = { at: now + Math.max(0, ms), seq: seq++, fn };
      timers.add(timer);
      return timer;
    },
    clearTimeout(handle) {
      timers.delete(handle as FakeTimer);
    },
    advance(ms) {
      const until = now + ms;
      for (let t = nextDue(until); t; t = nextDue(until)) {
        timers.delete(t);
        now = t.at;
        t.fn();
      }
      now = until;
    },
    async advanceAsync(ms) {
      const until = now + ms;
      await flushPromises();
      for (let t = nextDue(until); t; t = nextDue(until)) {
        timers.delete(t);
        now = t.at;
        t.fn();
        await flushPromises();
      }
      now = until;
      await flushPromises();
    },
    set(epochMs) {
      now = epochMs;
    },
    pending: () => timers.size,
  };
}

async function flushPromises(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
