import http, { type Agent } from 'node:http';
import https from 'node:https';

/** The most body a probe reads: an app's answer is network input, and the audit must stay bounded. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;

export interface Probe {
  readonly status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  /** The body as sent: still compressed when the server compressed it. */
  readonly body: Buffer;
  /** The body was longer than `MAX_BODY_BYTES` and was cut there. */
  readonly truncated: boolean;
  /** The request went out on a connection an earlier request had used. */
  readonly reusedSocket: boolean;
  /** Time to connect a new socket, ms; `null` on a reused one. */
  readonly connectMs: number | null;
}

/**
 * One GET with exactly the headers given: node:http, not fetch, because fetch
 * decompresses bodies and sets Accept-Encoding itself, and the audit must see
 * what the server sent.
 */
export function probe(
  url: string,
  headers: Record<string, string>,
  options: { agent?: Agent; timeoutMs?: number } = {},
): Promise<Probe> {
  const target = new URL(url);
  const client = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let connectMs: number | null = null;
    const request = client.get(
      target,
      { headers: { 'user-agent': 'keel-audit', ...headers }, agent: options.agent },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let truncated = false;
        response.on('data', (chunk: Buffer) => {
          if (truncated) return;
          size += chunk.length;
          if (size > MAX_BODY_BYTES) {
            truncated = true;
            chunks.push(chunk.subarray(0, chunk.length - (size - MAX_BODY_BYTES)));
            response.destroy();
            finish();
            return;
          }
          chunks.push(chunk);
        });
        response.on('end', () => finish());
        response.on('error', (error) => (truncated ? undefined : reject(error)));
        let done = false;
        function finish() {
          if (done) return;
          done = true;
          const joined: Record<string, string> = {};
          for (const [name, value] of Object.entries(response.headers))
            if (value !== undefined) joined[name] = Array.isArray(value) ? value.join(', ') : value;
          resolve({
            status: response.statusCode ?? 0,
            headers: joined,
            body: Buffer.concat(chunks),
            truncated,
            reusedSocket: request.reusedSocket,
            connectMs,
          });
        }
      },
    );
    request.on('socket', (socket) => {
      if (request.reusedSocket) return;
      socket.once('connect', () => {
        connectMs = performance.now() - started;
      });
    });
    request.setTimeout(options.timeoutMs ?? 30_000, () => {
      request.destroy(new Error(`no answer from ${url} within ${options.timeoutMs ?? 30_000} ms`));
    });
    request.on('error', reject);
  });
}

/** A header's comma-separated tokens, lower-cased. */
export function tokens(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter(Boolean);
}
