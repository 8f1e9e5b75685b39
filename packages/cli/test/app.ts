import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createKeel, type Keel, type KeelOptions } from '@keel/core';

export interface TestApp {
  readonly keel: Keel;
  readonly url: string;
  /** How long `/slow` takes to answer, ms. */
  slowMs: number;
  close(): Promise<void>;
}

/**
 * An app on core alone, over real HTTP on port 0: `/fast`, `/slow`
 * (answers after `slowMs`) and `/items/:id`, recorded and sampled the way
 * the adapters do it; Keel's endpoints through `keel.handle`.
 */
export async function startApp(options: KeelOptions = {}): Promise<TestApp> {
  const keel = createKeel({ service: 'cli-test', runtime: false, ...options });
  const app = { keel, url: '', slowMs: 5, close: async () => {} };
  const server: Server = createServer((req, res) => {
    if (keel.handle(req, res)) return;
    const started = performance.now();
    const path = (req.url ?? '/').split('?')[0]!;
    const route =
      path === '/fast' || path === '/slow'
        ? path
        : /^\/items\/\d+$/.test(path)
          ? '/items/:id'
          : '__unmatched__';
    res.on('close', () => {
      keel.recordRequest(req.method!, route, res.statusCode, performance.now() - started);
      const traffic = keel.traffic;
      if (traffic?.sampling)
        traffic.sample(req.method!, route, req.url!, res.statusCode, res.getHeader('etag'));
    });
    const answer = () => {
      res.setHeader('etag', `"${path}"`);
      res.end(JSON.stringify({ path }));
    };
    if (route === '__unmatched__') {
      res.statusCode = 404;
      res.end();
    } else if (route === '/slow') setTimeout(answer, app.slowMs);
    else answer();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  app.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  app.close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await keel.close();
  };
  return app;
}

/** Sends `paths` one after another, `times` times. */
export async function drive(url: string, paths: readonly string[], times = 1): Promise<void> {
  for (let i = 0; i < times; i++) for (const p of paths) await (await fetch(`${url}${p}`)).arrayBuffer();
}
