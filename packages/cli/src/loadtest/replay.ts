import autocannon from 'autocannon';
import type { Mix, ReplayRequest } from './traffic-mix.js';

export interface ReplayOptions {
  /** The app's base URL; the mix's paths are requested under it. */
  readonly url: string;
  readonly mix: Mix;
  readonly durationMs: number;
  readonly connections: number;
  /** Requests per second over all connections; `undefined`: as fast as the app answers. */
  readonly rate: number | undefined;
  /** A line on stderr about once a second. */
  progress(message: string): void;
}

export interface ReplayTotals {
  readonly durationMs: number;
  /** Requests that got no answer: connection errors and timeouts (10 s). */
  readonly transportErrors: number;
  readonly timeouts: number;
}

/** No answer within this is a timeout, s. */
const TIMEOUT_S = 10;

/**
 * Replays the mix with autocannon: each connection cycles through the
 * shuffled sequence, and every answer is handed to `answered` with its route,
 * status and time (autocannon's own measurement, from the request written to
 * the answer read).
 */
export function replay(
  options: ReplayOptions,
  answered: (request: ReplayRequest, status: number, ms: number) => void,
): Promise<ReplayTotals> {
  // autocannon calls a request's `onResponse`, then emits `response` with the time, in one go:
  // the request answered last is the one the time belongs to.
  let last: ReplayRequest | undefined;
  const requests = options.mix.requests.map((request) => ({
    method: request.method as 'GET',
    path: request.path,
    onResponse: () => {
      last = request;
    },
  }));
  const started = Date.now();
  return new Promise<ReplayTotals>((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        duration: Math.max(1, Math.round(options.durationMs / 1000)),
        overallRate: options.rate,
        timeout: TIMEOUT_S,
        requests,
      },
      (error, result) => {
        clearInterval(ticker);
        if (error) reject(error);
        else
          resolve({
            durationMs: Date.now() - started,
            transportErrors: result.errors,
            timeouts: result.timeouts,
          });
      },
    );
    let count = 0;
    let bad = 0;
    instance.on('response', (_client, status, _bytes, ms) => {
      count++;
      if (status >= 500) bad++;
      if (last !== undefined) answered(last, status, ms);
      last = undefined;
    });
    const ticker = setInterval(() => {
      const elapsed = Math.round((Date.now() - started) / 1000);
      options.progress(
        `${elapsed} s / ${Math.round(options.durationMs / 1000)} s: ${count} answers, ${bad} 5xx`,
      );
    }, 1000);
  });
}
