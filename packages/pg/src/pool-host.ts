import type { Keel } from '@keel/core';
import type { Pool } from 'pg';
import type { PgEvent } from './events.js';
import type { PoolConfigResolved } from './options.js';
import type { PoolCounters } from './pool-metrics.js';

/**
 * What the pool's parts (guards, deadlines, recording, sizing) read from the
 * pool that owns them: the `KeelPool` itself, seen through its public fields.
 */
export interface PoolHost {
  readonly name: string;
  readonly keel: Keel;
  readonly config: PoolConfigResolved;
  readonly counters: PoolCounters;
  /** The wrapped node-postgres pool. */
  readonly inner: Pool;
  readonly max: number;
}

/** Hands `event` to the pool's `onEvent`; a throwing handler is reported to Keel, never to the app. */
export function emitEvent(pool: PoolHost, event: PgEvent): void {
  try {
    pool.config.onEvent(event);
  } catch (error) {
    pool.keel.reportError('pg.onEvent', error);
  }
}
