/**
 * SQL fingerprints: a query's shape with every value taken out, so
 * `WHERE id = 7` and `WHERE id = $1` are one series and the values (which may
 * be personal data) never reach a label, a log line or an export.
 *
 * The scanner is a single pass over the text; it knows PostgreSQL's lexical
 * rules for the things that can hold a value — quoted strings (with `''`,
 * `E'\''`, `B''`, `X''`, `U&''`), dollar-quoted bodies, numbers, `$n`
 * parameters — and for those that must be kept apart from values: quoted
 * identifiers and comments.
 */

export interface Fingerprint {
  /** The normalised text: lowercase outside quoted identifiers, values as `?`, lists collapsed. */
  readonly text: string;
  /** The statement's command, uppercase (`SELECT`, `INSERT`, ...; the main one after a `WITH`). */
  readonly operation: string;
}

const COMMANDS = new Set([
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

const isDigit = (c: number) => c >= 48 && c <= 57;
const isIdentStart = (c: number) => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c >= 128;
const isIdentPart = (c: number) => isIdentStart(c) || isDigit(c) || c === 36;
const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13 || c === 12;

/** Normalises SQL into its fingerprint. Pure; never throws. */
export function fingerprint(sql: string): Fingerprint {
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
  collapseLists(tokens);
  // A trailing ";" is not part of the shape.
  while (tokens[tokens.length - 1] === ';') tokens.pop();
  return { text: join(tokens), operation: operationOf(tokens) };
}

/** Keywords after which a sign starts a value (`WHERE -1 < x`, `THEN -1`). */
const KEYWORDS = new Set([
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

/**
 * `IN (?, ?, ?)`, `ARRAY[?, ?]` and `VALUES (?, ?), (?, ?)` become one
 * element each, so a list's length never makes a new fingerprint.
 */
function collapseLists(tokens: string[]): void {
  let w = 0;
  for (let r = 0; r < tokens.length; r++) {
    const t = tokens[r]!;
    tokens[w++] = t;
    // "?" "," "?" -> "?" inside any list of bare values
    if (t === '?' && w >= 3 && tokens[w - 2] === ',' && tokens[w - 3] === '?') {
      const open = openerOf(tokens, w - 3);
      if (open === '(' || open === '[') w -= 2;
    }
    // "(" "?" ")" "," "(" "?" ")" -> "(" "?" ")"
    if (
      t === ')' &&
      w >= 7 &&
      tokens[w - 2] === '?' &&
      tokens[w - 3] === '(' &&
      tokens[w - 4] === ',' &&
      tokens[w - 5] === ')' &&
      tokens[w - 6] === '?' &&
      tokens[w - 7] === '('
    ) {
      w -= 4;
    }
  }
  tokens.length = w;
}

/** The bracket token that opens the list `tokens[at]` is in, looking back over `?` and `,` only. */
function openerOf(tokens: string[], at: number): string | undefined {
  let i = at;
  while (i > 0 && (tokens[i] === '?' || tokens[i] === ',')) i--;
  return tokens[i];
}

function join(tokens: readonly string[]): string {
  let out = '';
  let prev = '';
  for (const t of tokens) {
    if (out.length > 0 && needsSpace(prev, t)) out += ' ';
    out += t;
    prev = t;
  }
  return out;
}

function needsSpace(prev: string, next: string): boolean {
  if (next === ',' || next === ')' || next === ']' || next === ';' || next === '::' || next === '.')
    return false;
  if (prev === '(' || prev === '[' || prev === '::' || prev === '.') return false;
  if (next === '(' || next === '[')
    // `count(*)` but `in (?)`: no space after a function name, one after a keyword.
    return !/^[\w"?]/.test(prev) || COMMANDS.has(prev) || KEYWORDS.has(prev);
  return true;
}

function operationOf(tokens: readonly string[]): string {
  let first = tokens[0];
  let k = 0;
  while (first === '(') first = tokens[++k];
  if (first === undefined) return 'UNKNOWN';
  if (first === 'with') {
    // The main statement is the first command at parenthesis depth 0 after the CTEs.
    let depth = 0;
    for (let i = k + 1; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (t === '(') depth++;
      else if (t === ')') depth--;
      else if (
        depth === 0 &&
        (t === 'select' || t === 'insert' || t === 'update' || t === 'delete' || t === 'merge')
      )
        return t.toUpperCase();
    }
    return 'WITH';
  }
  return COMMANDS.has(first) ? first.toUpperCase() : 'UNKNOWN';
}

/** A short, stable hash (FNV-1a, 32 bit) as 8 hex digits, to keep truncated fingerprints distinct. */
export function shortHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

/**
 * Remembers the fingerprints of the query texts an app sends. Apps send a
 * handful of distinct texts again and again, so the scan runs once per text
 * and a query costs one `Map` lookup. Texts with one shape share one record
 * (made by `create`), where callers keep per-shape totals. Bounded: past
 * `max` texts or shapes the oldest are forgotten (an app building SQL with
 * inline values would otherwise grow it forever).
 */
export class FingerprintCache<T extends CachedFingerprint> {
  readonly #byText = new Map<string, T>();
  readonly #byShape = new Map<string, T>();
  readonly #max: number;
  readonly #maxLabelLength: number;
  readonly #create: (fp: CachedFingerprint, sql: string) => T;

  /** `create` makes a shape's entry from its fingerprint and the first text seen with it. */
  constructor(max: number, maxLabelLength: number, create: (fp: CachedFingerprint, sql: string) => T) {
    this.#max = max;
    this.#maxLabelLength = maxLabelLength;
    this.#create = create;
  }

  get(sql: string): T {
    const known = this.#byText.get(sql);
    if (known !== undefined) return known;
    const fp = fingerprint(sql);
    const label = labelOf(fp.text, this.#maxLabelLength);
    let shape = this.#byShape.get(label);
    if (shape === undefined) {
      shape = this.#create({ ...fp, label }, sql);
      if (this.#byShape.size >= this.#max) this.#byShape.delete(this.#byShape.keys().next().value!);
      this.#byShape.set(label, shape);
    }
    if (this.#byText.size >= this.#max) this.#byText.delete(this.#byText.keys().next().value!);
    this.#byText.set(sql, shape);
    return shape;
  }

  shapes(): IterableIterator<T> {
    return this.#byShape.values();
  }

  /** The shape whose label is `label` (what the DB signal and request profiles name it by). */
  byLabel(label: string): T | undefined {
    return this.#byShape.get(label);
  }
}

export interface CachedFingerprint extends Fingerprint {
  /** `text`, cut to fit a label, with a hash of the whole so different long shapes stay apart. */
  readonly label: string;
}

function labelOf(text: string, max: number): string {
  if (text.length <= max) return text;
  const hash = shortHash(text);
  return `${text.slice(0, Math.max(0, max - 10))}…#${hash}`;
}
