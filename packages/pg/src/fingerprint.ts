import { COMMANDS, KEYWORDS, tokenize } from './sql-tokens.js';

/**
 * SQL fingerprints: a query's shape with every value taken out, so
 * `WHERE id = 7` and `WHERE id = $1` are one series and the values (which may
 * be personal data) never reach a label, a log line or an export.
 *
 * `tokenize` (`sql-tokens.ts`) takes the values out; this file normalises
 * what is left: lists collapsed to one element, a trailing `;` dropped, the
 * tokens joined with spaces only where they are needed, the command found.
 */

export interface Fingerprint {
  /** The normalised text: lowercase outside quoted identifiers, values as `?`, lists collapsed. */
  readonly text: string;
  /** The statement's command, uppercase (`SELECT`, `INSERT`, ...; the main one after a `WITH`). */
  readonly operation: string;
}

/** Normalises SQL into its fingerprint. Pure; never throws. */
export function fingerprint(sql: string): Fingerprint {
  const tokens = tokenize(sql);
  collapseLists(tokens);
  // A trailing ";" is not part of the shape.
  while (tokens[tokens.length - 1] === ';') tokens.pop();
  return { text: join(tokens), operation: operationOf(tokens) };
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
