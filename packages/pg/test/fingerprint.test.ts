import { fingerprint } from '@keel/pg';
import { describe, expect, it } from 'vitest';
import { FingerprintCache } from '../src/fingerprint-cache.js';

const fp = (sql: string) => fingerprint(sql).text;

describe('fingerprint', () => {
  it('is stable across literal and parameter values, case, spacing and comments', () => {
    const same = [
      'SELECT * FROM users WHERE id = 42',
      'select *\n  from users -- who\n where id = $1;',
      '/* a /* nested */ comment */ SELECT * FROM users WHERE id = -7.5e3',
      "SELECT * FROM users WHERE id = 'x''y'",
      "SELECT * FROM users WHERE id = E'\\'q'",
      'SELECT * FROM users WHERE id = $tag$ body $tag$',
    ];
    expect(new Set(same.map(fp))).toEqual(new Set(['select * from users where id = ?']));
  });

  it("gives the README's example exactly", () => {
    expect(fingerprint("SELECT * FROM users WHERE id IN (1, 2, 3) AND email = 'a@b.c'")).toEqual({
      text: 'select * from users where id in (?) and email = ?',
      operation: 'SELECT',
    });
  });

  it('collapses lists so their length makes no new shape', () => {
    expect(fp('SELECT * FROM t WHERE id IN (1, 2, 3)')).toBe(fp('SELECT * FROM t WHERE id IN ($1)'));
    expect(fp('INSERT INTO t (a, b) VALUES (1, 2), (3, 4), (5, 6)')).toBe(
      fp('INSERT INTO t (a, b) VALUES ($1, $2)'),
    );
    expect(fp('SELECT ARRAY[1, 2, 3]')).toBe(fp('SELECT ARRAY[$1]'));
  });

  it('keeps different shapes apart', () => {
    const shapes = [
      'SELECT * FROM users WHERE id = $1',
      'SELECT * FROM users WHERE email = $1',
      'SELECT name FROM users WHERE id = $1',
      'SELECT * FROM orders WHERE id = $1',
      'SELECT * FROM "Users" WHERE id = $1',
      'SELECT * FROM users WHERE id = $1 AND deleted_at IS NULL',
      'SELECT * FROM users WHERE id > $1',
      'DELETE FROM users WHERE id = $1',
    ];
    expect(new Set(shapes.map(fp)).size).toBe(shapes.length);
  });

  it('keeps quoted identifiers exactly and names the operation', () => {
    expect(fingerprint('SELECT "CamelCase" FROM t')).toEqual({
      text: 'select "CamelCase" from t',
      operation: 'SELECT',
    });
    expect(fingerprint('WITH x AS (SELECT 1) UPDATE t SET a = 2 FROM x').operation).toBe('UPDATE');
    expect(fingerprint('insert into t values (1)').operation).toBe('INSERT');
    expect(fingerprint('').operation).toBe('UNKNOWN');
  });

  it('never keeps a value, even in odd literal forms', () => {
    const text = fp(
      "SELECT B'1010', X'ff', U&'d\\0061t', 0x1F, 1_000, .5, 'secret' FROM t WHERE k = $$secret$$",
    );
    expect(text).not.toMatch(/secret|1010|ff|0061|1F|1_000|\.5/);
  });
});

describe('FingerprintCache', () => {
  it('scans a text once, shares one record per shape and stays bounded', () => {
    const cache = new FingerprintCache(3, 40, (f) => ({ ...f, n: 0 }));
    const a = cache.get('SELECT 1');
    expect(cache.get('SELECT 1')).toBe(a);
    expect(cache.get('select 2')).toBe(a);
    for (let i = 0; i < 10; i++) cache.get(`SELECT * FROM t${i}`);
    expect([...cache.shapes()]).toHaveLength(3);
    const long = cache.get(`SELECT ${'a, '.repeat(50)}b FROM t`);
    expect(long.label.length).toBeLessThanOrEqual(40);
    expect(long.label).toMatch(/#[0-9a-f]{8}$/);
  });
});
