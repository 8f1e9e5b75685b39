import { describe, expect, it } from 'vitest';
import { createFakeClock, createKeel, KeelErrorCode } from '../src/index.js';

const fail = () => Promise.reject(new Error('down'));
const ok = () => Promise.resolve('fresh');

function setup(consecutiveFailures?: number) {
  const clock = createFakeClock();
  const keel = createKeel({ clock, runtime: false });
  const breaker = keel.breaker({ name: 'db', minimumCalls: 50, window: 60_000, consecutiveFailures });
  return { breaker };
}

describe('circuit breaker: failures in a row', () => {
  it('trips after consecutiveFailures failures in a row, though successes fill the window', async () => {
    const { breaker } = setup(3);
    for (let i = 0; i < 100; i++) await breaker.run(ok);
    await breaker.run(fail).catch(() => {});
    await breaker.run(fail).catch(() => {});
    expect(breaker.state).toBe('closed');
    await breaker.run(fail).catch(() => {});
    expect(breaker.stats()).toMatchObject({ state: 'open', reason: 'tripped: 3 calls failed in a row' });
  });

  it('a success between failures starts the count again', async () => {
    const { breaker } = setup(3);
    for (let i = 0; i < 5; i++) {
      await breaker.run(fail).catch(() => {});
      await breaker.run(fail).catch(() => {});
      await breaker.run(ok);
    }
    expect(breaker.state).toBe('closed');
  });

  it('without the option only the ratio trips it', async () => {
    const { breaker } = setup();
    for (let i = 0; i < 100; i++) await breaker.run(ok);
    for (let i = 0; i < 20; i++) await breaker.run(fail).catch(() => {});
    expect(breaker.state).toBe('closed');
  });

  it('rejects a count that is not a positive integer', () => {
    const keel = createKeel({ runtime: false });
    expect(() => keel.breaker({ name: 'x', consecutiveFailures: 0 })).toThrow(
      expect.objectContaining({ code: KeelErrorCode.InvalidOption }),
    );
  });
});
