import { createKeel, KeelErrorCode } from '@keel/core';
import { createPool, type KeelPool, type PgEvent } from '@keel/pg';
import { describe, expect, it, vi } from 'vitest';
import { sql } from './helpers/database.js';
import { useDatabase } from './helpers/fixtures.js';

// Issue 15, item 3: resize and recycle really change the connections, as
// pg_stat_activity sees them from outside the pool.

const fixture = useDatabase('sizing');
const { open } = fixture;
let app = 0;

function setup(max: number) {
  const applicationName = `keel_sizing_${process.pid}_${++app}`;
  const events: PgEvent[] = [];
  const keel = createKeel({ service: 'pg-sizing', runtime: false });
  const pool = createPool(keel, {
    pg: { ...fixture.db.config, application_name: applicationName, max },
    healthCheck: false,
    onEvent: (e) => events.push(e),
  });
  open.push({ keel, pool });
  const backends = async () =>
    (
      await sql<{ pid: number; state: string }>(
        fixture.db,
        'SELECT pid, state FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid',
        [applicationName],
      )
    ).map((r) => r.pid);
  return { keel, pool, events, backends };
}

const fill = (pool: KeelPool, n: number, seconds = 0.02) =>
  Promise.all(Array.from({ length: n }, () => pool.query(`SELECT pg_sleep(${seconds})`)));

describe('resize', () => {
  it('grows at once: callers waiting for a connection get new ones without waiting for a release', async () => {
    const { pool, events, backends } = setup(2);
    await fill(pool, 2);
    const slow = fill(pool, 6, 1.5);
    await vi.waitFor(() => expect(pool.waitingCount).toBe(4));
    const started = performance.now();
    const result = await pool.resize(6);
    expect(result).toEqual({ from: 2, to: 6, opened: 4, closed: 0, retiring: 0 });
    expect(pool.max).toBe(6);
    await vi.waitFor(async () => expect(await backends()).toHaveLength(6));
    console.log(
      `resize 2 -> 6: ${result.opened} connections opened for 4 waiting callers in ${(performance.now() - started).toFixed(0)} ms (a release would have come after 1.5 s)`,
    );
    expect(pool.waitingCount).toBe(0);
    await slow;
    expect(events.filter((e) => e.kind === 'pool-resized')).toMatchObject([{ from: 2, to: 6, opened: 4 }]);
  });

  it('shrinks by closing idle connections at once, and in-use ones only when released', async () => {
    const { pool, backends } = setup(6);
    await fill(pool, 6);
    expect(await backends()).toHaveLength(6);
    expect(await pool.resize(3)).toEqual({ from: 6, to: 3, opened: 0, closed: 3, retiring: 0 });
    await vi.waitFor(async () => expect(await backends()).toHaveLength(3));
    expect(pool.totalCount).toBe(3);

    // Three busy: shrinking to 1 closes nothing in use; each closes as it is released.
    const held = await Promise.all([pool.connect(), pool.connect(), pool.connect()]);
    const resized = await pool.resize(1);
    expect(resized).toEqual({ from: 3, to: 1, opened: 0, closed: 0, retiring: 2 });
    expect(await backends()).toHaveLength(3);
    held[0]!.release();
    await vi.waitFor(async () => expect(await backends()).toHaveLength(2));
    held[1]!.release();
    await vi.waitFor(async () => expect(await backends()).toHaveLength(1));
    held[2]!.release();
    expect(pool.totalCount).toBe(1);
    expect(pool.idleCount).toBe(1);
    // At its new size the pool opens no more than one.
    await fill(pool, 4);
    expect(await backends()).toHaveLength(1);
  });

  it('rejects a size that is not a positive integer', async () => {
    const { pool } = setup(2);
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      await expect(pool.resize(bad)).rejects.toMatchObject({ code: KeelErrorCode.InvalidOption });
    }
    expect(pool.max).toBe(2);
  });
});

describe('recycle', () => {
  it('replaces idle connections now and busy ones when released', async () => {
    const { pool, events, backends } = setup(4);
    await fill(pool, 4);
    const before = await backends();
    expect(before).toHaveLength(4);
    const busy = await pool.connect();
    const [{ pid: busyPid }] = (await busy.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows as [
      { pid: number },
    ];

    const result = await pool.recycle();
    expect(result).toEqual({ closed: 3, opened: 3, replacing: 1 });
    await vi.waitFor(async () => {
      const now = await backends();
      expect(now).toHaveLength(4);
      // Only the busy one survives, until it is released.
      expect(now.filter((pid) => before.includes(pid))).toEqual([busyPid]);
    });
    busy.release();
    await vi.waitFor(async () => {
      const now = await backends();
      expect(now.filter((pid) => before.includes(pid))).toEqual([]);
    });
    console.log(
      `recycle: ${result.closed} idle replaced at once (${result.opened} opened), ${result.replacing} busy replaced on release; pids before ${before.join(',')}, after ${(await backends()).join(',')}`,
    );
    // The new connections serve queries.
    await fill(pool, 4);
    expect(events.filter((e) => e.kind === 'pool-recycled')).toMatchObject([{ closed: 3, replacing: 1 }]);
  });
});
