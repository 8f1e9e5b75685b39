/** Quoting and number formatting for the SQL and messages the advisor writes. */

export const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** `name` as is when PostgreSQL would read it unquoted, else quoted. */
export function quoteIdentIfNeeded(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : quoteIdent(name);
}

/** `schema.name`, the schema left out when it is `public`. */
export const qualified = (schema: string, name: string) =>
  `${schema === 'public' ? '' : `${quoteIdent(schema)}.`}${quoteIdentIfNeeded(name)}`;

export function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}
