import type { Keel } from '@keel/core';
import { TcpProxy } from '@keel/dev-postgres';
import type { KeelPool } from '@keel/pg';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createTestDatabase, type TestDatabase } from './database.js';

/** What a test file's fixture holds; filled in by its `beforeAll`. */
export interface DatabaseFixture {
  readonly db: TestDatabase;
  /** Pools made by a test, with their Keel: ended (and closed) after each test. */
  readonly open: { keel: Keel; pool: KeelPool }[];
}

export interface ProxiedFixture extends DatabaseFixture {
  readonly proxy: TcpProxy;
  /** The test database's URL through the proxy. */
  proxiedUrl(): string;
}

/**
 * A database of the file's own (see `createTestDatabase`), dropped after the
 * file, and every pool a test put in `open` ended after that test. `setup`
 * runs once the database exists (tables, rows).
 */
export function useDatabase(label: string, setup?: (db: TestDatabase) => Promise<void>): DatabaseFixture {
  const fixture = { open: [] } as unknown as { db: TestDatabase; open: DatabaseFixture['open'] };
  beforeAll(async () => {
    fixture.db = await createTestDatabase(label);
    await setup?.(fixture.db);
  });
  afterAll(async () => {
    await fixture.db?.close();
  });
  afterEach(async () => {
    await endPools(fixture.open);
  });
  return fixture;
}

/**
 * `useDatabase` with a `TcpProxy` in front of it, started, and put back to
 * forwarding (listening, no fault) after each test, before its pools end.
 */
export function useProxiedDatabase(label: string): ProxiedFixture {
  const fixture = {
    open: [] as DatabaseFixture['open'],
    proxiedUrl() {
      const url = new URL(fixture.db.url);
      url.port = String(fixture.proxy.port);
      return url.toString();
    },
  } as { db: TestDatabase; proxy: TcpProxy; open: DatabaseFixture['open']; proxiedUrl(): string };
  beforeAll(async () => {
    fixture.db = await createTestDatabase(label);
    const target = new URL(fixture.db.url);
    fixture.proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
    await fixture.proxy.start();
  });
  afterAll(async () => {
    await fixture.proxy?.stop();
    await fixture.db?.close();
  });
  afterEach(async () => {
    fixture.proxy.forward();
    await fixture.proxy.start();
    await endPools(fixture.open);
  });
  return fixture;
}

async function endPools(open: DatabaseFixture['open']): Promise<void> {
  for (const { keel, pool } of open.splice(0)) {
    await pool.end();
    await keel.close();
  }
}
