import { connect, createServer, type Server, type Socket } from 'node:net';

/** What the proxy does with traffic: pass it on, black-hole it, or pass it on late. */
export type ProxyMode = { kind: 'forward' } | { kind: 'hang' } | { kind: 'latency'; ms: number };

interface Link {
  readonly downstream: Socket;
  upstream: Socket | undefined;
  /** Black-holed: nothing it carries is passed on again, even after `forward()` (as after a partition). */
  hung: boolean;
}

/**
 * A loopback TCP proxy in front of PostgreSQL, to make the database fail
 * under a running pool in the ways a network or a server fails:
 * - `stop()` cuts every connection and refuses new ones (a crashed host),
 *   `start()` accepts again on the same port;
 * - `hang()` accepts connections but never forwards a byte, and every
 *   connection open at that moment stops forwarding for good (a frozen
 *   server or a partition: nothing answers, nothing is refused); closing
 *   one side still closes the other, so the server's backends end;
 * - `latency(ms)` delays every chunk, both ways, by `ms` (in order);
 * - `forward()` passes new connections through again.
 */
export class TcpProxy {
  #server: Server | undefined;
  readonly #links = new Set<Link>();
  #port = 0;
  #mode: ProxyMode = { kind: 'forward' };

  constructor(
    readonly targetHost: string,
    readonly targetPort: number,
  ) {}

  get port(): number {
    return this.#port;
  }

  /** Connections open through the proxy (black-holed ones included). */
  get connections(): number {
    return this.#links.size;
  }

  get mode(): ProxyMode {
    return this.#mode;
  }

  async start(): Promise<void> {
    if (this.#server) return;
    const server = createServer((downstream) => this.#accept(downstream));
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
    for (const link of this.#links) this.#close(link, true);
    this.#links.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Black-holes every open connection and every new one until `forward()`. */
  hang(): void {
    this.#mode = { kind: 'hang' };
    for (const link of this.#links) link.hung = true;
  }

  /** Delays every chunk of every connection, open or new, by `ms` each way. */
  latency(ms: number): void {
    this.#mode = { kind: 'latency', ms };
  }

  /** New connections (and those not black-holed) are passed through at once again. */
  forward(): void {
    this.#mode = { kind: 'forward' };
  }

  #accept(downstream: Socket): void {
    const link: Link = { downstream, upstream: undefined, hung: this.#mode.kind === 'hang' };
    this.#links.add(link);
    downstream.on('error', () => this.#close(link, false));
    downstream.on('close', () => this.#close(link, false));
    if (link.hung) {
      downstream.on('data', () => {}); // read and drop
      return;
    }
    const upstream = connect(this.targetPort, this.targetHost);
    link.upstream = upstream;
    upstream.on('error', () => this.#close(link, false));
    upstream.on('close', () => this.#close(link, false));
    this.#pipe(link, downstream, upstream);
    this.#pipe(link, upstream, downstream);
  }

  #pipe(link: Link, from: Socket, to: Socket): void {
    from.on('data', (chunk: Buffer) => {
      if (link.hung) return;
      const mode = this.#mode;
      if (mode.kind === 'latency') {
        // Timers of one delay fire in the order they were set: the stream stays in order.
        setTimeout(() => {
          if (!link.hung && !to.destroyed) to.write(chunk);
        }, mode.ms);
      } else if (!to.destroyed) to.write(chunk);
    });
  }

  #close(link: Link, reset: boolean): void {
    if (!this.#links.delete(link) && !reset) return;
    for (const s of [link.downstream, link.upstream]) {
      if (!s || s.destroyed) continue;
      if (reset) s.resetAndDestroy();
      else s.destroy();
    }
  }
}
