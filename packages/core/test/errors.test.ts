import { describe, expect, it, vi } from 'vitest';
import { type KeelError, KeelErrorCode } from '../src/index.js';
import { testKeel, traffic } from './helpers.js';

describe('failures inside Keel never reach the app', () => {
  it('a throwing listener is caught, counted and handed to onError', () => {
    const seen: [KeelError, string][] = [];
    const { keel, step } = testKeel({ onError: (error, where) => seen.push([error, where]) });
    keel.on('budget', () => {
      throw new Error('listener bug');
    });
    traffic(keel, 100, { slowShare: 0.5 });
    expect(() => step(3)).not.toThrow();
    expect(seen[0]![1]).toBe('listener:budget');
    expect(seen[0]![0].code).toBe(KeelErrorCode.CallbackFailed);
    expect(keel.errors.total()).toBeGreaterThan(0);
  });

  it('logs a repeated failure once by default, and counts every one', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const { keel } = testKeel();
    for (let i = 0; i < 5; i++) keel.reportError('adapter', new Error('boom'));
    expect(warn).toHaveBeenCalledTimes(1);
    expect(keel.errors.counts.get('adapter')).toBe(5);
    warn.mockRestore();
  });

  it('a throwing onError handler is swallowed too', () => {
    const { keel } = testKeel({
      onError: () => {
        throw new Error('handler bug');
      },
    });
    expect(() => keel.reportError('x', new Error('y'))).not.toThrow();
  });

  it('a throwing dependency check only marks the dependency down', async () => {
    const { keel } = testKeel();
    keel.addCheck({
      name: 'db',
      check: () => {
        throw new Error('sync throw');
      },
    });
    await keel.runChecks();
    expect(keel.readiness().reasons).toEqual(['dependency db: sync throw']);
  });

  it('rejects bad check registrations at setup with a code', () => {
    const { keel } = testKeel();
    expect(() => keel.addCheck({ name: 'bad name!', check: () => true })).toThrowError(
      expect.objectContaining({ code: KeelErrorCode.InvalidOption }),
    );
    keel.addCheck({ name: 'db', check: () => true });
    expect(() => keel.addCheck({ name: 'db', check: () => true })).toThrowError(
      expect.objectContaining({ code: KeelErrorCode.InvalidOption }),
    );
  });

  it('rejects an unknown check option, naming it', () => {
    const { keel } = testKeel();
    const options = { name: 'db', check: () => true, timeoutMs: 500 };
    expect(() => keel.addCheck(options)).toThrowError(
      expect.objectContaining({
        code: KeelErrorCode.InvalidOption,
        message: expect.stringMatching(/`timeoutMs`/),
      }),
    );
  });
});
