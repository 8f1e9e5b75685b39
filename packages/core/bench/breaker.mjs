// Benchmark 4: the cost of guarding one call with a circuit breaker, paid per
// request by every call to a guarded dependency. Keel's `keel.breaker().run`
// against opossum (the usual Node circuit breaker) and against calling the
// dependency directly. The dependency is an already-resolved async function,
// so what is timed is the breaker's own bookkeeping and its promise hops.

import CircuitBreaker from 'opossum';
import { createKeel, systemClock } from '../dist/index.js';
import { compare, printTable } from './harness.mjs';

const ITERATIONS = 200_000;

export async function benchBreaker() {
  // The system clock: the breaker times each call, as it does in production.
  const keel = createKeel({ runtime: false, clock: systemClock });
  const keelBreaker = keel.breaker({ name: 'bench' });
  const dependency = async () => 1;
  const opossum = new CircuitBreaker(dependency, { timeout: false, errorThresholdPercentage: 50 });

  const variants = [
    {
      name: 'direct call',
      async run(n) {
        for (let i = 0; i < n; i++) await dependency();
      },
    },
    {
      name: 'keel breaker.run',
      async run(n) {
        for (let i = 0; i < n; i++) await keelBreaker.run(dependency);
      },
    },
    {
      name: 'opossum fire',
      async run(n) {
        for (let i = 0; i < n; i++) await opossum.fire();
      },
    },
  ];
  const results = await compare(variants, { iterations: ITERATIONS });
  printTable('4. Guarding one async call with a circuit breaker', results, {
    against: ['opossum fire', 'direct call'],
  });
  const [direct, keelRun] = results;
  console.log(`  Keel adds ${(keelRun.median - direct.median).toFixed(0)} ns per guarded call.`);
  opossum.shutdown();
  await keel.close();
}
