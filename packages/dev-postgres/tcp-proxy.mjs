import { connect, createServer } from 'node:net';

/**
 * A loopback TCP proxy in front of PostgreSQL, to make the database fail
 * under a running pool in the ways a network or a server fails (see
 * index.d.mts for each mode). Used by @keel/pg's fault tests and the
 * example's fault matrix.
 */
export class TcpProxy {
  #server = undefined;
  #links = new Set();
  #port = 0;
  #mode = { kind: 'forward' };

  constructor(targetHost, targetPort) {
    this.targetHost = targetHost;
    this.targetPort = targetPort;
  }

  get port() {
    return this.#port;
  }

  get connections() {
    return this.#links.size;
  }

  get mode() {
    return this.#mode;
  }

  async start() {
    if (this.#server) return;
    const server = createServer((downstream) => this.#accept(downstream));
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#port = server.address().port;
    this.#server = server;
  }

  async stop() {
    const server = this.#server;
    this.#server = undefined;
    for (const link of this.#links) this.#close(link, true);
    this.#links.clear();
    if (server) await new Promise((resolve) => server.close(() => resolve()));
  }

  hang() {
    this.#mode = { kind: 'hang' };
    for (const link of this.#links) link.hung = true;
  }

  latency(ms) {
    this.#mode = { kind: 'latency', ms };
  }

  forward() {
    this.#mode = { kind: 'forward' };
  }

  #accept(downstream) {
    const link = { downstream, upstream: undefined, hung: this.#mode.kind === 'hang' };
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

  #pipe(link, from, to) {
    from.on('data', (chunk) => {
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

  #close(link, reset) {
    if (!this.#links.delete(link) && !reset) return;
    for (const s of [link.downstream, link.upstream]) {
      if (!s || s.destroyed) continue;
      if (reset) s.resetAndDestroy();
      else s.destroy();
    }
  }
}
