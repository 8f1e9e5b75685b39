/** Wrong arguments: printed as `error: <message>` with a pointer to `--help`, exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
