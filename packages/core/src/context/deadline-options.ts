import { isPositiveInteger, read } from '../option-readers.js';

/**
 * Validates `options.requestDeadline`, the time budget of one request, ms;
 * `undefined` for none. Left out, it is `fallback`: the `api_latency` target.
 */
export function resolveRequestDeadline(value: unknown, fallback: number | undefined): number | undefined {
  const deadline = read<number | false | undefined>(
    'requestDeadline',
    value,
    fallback,
    (v) => v === false || (isPositiveInteger(v) && (v as number) <= 3_600_000),
    'must be false or an integer number of ms from 1 to 3600000',
  );
  return deadline === false ? undefined : deadline;
}
