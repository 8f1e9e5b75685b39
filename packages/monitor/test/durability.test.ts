import { spawn } from 'node:child_process';
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFakeClock, createKeel } from '@keel/core';
import { describe, expect, it, vi } from 'vitest';
import { createMonitor } from '../src/index.js';
import { Journal } from '../src/store/journal.js';
import { restartWorker } from './fixtures/restart-worker.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const retry = { maxPending: 1000, retryDelay: 1000, maxRetryDelay: 60_000 };
const burst = fileURLToPath(new URL('./fixtures/burst-of-records.ts', import.meta.url));
type Ack = { step: number } | { incident: string; change: string; status: string };
const fixture = fileURLToPath(new URL('./fixtures/crash-mid-incident.ts', import.meta.url));

/** Runs the crash fixture until its incident (and the mitigation on trial) is on disk, then SIGKILLs it. */
async function crashMidIncident(dir: string, ...args: string[]): Promise<string> {
  // tsx is a devDependency of this package; the root tsconfig maps @keel/* to the sources.
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, dir, ...args], {
    cwd: join(root, 'packages', 'monitor'),
    env: { ...process.env, TSX_TSCONFIG_PATH: join(root, 'tsconfig.json') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const id = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const m = /OPEN (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`child exited ${code}: ${err}`)));
  });
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  return id;
}

describe('durability', () => {
  it('a process killed mid-incident reloads the open incident on restart (torn last line skipped)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-crash-'));
    const id = await crashMidIncident(dir);
    expect(id).toMatch(/^crashy-/);
    // A write torn by the crash: half a record, no newline.
    appendFileSync(join(dir, 'monitor.jsonl'), '{"t":"step","at":1,"step":{"kind":"appl');

    const errors: string[] = [];
    const keel = createKeel({
      clock: createFakeClock(Date.UTC(2026, 0, 1, 1)),
      runtime: false,
      service: 'crashy',
      onError: (_e, where) => errors.push(where),
    });
    const monitor = createMonitor(keel, { dir, schedule: false });
    const open = monitor.incidents.open!;
    expect(open.id).toBe(id);
    expect(open.status).toBe('open');
    expect(open.timeline.map((e) => e.kind).slice(0, 2)).toEqual(['detected', 'assessed']);
    // The reload is noted, then the action the crash interrupted is closed (below).
    expect(open.timeline.at(-2)!.detail).toContain('reloaded');
    expect(open.timeline.at(-1)!.detail).toContain('shed-load: interrupted');
    expect(errors).toEqual(['monitor-journal']); // the torn line was reported, not fatal
    expect(monitor.steps().some((s) => s.kind === 'cycle-started')).toBe(true);
    // Shed-load was on trial when the process died: it ended with it, and the record says so.
    const shed = open.actions.find((a) => a.mitigation === 'shed-load')!;
    expect(shed).toMatchObject({ outcome: 'interrupted', validatedAt: keel.config.clock.now() });
    expect(shed.detail).toContain('restarted before it was validated');
    expect(open.actions.some((a) => a.outcome === 'pending')).toBe(false);

    // Appends after the torn line start on a line of their own and reload cleanly.
    monitor.trigger('manual');
    await monitor.close();
    await keel.close();
    const lines = readFileSync(join(dir, 'monitor.jsonl'), 'utf8').trim().split('\n');
    expect(lines.filter((l) => l.startsWith('{"t":"step","at":1,"step":{"kind":"appl')).length).toBe(1);
    const unreadable = lines.filter((l) => {
      try {
        JSON.parse(l);
        return false;
      } catch {
        return true;
      }
    });
    expect(unreadable).toHaveLength(1);
  });

  it('after a SIGKILL an irreversible mitigation left on trial is validated by the next run, not left pending', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-resume-'));
    const id = await crashMidIncident(dir, 'irreversible');
    const clock = createFakeClock(Date.UTC(2026, 0, 1, 0, 5));
    const keel = createKeel({ clock, runtime: false, service: 'crashy' });
    const monitor = createMonitor(keel, { dir, schedule: false, mitigations: [restartWorker] });
    const incident = monitor.incidents.open!;
    expect(incident.id).toBe(id);
    const before = incident.actions.find((a) => a.mitigation === 'restart-worker')!;
    expect(before.outcome).toBe('pending');
    expect(monitor.cycle).toMatchObject({ phase: 'validating', current: { mitigation: 'restart-worker' } });
    expect(monitor.cycle?.trigger).toContain('resumed after a restart');
    // The app came back healthy: measured validateAfter after the restart was applied.
    for (let i = 0; i < 70; i++) {
      for (let j = 0; j < 20; j++) keel.recordRequest('GET', '/slow', 200, 10);
      await clock.advanceAsync(keel.config.interval);
    }
    await monitor.settled();
    const after = incident.actions.find((a) => a.mitigation === 'restart-worker')!;
    expect(['kept', 'not-helpful']).toContain(after.outcome);
    expect(after.after).not.toBeNull();
    expect(after.appliedAt).toBe(before.appliedAt);
    await monitor.close();
    await keel.close();
  });

  it('SIGKILL in the middle of a burst of records: every acknowledged change is on disk and the file loads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-burst-'));
    const killAt = 60 + Math.floor(Math.random() * 40);
    const child = spawn(process.execPath, ['--import', 'tsx', burst, dir, String(killAt)], {
      cwd: join(root, 'packages', 'monitor'),
      env: { ...process.env, TSX_TSCONFIG_PATH: join(root, 'tsconfig.json') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acks: Ack[] = [];
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d) => (out += d));
    const signal = await new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('close', (_code, signal) => resolve(signal)),
    );
    expect(signal, err).toBe('SIGKILL');
    for (const line of out.split('\n')) if (line.startsWith('ACK ')) acks.push(JSON.parse(line.slice(4)));
    expect(acks).toHaveLength(killAt);

    const lines = readFileSync(join(dir, 'monitor.jsonl'), 'utf8').split('\n');
    const last = lines.pop();
    // Every line parses; only a line the kill cut short (no newline yet) may not.
    const records = lines.map((l) => JSON.parse(l));
    if (last) expect(() => JSON.parse(last)).toThrow();
    const states = (id: string) =>
      records.filter((r) => r.t === 'incident' && r.incident.id === id).map((r) => r.incident);
    const steps = new Set(records.filter((r) => r.t === 'step').map((r) => r.step.seq));
    let incidents = 0;
    for (const a of acks) {
      if ('step' in a) {
        expect(steps.has(a.step)).toBe(true);
        continue;
      }
      incidents++;
      const written = states(a.incident);
      expect(written.length).toBeGreaterThan(0);
      if (a.change === 'resolved') expect(written.some((i) => i.status === 'resolved')).toBe(true);
      if (a.change === 'mitigated')
        expect(written.some((i) => i.actions.some((x: { outcome: string }) => x.outcome === 'kept'))).toBe(
          true,
        );
    }
    expect(incidents).toBeGreaterThan(0);
    expect(acks.some((a) => 'change' in a && a.change === 'resolved')).toBe(true);
    console.log(
      `SIGKILL after ${acks.length} acknowledged changes: ${records.length} records on disk, all present; ${last ? 'one torn last line' : 'no torn line'}`,
    );

    // And the monitor starts from it.
    const keel = createKeel({
      clock: createFakeClock(Date.UTC(2026, 0, 2)),
      runtime: false,
      service: 'bursty',
    });
    const monitor = createMonitor(keel, { dir, schedule: false });
    expect(monitor.incidents.list().length).toBeGreaterThan(0);
    await monitor.close();
    await keel.close();
  });

  it('an older open incident superseded on reload is written back resolved, not superseded again on every restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-supersede-'));
    const start = (at: number) => {
      const clock = createFakeClock(at);
      const keel = createKeel({ clock, runtime: false, service: 'svc' });
      return { clock, keel, monitor: createMonitor(keel, { dir, schedule: false }) };
    };
    const stop = async (run: ReturnType<typeof start>) => {
      await run.monitor.close();
      await run.keel.close();
    };
    // One open incident on disk, then a second one opened by a copy of it: what a crash between the two leaves.
    const first = start(Date.UTC(2026, 0, 1));
    for (let i = 0; i < 6 && !first.monitor.incidents.open; i++) {
      for (let j = 0; j < 20; j++) first.keel.recordRequest('GET', '/slow', 200, 900);
      first.clock.advance(first.keel.config.interval);
    }
    await first.monitor.settled();
    const older = first.monitor.incidents.open!;
    expect(older.status).toBe('open');
    await stop(first);
    const newer = { ...older, id: `${older.id}-b`, openedAt: older.openedAt + 1000 };
    appendFileSync(
      join(dir, 'monitor.jsonl'),
      `${JSON.stringify({ t: 'incident', at: newer.openedAt, incident: newer })}\n`,
    );

    const supersededAt = Date.UTC(2026, 0, 2);
    const second = start(supersededAt);
    expect(second.monitor.incidents.open!.id).toBe(newer.id);
    await stop(second);
    const later = start(Date.UTC(2026, 0, 3));
    const reloaded = later.monitor.incidents.list().find((i) => i.id === older.id)!;
    expect(reloaded.status).toBe('resolved');
    const notes = reloaded.timeline.filter((e) => e.detail?.includes('superseded'));
    expect(notes.map((e) => e.at)).toEqual([supersededAt]);
    await stop(later);
  });

  it('rotation bounds the size and carries open incidents into the new file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-rotate-'));
    let open = [{ id: 'inc-1', status: 'open' }];
    const journal = new Journal<Record<string, unknown>>(
      { dir, maxBytes: 2000, maxFiles: 2, ...retry },
      createFakeClock(),
      () => open.map((incident) => ({ t: 'incident', incident })),
      (where, error) => {
        throw new Error(`${where}: ${error}`);
      },
    );
    journal.load();
    for (let i = 0; i < 200; i++) void journal.append({ t: 'step', i, pad: 'x'.repeat(80) });
    await journal.flush();
    const files = readdirSync(dir).sort();
    expect(files).toEqual(['monitor.1.jsonl', 'monitor.2.jsonl', 'monitor.jsonl']);
    for (const f of files) expect(readFileSync(join(dir, f)).length).toBeLessThan(2000 + 200);
    const current = new Journal<Record<string, unknown>>(
      { dir, maxBytes: 2000, maxFiles: 2, ...retry },
      createFakeClock(),
      () => [],
      () => {},
    );
    const { records } = current.load();
    expect(records[0]).toEqual({ t: 'incident', incident: { id: 'inc-1', status: 'open' } });
    expect(records.at(-1)).toMatchObject({ t: 'step', i: 199 });
    open = [];
    await journal.close();
  });

  it('bounded while writes fail: a newer state replaces its queued self, the oldest steps are dropped and counted, the rest lands in order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-bound-'));
    const clock = createFakeClock();
    const journal = new Journal<Record<string, unknown>>(
      { dir, maxBytes: 1_000_000, maxFiles: 2, maxPending: 3, retryDelay: 1000, maxRetryDelay: 1000 },
      clock,
      () => [],
      () => {},
    );
    journal.load();
    // The directory goes away and a file takes its place: every write fails (ENOTDIR).
    rmSync(dir, { recursive: true });
    writeFileSync(dir, 'not a directory');
    const acks = [
      journal.append({ t: 'incident', v: 1 }, 'incident:a'),
      ...[1, 2, 3, 4].map((i) => journal.append({ t: 'step', i })),
      journal.append({ t: 'incident', v: 2 }, 'incident:a'),
    ];
    expect(await Promise.all(acks)).toEqual([false, false, false, false, false, false]);
    // `a` v1 was being written when v2 came: once that write failed, v2 superseded it. Three steps went
    // to make room while it was still queued.
    expect(journal.stats()).toMatchObject({
      durable: false,
      pending: 2,
      dropped: 3,
      lastError: expect.any(String),
    });

    rmSync(dir);
    mkdirSync(dir);
    await clock.advanceAsync(1000);
    await vi.waitFor(() => expect(journal.stats()).toMatchObject({ durable: true, pending: 0, written: 2 }));
    const lines = readFileSync(join(dir, 'monitor.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toEqual([
      { t: 'step', i: 4 },
      { t: 'incident', v: 2 },
    ]);
    await journal.close();
  });

  it('fails fast at startup when the directory cannot be used', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'keel-bad-')), 'a-file');
    writeFileSync(file, 'x');
    const keel = createKeel({ clock: createFakeClock(), runtime: false });
    expect(() => createMonitor(keel, { dir: join(file, 'sub') })).toThrow(
      expect.objectContaining({ code: 'KEEL_INVALID_OPTION' }),
    );
  });
});
