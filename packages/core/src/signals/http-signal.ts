import { isBoolean, object, read } from '../option-readers.js';

// How requests are recorded into the HTTP signal (`HTTP_SIGNAL`): the
// conventions every adapter follows, and the one option that changes which
// answers count as errors.

/** The single label every request that matched no route shares, so random 404 paths cannot create series. */
export const UNMATCHED_ROUTE = '__unmatched__';

/**
 * Status recorded for a request the client gave up on before the answer was
 * sent (nginx's "client closed request"). It is not a server error, so it
 * does not count against availability or the error rate.
 */
export const ABORTED_STATUS = 499;

/**
 * Status recorded for a request graceful shutdown cut off when its drain
 * timed out (or a second signal forced it): the server gave no answer, so
 * it counts as a server error, against availability.
 */
export const CUT_OFF_STATUS = 503;

export interface HttpOptions {
  /** Count 4xx responses as errors too. @default false */
  clientErrorsAreErrors?: boolean;
}

const KEYS: ReadonlySet<string> = new Set(['clientErrorsAreErrors']);

/** Validates `options.http`. */
export function resolveHttpOptions(value: unknown): { readonly clientErrorsAreErrors: boolean } {
  const o = object('http', value, KEYS);
  return {
    clientErrorsAreErrors: read(
      'http.clientErrorsAreErrors',
      o.clientErrorsAreErrors,
      false,
      isBoolean,
      'must be a boolean',
    ),
  };
}
