import { describe, expectTypeOf, it } from 'vitest';
import {
  type BudgetSnapshot,
  type CircuitStats,
  createKeel,
  type EndpointDetails,
  type HealthReport,
  type KeelOptions,
  type ReportOptions,
  type VitalsStats,
} from '../src/index.js';

describe('public types of issue 14/15 core options', () => {
  it('takes the new options, and refuses misspelt values', () => {
    expectTypeOf<{
      budgets: { api_latency: { maxSilence: number } };
      health: { cache: { minLookups: number; missRatio: { ok: number } } };
      endpoints: { details: 'token' };
      vitals: { secret: string; trustProxy: number; perClient: { recorded: number; accepted: number } };
    }>().toMatchTypeOf<KeelOptions>();
    expectTypeOf<{ health: { cache: false } }>().toMatchTypeOf<KeelOptions>();
    expectTypeOf<EndpointDetails>().toEqualTypeOf<'authorized' | 'token' | 'always' | 'never'>();
    // @ts-expect-error not a way of showing details
    const bad: KeelOptions = { endpoints: { details: 'sometimes' } };
    void bad;
  });

  it('reports breakers, silence and capped beacons', () => {
    expectTypeOf<HealthReport['breakers']>().toEqualTypeOf<readonly CircuitStats[]>();
    expectTypeOf<BudgetSnapshot['lastSampleAt']>().toEqualTypeOf<number | null>();
    expectTypeOf<VitalsStats['capped']>().toBeNumber();
    const keel = createKeel();
    expectTypeOf(keel.health).parameter(0).toEqualTypeOf<ReportOptions | undefined>();
    expectTypeOf(keel.vitals!.pageToken).returns.toBeString();
    void keel.close();
  });
});
