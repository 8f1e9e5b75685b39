import { describe, expectTypeOf, it } from 'vitest';
import type {
  Bottleneck,
  IndexAdvice,
  Keel,
  KeelOptions,
  OptimiseEffort,
  OptimiseReport,
  OptimiseSource,
  PoolAdvice,
  TrafficProfile,
} from '../src/index.js';

describe('the optimisation loop’s public types', () => {
  it('keel.optimise() resolves with a report; the optimiser is undefined when off', () => {
    expectTypeOf<Keel['optimise']>().returns.toEqualTypeOf<Promise<OptimiseReport>>();
    expectTypeOf<
      ReturnType<NonNullable<Keel['optimiser']>['trafficProfile']>
    >().toEqualTypeOf<TrafficProfile | null>();
    expectTypeOf<{ optimise: false }>().toMatchTypeOf<KeelOptions>();
    expectTypeOf<{ optimise: { triggerMs: 500; traffic: false } }>().toMatchTypeOf<KeelOptions>();
  });

  it('a bottleneck narrows on its kind to its details', () => {
    const fixOf = (b: Bottleneck): string => {
      switch (b.kind) {
        case 'index':
          expectTypeOf(b.details).toEqualTypeOf<IndexAdvice>();
          return b.details.statement;
        case 'pool':
          expectTypeOf(b.details).toMatchTypeOf<PoolAdvice>();
          return `${b.details.from} → ${b.details.to}`;
        case 'n-plus-one':
          return b.fingerprint;
        case 'cache':
          return String(b.details.ttlSeconds);
        case 'cpu':
          return `${b.details.file}:${b.details.line}`;
      }
    };
    void fixOf;
    expectTypeOf<Bottleneck['effort']>().toEqualTypeOf<OptimiseEffort>();
    expectTypeOf<OptimiseEffort>().toEqualTypeOf<'index' | 'cache' | 'pool' | 'code'>();
  });

  it('a source answers asynchronously', () => {
    expectTypeOf<OptimiseSource['analyse']>().returns.toMatchTypeOf<Promise<unknown>>();
  });
});
