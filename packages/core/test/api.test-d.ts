import { describe, expectTypeOf, it } from 'vitest';
import {
  type BudgetSnapshot,
  type BudgetState,
  createKeel,
  type HealthReport,
  type Keel,
  type KeelError,
  type KeelErrorCode,
  type KeelOptions,
} from '../src/index.js';

describe('public types', () => {
  it('createKeel takes optional options and returns a Keel', () => {
    expectTypeOf(createKeel).parameter(0).toEqualTypeOf<KeelOptions | undefined>();
    expectTypeOf(createKeel).returns.toEqualTypeOf<Keel>();
  });

  it('budget options are checked', () => {
    expectTypeOf<{ budgets: { api_latency: { target: number } } }>().toMatchTypeOf<KeelOptions>();
    expectTypeOf<{ budgets: { page_load: false } }>().toMatchTypeOf<KeelOptions>();
    // @ts-expect-error kind must be one of the three budget kinds
    const bad: KeelOptions = { budgets: { mine: { kind: 'speed', signal: 'x', target: 1 } } };
    void bad;
  });

  it('reports are typed', () => {
    expectTypeOf<HealthReport['status']>().toEqualTypeOf<'healthy' | 'degraded' | 'unhealthy'>();
    expectTypeOf<BudgetSnapshot['state']>().toEqualTypeOf<BudgetState>();
    expectTypeOf<BudgetState>().toEqualTypeOf<'ok' | 'at_risk' | 'breached' | 'no_data'>();
    expectTypeOf<KeelError['code']>().toEqualTypeOf<KeelErrorCode>();
  });

  it('events carry typed payloads', () => {
    const keel = createKeel();
    keel.on('budget', (e) => {
      expectTypeOf(e.to).toEqualTypeOf<BudgetState>();
    });
    keel.on('health', (e) => {
      expectTypeOf(e.score).toBeNumber();
    });
    // @ts-expect-error unknown event
    keel.on('nope', () => {});
    void keel.close();
  });
});
