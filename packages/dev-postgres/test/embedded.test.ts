import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type ForegroundJob, foregroundJobs } from '../../../scripts/test/support/process-group.js';
import { reachable } from '../index.mjs';

// The embedded PostgreSQL's life, seen from outside as a terminal and a crash see it.
const entry = fileURLToPath(new URL('../index.mjs', import.meta.url));
const startJob = foregroundJobs();

/** A host process (a group of its own, as a terminal's job) that starts a server and prints its URL. */
async function host(prefix: string, rest: string): Promise<{ url: string; job: ForegroundJob }> {
  const script = `
    import { startEmbeddedPostgres } from ${JSON.stringify(entry)};
    const server = await startEmbeddedPostgres({ prefix: ${JSON.stringify(prefix)} });
    console.log(server.url);
    ${rest}`;
  const job = startJob(process.execPath, ['--input-type=module', '-e', script]);
  const url = await job.waitForOutput('its URL', (output) => /postgres:\/\/\S+/.exec(output)?.[0], 60_000);
  return { url, job };
}

async function until(what: string, probe: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const leftovers = (prefix: string) => readdirSync(tmpdir()).filter((name) => name.startsWith(prefix));

describe('the embedded PostgreSQL', () => {
  it("is out of reach of the host's Ctrl-C, and stops with the host even when it is SIGKILLed", async () => {
    const prefix = `keel-devpg-kill-${process.pid}-`;
    // The host ignores SIGINT, as an app that drains first does.
    const { url, job } = await host(prefix, "process.on('SIGINT', () => {}); setInterval(() => {}, 1000);");
    expect(await reachable(url)).toBe(true);

    job.signal('SIGINT'); // what a terminal's Ctrl-C does to its foreground group
    await new Promise((r) => setTimeout(r, 1500));
    expect(await reachable(url)).toBe(true);

    job.signal('SIGKILL');
    await job.exited;
    await until('the server to stop', async () => !(await reachable(url)));
    await until('its directory to go', async () => leftovers(prefix).length === 0);
  }, 90_000);

  it("does not keep the host's event loop alive; the server stops when the host has ended", async () => {
    const prefix = `keel-devpg-end-${process.pid}-`;
    const { url, job } = await host(prefix, '');
    expect((await job.exited).code).toBe(0);
    await until('the server to stop', async () => !(await reachable(url)));
    await until('its directory to go', async () => leftovers(prefix).length === 0);
  }, 90_000);
});
