import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Gauge } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createFakeClock, createKeel } from '../src/index.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

/**
 * A process that scrapes as a server does: renders, then full GCs with no
 * render running (between scrapes), then renders again. It prints V8's
 * deoptimizations; the child imports the built package, as an app would.
 */
function deoptsAfterIdleGc(): string[] {
  const script = `
    import { createKeel } from '@keel/core';
    const keel = createKeel({ runtime: false });
    for (let r = 0; r < 300; r++) keel.recordRequest('GET', '/r/' + r, 200, r % 250);
    for (let i = 0; i < 200; i++) await keel.metricsBuffer();
    console.log('--- idle');
    gc();
    gc();
    await keel.metricsBuffer();
    await keel.close();
  `;
  const result = spawnSync(
    process.execPath,
    ['--expose-gc', '--trace-deopt-verbose', '--input-type=module', '-e', script],
    { cwd: packageDir, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  const afterIdle = result.stdout.slice(result.stdout.indexOf('--- idle'));
  return [
    ...afterIdle.matchAll(/marking dependent code .*<SharedFunctionInfo ([\w#]+)>.*reason: (.+)\]/g),
  ].map((m) => `${m[1]}: ${m[2]}`);
}

// V8 11.3's trace format (Node 20), which the test reads.
const node20 = process.versions.node.startsWith('20.');

describe('rendering /metrics', () => {
  it.runIf(node20)(
    'keeps its optimized code across full GCs between scrapes (a scrape after one used to run deoptimized)',
    () => {
      const renderCode = ['renderHistogram', 'renderSeries', 'bytes', 'count', 'ascii', 'text', '#ensure'];
      const dropped = deoptsAfterIdleGc().filter((line) => renderCode.includes(line.split(':')[0]!));
      expect(dropped).toEqual([]);
    },
  );

  it('renders series that appear after a scrape, each under its own labels', async () => {
    const keel = createKeel({ runtime: false, clock: createFakeClock() });
    keel.recordRequest('GET', '/a', 200, 12);
    const first = await keel.metrics();
    keel.recordRequest('POST', '/b/:id', 201, 300);
    keel.recordRequest('GET', '/a', 200, 3);
    const second = await keel.metrics();
    const name = 'http_server_request_duration_seconds';
    const a = 'http_request_method="GET",http_route="/a",http_response_status_code="200"';
    const b = 'http_request_method="POST",http_route="/b/:id",http_response_status_code="201"';
    expect(first).toContain(`${name}_count{${a}} 1\n`);
    expect(first).not.toContain('/b/:id');
    expect(second).toContain(`${name}_count{${a}} 2\n`);
    expect(second).toContain(`${name}_sum{${a}} 0.015\n`);
    expect(second).toContain(`${name}_bucket{${b},le="0.2"} 0\n`);
    expect(second).toContain(`${name}_bucket{${b},le="0.5"} 1\n`);
    expect(second).toContain(`${name}_sum{${b}} 0.3\n`);
    expect(second).toContain(`${name}_count{${b}} 1\n`);
    await keel.close();
  });

  it("labels Keel's own answers with keel_outcome, and leaves the label off the app's", async () => {
    const keel = createKeel({ runtime: false, clock: createFakeClock() });
    keel.recordRequest('GET', '/a', 200, 12);
    keel.recordRequest('GET', '/a', 503, 0.2, 'shed');
    keel.recordRequest('GET', '/a', 503, 0.3, 'shed');
    const text = await keel.metrics();
    const name = 'http_server_request_duration_seconds';
    const labels = 'http_request_method="GET",http_route="/a",http_response_status_code=';
    expect(text).toContain(`${name}_count{${labels}"200"} 1\n`);
    expect(text).toContain(`${name}_count{${labels}"503",keel_outcome="shed"} 2\n`);
    expect(text).not.toContain('keel_outcome=""');
    // A shed request is a server error: it spends the error budget like any other 503.
    expect(keel.http.summarize(keel.http.newSummary(), 1, '/a', true).bad).toBe(2);
    await keel.close();
  });

  it('answers overlapping scrapes each with the whole text, the registry after Keel', async () => {
    const keel = createKeel({ runtime: false, clock: createFakeClock() });
    new Gauge({ name: 'app_queue_depth', help: 'Jobs waiting.', registers: [keel.registry] }).set(7);
    for (let r = 0; r < 50; r++) keel.recordRequest('GET', `/r/${r}`, 200, r);
    const alone = (await keel.metricsBuffer()).toString('utf8');
    const [a, b, c] = await Promise.all([keel.metricsBuffer(), keel.metricsBuffer(), keel.metrics()]);
    expect(a.toString('utf8')).toBe(alone);
    expect(b.toString('utf8')).toBe(alone);
    expect(c).toBe(alone);
    expect(alone.indexOf('app_queue_depth 7\n')).toBeGreaterThan(alone.indexOf('keel_health_score'));
    // A later scrape does not write into bytes already handed out.
    keel.recordRequest('GET', '/r/0', 500, 1);
    await keel.metricsBuffer();
    expect(a.toString('utf8')).toBe(alone);
    await keel.close();
  });

  it('writes the next render into bytes given back, and only into those', async () => {
    const keel = createKeel({ runtime: false, clock: createFakeClock() });
    for (let r = 0; r < 200; r++) keel.recordRequest('GET', `/r/${r}`, 200, r);
    const first = await keel.metricsBuffer();
    keel.releaseMetricsBuffer(first);
    keel.recordRequest('GET', '/new', 200, 5);
    const second = await keel.metricsBuffer();
    expect(second.buffer).toBe(first.buffer);
    expect(second.toString('utf8')).toContain('http_route="/new"');
    // Bytes Keel did not hand out, or handed out before, are not taken.
    keel.releaseMetricsBuffer(Buffer.from(second));
    keel.releaseMetricsBuffer(first);
    const kept = Buffer.from(second);
    const third = await keel.metricsBuffer();
    expect(third.buffer).not.toBe(second.buffer);
    expect(second.equals(kept)).toBe(true);
    expect(third.toString('utf8')).toBe(second.toString('utf8'));
    await keel.close();
  });

  it('/metrics gives its bytes back once the response has finished, and serves the same text from them', async () => {
    const keel = createKeel({ runtime: false, clock: createFakeClock() });
    for (let r = 0; r < 500; r++) keel.recordRequest('GET', `/r/${r}`, 200, r);
    const sent: Buffer[] = [];
    const render = keel.metricsBuffer.bind(keel);
    keel.metricsBuffer = async () => {
      const bytes = await render();
      sent.push(bytes);
      return bytes;
    };
    const release = keel.releaseMetricsBuffer.bind(keel);
    let released!: (bytes: Buffer) => void;
    const firstReleased = new Promise<Buffer>((resolve) => {
      released = resolve;
    });
    keel.releaseMetricsBuffer = (bytes) => {
      release(bytes);
      released(bytes);
    };
    const server = await keel.listen(0, '127.0.0.1');
    const url = `http://127.0.0.1:${server.port}/metrics`;
    const firstText = await (await fetch(url)).text();
    expect(await firstReleased).toBe(sent[0]);
    keel.recordRequest('GET', '/after', 200, 5);
    const secondText = await (await fetch(url)).text();
    expect(sent).toHaveLength(2);
    expect(sent[1]!.buffer).toBe(sent[0]!.buffer);
    expect(secondText).toContain('http_route="/after"');
    expect(firstText).not.toContain('/after');
    expect(secondText).toBe(await keel.metrics());
    await keel.close();
  });
});
