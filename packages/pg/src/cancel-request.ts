import { connect } from 'node:net';
import type { Tracked } from './client-state.js';

/** The protocol's CancelRequest code (1234 << 16 | 5678). */
const CANCEL_REQUEST_CODE = 80877102;

/**
 * Asks PostgreSQL to cancel what `client`'s backend is running, the way libpq
 * and pg do: a new connection to the same server carrying the backend's
 * process id and secret key. The server closes that connection without an
 * answer, so success cannot be observed; the socket is closed after
 * `timeoutMs` whatever happens, because a server that hangs accepts it and
 * never closes it. Resolves `true` once the request was written.
 *
 * Sent in plain TCP even when the session uses TLS: the server reads a cancel
 * request before any authentication or `pg_hba.conf` rule.
 */
export function sendCancelRequest(client: Tracked, timeoutMs: number): Promise<boolean> {
  const { processID, secretKey, host, port } = client;
  if (typeof processID !== 'number' || typeof secretKey !== 'number' || typeof port !== 'number')
    return Promise.resolve(false);
  return new Promise((resolve) => {
    const socket =
      typeof host === 'string' && host.startsWith('/')
        ? connect(`${host}/.s.PGSQL.${port}`)
        : connect(port, host || 'localhost');
    socket.unref();
    let written = false;
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    timer.unref();
    socket.once('connect', () => {
      const message = Buffer.alloc(16);
      message.writeInt32BE(16, 0);
      message.writeInt32BE(CANCEL_REQUEST_CODE, 4);
      message.writeInt32BE(processID, 8);
      message.writeInt32BE(secretKey, 12);
      socket.write(message, () => {
        written = true;
        socket.end();
      });
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(written);
    });
    socket.on('error', () => socket.destroy());
  });
}
