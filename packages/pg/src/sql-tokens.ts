/**
 * The scanner under SQL fingerprints: one pass over the text, splitting it
 * into tokens with every value already replaced by `?`. It knows
 * PostgreSQL's lexical rules for the things that can hold a value — quoted
 * strings (with `''`, `E'\''`, `B''`, `X''`, `U&''`), dollar-quoted bodies,
 * numbers, `$n` parameters — and for those that must be kept apart from
 * values: quoted identifiers and comments (which are dropped).
 */

/** Statement commands, lowercase: what a statement can start with. */
export const COMMANDS = new Set([
  'select',
  'insert',
  'update',
  'delete',
  'merge',
  'values',
  'copy',
  'call',
  'do',
  'begin',
  'commit',
  'rollback',
  'savepoint',
  'release',
  'set',
  'reset',
  'show',
  'explain',
  'analyze',
  'vacuum',
  'create',
  'alter',
  'drop',
  'truncate',
  'grant',
  'revoke',
  'lock',
  'listen',
  'notify',
  'unlisten',
  'prepare',
  'execute',
  'deallocate',
  'discard',
  'refresh',
  'reindex',
  'cluster',
  'comment',
  'start',
  'end',
  'abort',
  'table',
  'fetch',
  'declare',
  'close',
  'move',
  'checkpoint',
]);

/** Keywords after which a sign starts a value (`WHERE -1 < x`, `THEN -1`). */
export const KEYWORDS = new Set([
  'as',
  'into',
  'from',
  'join',
  'exists',
  'any',
  'all',
  'where',
  'and',
  'or',
  'not',
  'then',
  'else',
  'when',
  'in',
  'between',
  'like',
  'is',
  'limit',
  'offset',
  'by',
  'on',
  'return',
  'returning',
]);

const isDigit = (c: number) => c >= 48 && c <= 57;
const isIdentStart = (c: number) => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c >= 128;
const isIdentPart = (c: number) => isIdentStart(c) || isDigit(c) || c === 36;
const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13 || c === 12;

/**
 * The tokens of `sql`: values as `?`, words lowercase, quoted identifiers
 * exactly as written, a run of operator characters as one token, comments
 * and whitespace gone. Pure; never throws.
 */
export function tokenize(sql: string): string[] {
  const tokens: string[] = [];
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    // -- line comment
    if (c === 45 && sql.charCodeAt(i + 1) === 45) {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? n : end + 1;
      continue;
    }
    // /* block comment */ (PostgreSQL nests them)
    if (c === 47 && sql.charCodeAt(i + 1) === 42) {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql.charCodeAt(i) === 47 && sql.charCodeAt(i + 1) === 42) {
          depth++;
          i += 2;
        } else if (sql.charCodeAt(i) === 42 && sql.charCodeAt(i + 1) === 47) {
          depth--;
          i += 2;
        } else i++;
      }
      continue;
    }
    // 'string' and its prefixed forms E'', B'', X'', N'', U&''
    if (c === 39) {
      i = skipQuoted(sql, i + 1, false);
      tokens.push('?');
      continue;
    }
    if ((c === 69 || c === 101) && sql.charCodeAt(i + 1) === 39) {
      i = skipQuoted(sql, i + 2, true);
      tokens.push('?');
      continue;
    }
    if (
      (c === 66 || c === 98 || c === 88 || c === 120 || c === 78 || c === 110) &&
      sql.charCodeAt(i + 1) === 39
    ) {
      i = skipQuoted(sql, i + 2, false);
      tokens.push('?');
      continue;
    }
    if ((c === 85 || c === 117) && sql.charCodeAt(i + 1) === 38 && sql.charCodeAt(i + 2) === 39) {
      i = skipQuoted(sql, i + 3, false);
      tokens.push('?');
      continue;
    }
    // "quoted identifier": kept exactly, case included
    if (c === 34) {
      let j = i + 1;
      for (;;) {
        const q = sql.indexOf('"', j);
        if (q === -1) {
          j = n;
          break;
        }
        if (sql.charCodeAt(q + 1) === 34) j = q + 2;
        else {
          j = q + 1;
          break;
        }
      }
      tokens.push(sql.slice(i, j));
      i = j;
      continue;
    }
    if (c === 36) {
      // $1 parameter
      if (isDigit(sql.charCodeAt(i + 1))) {
        i += 2;
        while (i < n && isDigit(sql.charCodeAt(i))) i++;
        tokens.push('?');
        continue;
      }
      // $tag$ ... $tag$ or $$ ... $$
      const close = sql.indexOf('$', i + 1);
      const tag = close === -1 ? null : sql.slice(i, close + 1);
      if (tag !== null && /^\$([A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)?\$$/.test(tag)) {
        const end = sql.indexOf(tag, close + 1);
        i = end === -1 ? n : end + tag.length;
        tokens.push('?');
        continue;
      }
    }
    // numbers: 42, 4.2, .5, 1e-3, 0x1F, 1_000
    if (isDigit(c) || (c === 46 && isDigit(sql.charCodeAt(i + 1)))) {
      i++;
      while (i < n) {
        const d = sql.charCodeAt(i);
        if (isDigit(d) || d === 46 || d === 95 || isIdentStart(d)) i++;
        else if ((d === 43 || d === 45) && (sql.charCodeAt(i - 1) | 32) === 101) i++;
        else break;
      }
      // A sign glued to a number after an operator, "(" or "," is part of the value: `= -1` is `= ?`.
      const last = tokens[tokens.length - 1];
      if (last === '-' || last === '+') {
        const before = tokens[tokens.length - 2];
        if (
          before === undefined ||
          !/^[\w"?)\]]/.test(before) ||
          COMMANDS.has(before) ||
          KEYWORDS.has(before)
        )
          tokens.pop();
      }
      tokens.push('?');
      continue;
    }
    if (isIdentStart(c)) {
      let j = i + 1;
      while (j < n && isIdentPart(sql.charCodeAt(j))) j++;
      tokens.push(sql.slice(i, j).toLowerCase());
      i = j;
      continue;
    }
    // operators: a run of operator characters is one token; punctuation is one char each
    if ('+-*/<>=~!@#%^&|`?'.includes(sql[i]!)) {
      let j = i + 1;
      while (j < n && '+-*/<>=~!@#%^&|`?'.includes(sql[j]!)) {
        if (sql.charCodeAt(j) === 45 && sql.charCodeAt(j + 1) === 45) break;
        if (sql.charCodeAt(j) === 47 && sql.charCodeAt(j + 1) === 42) break;
        j++;
      }
      tokens.push(sql.slice(i, j));
      i = j;
      continue;
    }
    if (c === 58 && sql.charCodeAt(i + 1) === 58) {
      tokens.push('::');
      i += 2;
      continue;
    }
    tokens.push(sql[i]!);
    i++;
  }
  return tokens;
}

/** Index just past a quoted string starting at `from` (after the opening quote). */
function skipQuoted(sql: string, from: number, backslashEscapes: boolean): number {
  let i = from;
  const n = sql.length;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (backslashEscapes && c === 92) {
      i += 2;
      continue;
    }
    if (c === 39) {
      if (sql.charCodeAt(i + 1) === 39) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return n;
}
