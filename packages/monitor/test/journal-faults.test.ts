import { appendFileSync, existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createFakeClock, createKeel, healthJson } from '@keel/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMonitor, type Monitor, memoryNotifier } from '../src/index.js';
import { type FaultyDir, smallTmpfs } from './fs-faults.js';

const MIN = 60_000;
type Sections = { monitor: ReturnType<Monitor['status']>; incidents: ReturnType<Monitor['incidentsJson']> };

let fault: FaultyDir | undefined;
afterEach(() => {
  fault?.dispose();
  fault = undefined;
});

/** An app on the fake clock with a monitor journaling to `dir`; `slow` drives api_latency past its budget. */
function app(dir: string) {
  const clock = createFakeClock();
  const errors: string[] = [];
  const keel = createKeel({ clock, runtime: false, onError: (_e, where) => errors.push(where) });
  const notes = memoryNotifier();
  const monitor = createMonitor(keel, {
    dir,
    schedule: false,
    builtIns: { serveStale: false, openCircuit: false, shedLoad: false },
    notifiers: [notes],
    recoveryWindow: MIN,
    stabilityWindow: MIN,
    journal: { retryDelay: 1000, maxRetryDelay: 10_000 },
  });
  const state = { slow: true };
  const run = async (ms: number) => {
    for (let t = 0; t < ms; t += keel.config.interval) {
      for (let i = 0; i < 20; i++) keel.recordRequest('GET', '/x', 200, state.slow ? 900 : 10);
      await clock.advanceAsync(keel.config.interval);
      await monitor.settled();
    }
  };
  const health = () => healthJson(keel.health()) as unknown as Sections;
  return { clock, keel, monitor, notes, state, run, errors, health };
}

/** Breach, then recover until the incident resolves: the records and the post-mortem this needs are written meanwhile. */
async function incidentThatResolves(a: ReturnType<typeof app>) {
  for (let i = 0; i < 12 && !a.monitor.incidents.open; i++) await a.run(10_000);
  const incident = a.monitor.incidents.open!;
  expect(incident).not.toBeNull();
  a.state.slow = false;
  for (let i = 0; i < 60 && incident.status === 'open'; i++) await a.run(10_000);
  expect(incident.status).toBe('resolved');
  await a.monitor.settled();
  return incident;
}

/** What a fault left: nothing claims to be on disk that is not, and /health says what is not. */
async function expectNotDurable(a: ReturnType<typeof app>, code: RegExp) {
  const incident = await incidentThatResolves(a);
  const journal = a.health().monitor.journal!;
  expect(journal).toMatchObject({ durable: false, lastError: expect.stringMatching(code) });
  expect(journal.pending).toBeGreaterThan(0);
  expect(journal.failedWrites).toBeGreaterThan(0);
  expect(journal.failingSince).not.toBeNull();
  expect(a.errors).toContain('monitor-journal');
  // The incident was still announced (the on-call must hear of it), and its post-mortem is not claimed.
  expect(a.notes.received.map((n) => n.type)).toEqual(['incident.opened', 'incident.resolved']);
  expect(incident.postMortemPath).toBeNull();
  expect(incident.postMortemError).toMatch(code);
  expect(existsSync(join(fault!.dir, 'postmortems', `${incident.id}.md`))).toBe(false);
  expect(incident.timeline.at(-1)).toMatchObject({
    kind: 'post-mortem',
    detail: expect.stringMatching(code),
  });
  expect(a.health().incidents.recent[0]).toMatchObject({
    postMortemPath: null,
    postMortemError: expect.any(String),
  });
  expect(a.errors).toContain('post-mortem');
  return incident;
}

/** Once the disk takes writes again: every record and the post-mortem land, and a restart finds them. */
async function expectRecovered(
  a: ReturnType<typeof app>,
  incident: { id: string; postMortem: string | null },
) {
  await a.clock.advanceAsync(30_000); // past the retries' backoff
  await vi.waitFor(async () => {
    await a.monitor.settled();
    expect(a.health().monitor.journal).toMatchObject({ durable: true, pending: 0, lastError: null });
  });
  const path = join(fault!.dir, 'postmortems', `${incident.id}.md`);
  await vi.waitFor(() => expect(a.monitor.incidents.get(incident.id)!.postMortemPath).toBe(path));
  expect(readFileSync(path, 'utf8')).toBe(incident.postMortem);
  await a.monitor.settled();
  await a.monitor.close();
  await a.keel.close();
  const keel = createKeel({ clock: createFakeClock(Date.UTC(2026, 0, 2)), runtime: false });
  const reloaded = createMonitor(keel, { dir: fault!.dir, schedule: false });
  expect(reloaded.incidents.get(incident.id)).toMatchObject({
    status: 'resolved',
    postMortemPath: path,
    postMortemError: null,
  });
  await reloaded.close();
  await keel.close();
}

describe('journal faults', () => {
  it('a full disk (ENOSPC): records stay queued and /health says not durable; the post-mortem failure is stated; all lands once there is room', async ({
    skip,
  }) => {
    const made = smallTmpfs(64 * 1024);
    if (typeof made === 'string') return skip(made);
    fault = made;
    const a = app(fault.dir);
    // Fill the file system: a write that no longer fits fails with ENOSPC.
    const filler = join(fault.dir, 'filler');
    try {
      writeFileSync(filler, Buffer.alloc(128 * 1024));
    } catch {}
    expect(() => appendFileSync(filler, Buffer.alloc(4096))).toThrow(/ENOSPC/);
    console.log(`full disk: ${fault.how}, filled up`);

    const incident = await expectNotDurable(a, /ENOSPC/);
    unlinkSync(filler);
    await expectRecovered(a, incident);
  });

  it('a read-only directory (EROFS): the same, until it is writable again', async ({ skip }) => {
    const made = smallTmpfs(1024 * 1024);
    if (typeof made === 'string') return skip(made);
    fault = made;
    const a = app(fault.dir);
    fault.readOnly(true);
    console.log(`read-only: ${fault.how}, remounted ro after the monitor started`);

    const incident = await expectNotDurable(a, /EROFS/);
    // A monitor that starts on a read-only directory fails fast instead.
    const other = createKeel({ clock: createFakeClock(), runtime: false });
    expect(() => createMonitor(other, { dir: join(fault!.dir, 'new') })).toThrow(
      expect.objectContaining({ code: 'KEEL_INVALID_OPTION' }),
    );
    await other.close();
    fault.readOnly(false);
    await expectRecovered(a, incident);
  });
});
