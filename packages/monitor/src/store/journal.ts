import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock, TimerHandle } from '@keel/core';

export interface JournalConfig {
  readonly dir: string;
  /** Past this many bytes the file is rotated (`monitor.jsonl` → `monitor.1.jsonl`, ...). */
  readonly maxBytes: number;
  /** Rotated files kept besides the current one. */
  readonly maxFiles: number;
  /** Records waiting to be written, at most; past it the oldest unkeyed ones are dropped (and counted). */
  readonly maxPending: number;
  /** Wait before retrying a failed write, doubled each time up to `maxRetryDelay`, ms. */
  readonly retryDelay: number;
  readonly maxRetryDelay: number;
}

export interface LoadResult<R> {
  readonly records: R[];
  /** Lines that did not parse (a torn last line after a crash, or damage). */
  readonly skipped: number;
}

/** What `/health` shows of the journal: `durable` is false while any record is not on disk. */
export interface JournalStats {
  readonly path: string;
  readonly durable: boolean;
  /** Records accepted but not yet on disk (being written, or waiting for a retry). */
  readonly pending: number;
  /** Records on disk (written and fsync'd) since start. */
  readonly written: number;
  /** Write attempts that failed (each retry counts). */
  readonly failedWrites: number;
  /** Records dropped because `maxPending` were waiting: they will never be on disk. */
  readonly dropped: number;
  readonly lastError: string | null;
  /** When writes started failing (epoch ms), `null` while they succeed. */
  readonly failingSince: number | null;
}

const FILE = 'monitor.jsonl';

interface Entry {
  bytes: Buffer;
  /** Records with a key (an incident, an outbox message) replace a queued one with the same key. */
  readonly key: string | undefined;
  /** Called once: `true` when on disk, `false` when the first attempt to write it failed. */
  waiters: ((durable: boolean) => void)[];
}

/**
 * An append-only JSON Lines file. A record is acknowledged only once it is
 * on disk: `append` resolves after the write and the `fsync` that covered
 * it. Records that arrive during a write go together in the next one (group
 * commit: one fsync for a burst). A write that fails (a full disk, a
 * read-only directory) is undone (the file is truncated back to its last
 * good size) and its records stay queued, in order, retried with backoff;
 * their `append` resolves `false` at the first failure so the caller can say
 * "not durable" instead of waiting for a disk that may never come back.
 * The queue is bounded: keyed records (the state of one incident) replace
 * their older queued self; past `maxPending` the oldest unkeyed ones are
 * dropped and counted. Past `maxBytes` the file is rotated and `snapshot()`
 * re-writes what must survive at the top of the new file, so loading the
 * current file alone is enough.
 */
export class Journal<R> {
  readonly config: JournalConfig;
  readonly path: string;
  readonly #snapshot: () => R[];
  readonly #report: (where: string, error: unknown) => void;
  readonly #clock: Clock;
  #queue: Entry[] = [];
  readonly #byKey = new Map<string, Entry>();
  /** The batch being written: out of reach of coalescing and of the bound. */
  readonly #inFlight = new Set<Entry>();
  #writing: Promise<void> | null = null;
  #retryTimer: TimerHandle | undefined;
  #attempts = 0;
  #handle: FileHandle | undefined;
  #size = 0;
  #needsNewline = false;
  #closed = false;
  #written = 0;
  #failedWrites = 0;
  #dropped = 0;
  #lastError: string | null = null;
  #failingSince: number | null = null;

  constructor(
    config: JournalConfig,
    clock: Clock,
    snapshot: () => R[],
    report: (where: string, error: unknown) => void,
  ) {
    this.config = config;
    this.path = join(config.dir, FILE);
    this.#clock = clock;
    this.#snapshot = snapshot;
    this.#report = report;
  }

  /** Creates the directory (at startup, so a bad path fails fast) and reads what a previous run left. */
  load(): LoadResult<R> {
    mkdirSync(this.config.dir, { recursive: true });
    // Fails fast on a directory we cannot write to, rather than at the first incident.
    closeSync(openSync(this.path, 'a'));
    const text = readFileSync(this.path, 'utf8');
    this.#size = Buffer.byteLength(text);
    this.#needsNewline = text.length > 0 && !text.endsWith('\n');
    const records: R[] = [];
    let skipped = 0;
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        records.push(JSON.parse(line) as R);
      } catch {
        skipped++;
      }
    }
    return { records, skipped };
  }

  /**
   * Queues one record (serialized now: later changes to the object are not
   * in it). Resolves `true` once it is on disk, `false` if the first attempt
   * to write it failed (it stays queued and is retried). Never rejects.
   */
  append(record: R, key?: string): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    let bytes: Buffer;
    try {
      bytes = Buffer.from(`${JSON.stringify(record)}\n`);
    } catch (error) {
      this.#report('journal-encode', error);
      return Promise.resolve(false);
    }
    return new Promise<boolean>((resolve) => {
      // Writes are failing (a retry is waiting): queued for it, but not durable now.
      const waiters = this.#retryTimer === undefined ? [resolve] : [];
      if (waiters.length === 0) resolve(false);
      const queued = key === undefined ? undefined : this.#byKey.get(key);
      if (queued) {
        // The newer state of the same thing replaces the older, not yet written.
        queued.bytes = bytes;
        queued.waiters.push(...waiters);
        return;
      }
      const entry: Entry = { bytes, key, waiters };
      this.#queue.push(entry);
      if (key !== undefined) this.#byKey.set(key, entry);
      this.#bound();
      this.#pump();
    });
  }

  /** Resolves when nothing is being written: everything is on disk, or the writes are failing (retried later). */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  stats(): JournalStats {
    return {
      path: this.path,
      durable: this.#queue.length === 0,
      pending: this.#queue.length,
      written: this.#written,
      failedWrites: this.#failedWrites,
      dropped: this.#dropped,
      lastError: this.#lastError,
      failingSince: this.#failingSince,
    };
  }

  /** A last attempt at what is pending, then the file is closed; what still could not be written is reported. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#retryTimer !== undefined) this.#clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    await this.flush();
    if (this.#queue.length > 0) {
      this.#writing = this.#writeBatch();
      await this.#writing;
      this.#writing = null;
    }
    if (this.#queue.length > 0)
      this.#report(
        'monitor-journal',
        new Error(`${this.#queue.length} record(s) could not be written to ${this.path}: ${this.#lastError}`),
      );
    await this.#handle?.close().catch(() => {});
    this.#handle = undefined;
  }

  #bound(): void {
    while (this.#queue.length > this.config.maxPending) {
      // The oldest unkeyed record goes: a keyed one is the only copy of something's current state.
      let index = this.#queue.findIndex((e) => e.key === undefined && !this.#inFlight.has(e));
      if (index < 0) index = this.#queue.findIndex((e) => !this.#inFlight.has(e));
      if (index < 0) return;
      const [dropped] = this.#queue.splice(index, 1);
      if (dropped!.key !== undefined) this.#byKey.delete(dropped!.key);
      this.#dropped++;
      for (const resolve of dropped!.waiters.splice(0)) resolve(false);
      if (this.#dropped === 1)
        this.#report(
          'monitor-journal',
          new Error(
            `more than ${this.config.maxPending} records waiting for ${this.path}: the oldest are dropped`,
          ),
        );
    }
  }

  #pump(): void {
    if (this.#writing || this.#retryTimer !== undefined || this.#queue.length === 0) return;
    const writing = this.#writeBatch().finally(() => {
      this.#writing = null;
      if (!this.#closed) this.#pump();
    });
    this.#writing = writing;
  }

  async #writeBatch(): Promise<void> {
    if (this.#size >= this.config.maxBytes) {
      try {
        await this.#rotate();
      } catch (error) {
        this.#failed(error);
        return;
      }
    }
    // As much as fits before `maxBytes` (at least one record): a file passes it by one record at most.
    const batch: Entry[] = [];
    let bytes = this.#size;
    for (const entry of this.#queue) {
      if (batch.length > 0 && bytes + entry.bytes.length > this.config.maxBytes) break;
      batch.push(entry);
      bytes += entry.bytes.length;
    }
    for (const entry of batch) {
      this.#inFlight.add(entry);
      // A newer state of the same key must go in a later write, not into bytes already taken.
      if (entry.key !== undefined && this.#byKey.get(entry.key) === entry) this.#byKey.delete(entry.key);
    }
    const sizeBefore = this.#size;
    try {
      this.#handle ??= await open(this.path, 'a');
      const parts = batch.map((e) => e.bytes);
      if (this.#needsNewline) parts.unshift(Buffer.from('\n'));
      const text = Buffer.concat(parts);
      const { bytesWritten } = await this.#handle.write(text, 0, text.length);
      if (bytesWritten !== text.length)
        throw new Error(`short write: ${bytesWritten} of ${text.length} bytes`);
      await this.#handle.sync();
      this.#needsNewline = false;
      this.#size += text.length;
    } catch (error) {
      await this.#undo(sizeBefore);
      this.#inFlight.clear();
      // Still queued, unless a newer state of the same key came meanwhile (it supersedes this one);
      // otherwise a newer state may replace it again.
      const superseded = batch.filter((e) => e.key !== undefined && this.#byKey.has(e.key));
      this.#queue = this.#queue.filter((e) => !superseded.includes(e));
      for (const entry of superseded) for (const resolve of entry.waiters.splice(0)) resolve(false);
      for (const entry of batch)
        if (entry.key !== undefined && !this.#byKey.has(entry.key)) this.#byKey.set(entry.key, entry);
      this.#failed(error);
      return;
    }
    this.#inFlight.clear();
    // Records queued meanwhile stay; the written ones leave, each acknowledged.
    this.#queue = this.#queue.filter((e) => !batch.includes(e));
    for (const entry of batch) for (const resolve of entry.waiters.splice(0)) resolve(true);
    this.#written += batch.length;
    this.#attempts = 0;
    if (this.#failingSince !== null) {
      this.#failingSince = null;
      this.#lastError = null;
    }
  }

  /** A failed write may have left part of the batch: cut the file back so no torn line remains. */
  async #undo(size: number): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    try {
      await handle?.truncate(size);
      this.#size = size;
    } catch {
      // Cannot even truncate (a read-only file system): the next write starts on a line of its own.
      this.#needsNewline = true;
    }
    await handle?.close().catch(() => {});
  }

  #failed(error: unknown): void {
    this.#failedWrites++;
    this.#attempts++;
    this.#lastError = error instanceof Error ? error.message : String(error);
    this.#failingSince ??= this.#clock.now();
    if (this.#attempts === 1) this.#report('monitor-journal', error);
    // Writes are failing: say so now for everything waiting, rather than wait for a disk that may never come back.
    for (const entry of this.#queue) for (const resolve of entry.waiters.splice(0)) resolve(false);
    if (this.#closed) return;
    const wait = Math.min(this.config.retryDelay * 2 ** (this.#attempts - 1), this.config.maxRetryDelay);
    this.#retryTimer = this.#clock.setTimeout(() => {
      this.#retryTimer = undefined;
      this.#pump();
    }, wait);
  }

  async #rotate(): Promise<void> {
    await this.#handle?.close();
    this.#handle = undefined;
    const rotated = (n: number) => join(this.config.dir, `monitor.${n}.jsonl`);
    rmSync(rotated(this.config.maxFiles), { force: true });
    for (let n = this.config.maxFiles - 1; n >= 1; n--) {
      if (existsSync(rotated(n))) renameSync(rotated(n), rotated(n + 1));
    }
    if (this.config.maxFiles > 0) renameSync(this.path, rotated(1));
    else rmSync(this.path, { force: true });
    this.#size = 0;
    this.#needsNewline = false;
    this.#handle = await open(this.path, 'a');
    const carried = Buffer.from(
      this.#snapshot()
        .map((r) => `${JSON.stringify(r)}\n`)
        .join(''),
    );
    if (carried.length) {
      await this.#handle.write(carried, 0, carried.length);
      await this.#handle.sync();
      this.#size += carried.length;
    }
  }
}
