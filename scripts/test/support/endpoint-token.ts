import { expect } from 'vitest';

/**
 * What both adapters promise with `endpoints.token` set (their READMEs'
 * "Endpoints"): `/health`, `/metrics`, the dashboard's data and the
 * optimiser's endpoints answer 401 without the token or with a wrong one and
 * serve with it; the probes and the dashboard's page stay open.
 */
export async function expectEndpointsGuarded(port: number, token: string): Promise<void> {
  const ask = (method: string, path: string, auth?: string, accept = '*/*') =>
    fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: { accept, ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
    }).then(async (r) => {
      await r.arrayBuffer(); // drained, so the connection is free for the next ask
      return r.status;
    });
  const guarded: [string, string, string?][] = [
    ['GET', '/health'],
    ['GET', '/metrics'],
    ['GET', '/keel', 'application/json'],
    ['GET', '/keel/optimise'],
    ['POST', '/keel/optimise?windowMs=100'],
    ['GET', '/keel/traffic'],
  ];
  for (const [method, path, accept] of guarded) {
    expect([method, path, await ask(method, path, undefined, accept)]).toEqual([method, path, 401]);
    expect([method, path, await ask(method, path, `${token}-wrong`, accept)]).toEqual([method, path, 401]);
    expect(await ask(method, path, token, accept)).toBeLessThan(300);
  }
  for (const path of ['/livez', '/readyz', '/keel'])
    expect([path, await ask('GET', path)]).toEqual([path, 200]);
}
