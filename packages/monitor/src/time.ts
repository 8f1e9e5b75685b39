/** A clock time (ms since the epoch) as ISO 8601 for JSON, `null` when there is none. */
export function isoTime(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}
