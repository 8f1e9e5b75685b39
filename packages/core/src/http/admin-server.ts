import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EndpointsConfig } from './endpoint-options.js';

export interface AdminServer {
  readonly server: Server;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves `handle` (Keel's endpoint router) on a port of its own; any other
 * path answers 404. Resolves once listening; a later server error goes to
 * `reportError`, never to the app.
 */
export function listenAdmin(
  handle: (req: IncomingMessage, res: ServerResponse) => boolean,
  port: number,
  host: string,
  reportError: (where: string, error: unknown) => void,
): Promise<AdminServer> {
  const server = createServer((req, res) => {
    if (!handle(req, res)) {
      res.statusCode = 404;
      res.setHeader('content-type', 'text/plain; charset=utf-8');
      res.end('not found\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      server.on('error', (error) => reportError('admin-server', error));
      resolve({
        server,
        port: (server.address() as AddressInfo).port,
        close: () => closeServer(server),
      });
    });
  });
}

/**
 * Closes a server without waiting for clients' keep-alive sockets: idle ones
 * go at once, busy ones get a short grace period to finish their answer.
 */
function closeServer(server: Server, graceMs = 2000): Promise<void> {
  return new Promise<void>((done) => {
    server.close(() => done());
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), graceMs).unref();
  });
}

/** One instance's admin port (`keel.listen`): listened on once, closed with the instance. */
export class AdminPort {
  readonly #handle: (req: IncomingMessage, res: ServerResponse) => boolean;
  readonly #config: Pick<EndpointsConfig, 'adminPort' | 'adminHost'>;
  readonly #reportError: (where: string, error: unknown) => void;
  #admin: AdminServer | undefined;

  constructor(
    handle: (req: IncomingMessage, res: ServerResponse) => boolean,
    config: Pick<EndpointsConfig, 'adminPort' | 'adminHost'>,
    reportError: (where: string, error: unknown) => void,
  ) {
    this.#handle = handle;
    this.#config = config;
    this.#reportError = reportError;
  }

  /** Listens on `endpoints.adminPort` when one is set; a failure is reported, never thrown. */
  start(): void {
    if (this.#config.adminPort === undefined) return;
    this.listen().catch((error) => this.#reportError('admin-server', error));
  }

  /** Serves `handle` on `port` (0 picks a free one); once listening, later calls get the same server. */
  listen(port = this.#config.adminPort ?? 0, host = this.#config.adminHost): Promise<AdminServer> {
    if (this.#admin) return Promise.resolve(this.#admin);
    return listenAdmin(this.#handle, port, host, this.#reportError).then((admin) => {
      this.#admin = admin;
      return admin;
    });
  }

  async close(): Promise<void> {
    const admin = this.#admin;
    this.#admin = undefined;
    await admin?.close();
  }
}
