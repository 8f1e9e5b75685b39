import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A loopback TCP proxy in front of PostgreSQL, to make the database vanish and
 * come back under a running pool: `stop()` cuts every connection and refuses
 * new ones, `start()` accepts again on the same port.
 */
export class TcpProxy {
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  #port = 0;

  constructor(
    readonly targetHost: string,
    readonly targetPort: number,
  ) {}

  get port(): number {
    return this.#port;
  }

  get connections(): number {
    return this.#sockets.size / 2;
  }

  async start(): Promise<void> {
    if (this.#server) return;
    const server = createServer((downstream) => {
      const upstream = connect(this.targetPort, this.targetHost);
      for (const s of [downstream, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => {
          downstream.destroy();
          upstream.destroy();
        });
      }
      downstream.pipe(upstream);
      upstream.pipe(downstream);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#port = (server.address() as { port: number }).port;
    this.#server = server;
  }

  /** Stops listening and resets every open connection, as a crashed database host would. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const s of this.#sockets) s.resetAndDestroy();
    this.#sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
