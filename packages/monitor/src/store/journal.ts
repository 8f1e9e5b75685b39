import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';

export interface JournalConfig {
  readonly dir: string;
  /** Past this many bytes the file is rotated (`monitor.jsonl` → `monitor.1.jsonl`, ...). */
  readonly maxBytes: number;
  /** Rotated files kept besides the current one. */
  readonly maxFiles: number;
}

export interface LoadResult<R> {
  readonly records: R[];
  /** Lines that did not parse (a torn last line after a crash, or damage). */
  readonly skipped: number;
}

const FILE = 'monitor.jsonl';

/**
 * An append-only JSON Lines file, flushed to disk (fsync) per record, so a
 * crash loses at most the record being written — and that one is skipped on
 * load as a torn line, not fatal. When the file passes `maxBytes` it is
 * rotated and `snapshot()` re-writes what must survive (open incidents) at
 * the top of the new file, so loading the current file alone is enough.
 */
export class Journal<R> {
  readonly config: JournalConfig;
  readonly path: string;
  readonly #snapshot: () => R[];
  readonly #report: (where: string, error: unknown) => void;
  #chain: Promise<void> = Promise.resolve();
  #handle: FileHandle | undefined;
  #size = 0;
  #needsNewline = false;
  #closed = false;

  constructor(config: JournalConfig, snapshot: () => R[], report: (where: string, error: unknown) => void) {
    this.config = config;
    this.path = join(config.dir, FILE);
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

  /** Queues one record; it is on disk when `flush()` resolves. Never throws. */
  append(record: R): void {
    if (this.#closed) return;
    let line: string;
    try {
      line = `${JSON.stringify(record)}\n`;
    } catch (error) {
      this.#report('journal-encode', error);
      return;
    }
    this.#chain = this.#chain.then(() => this.#write(line)).catch((error) => this.#report('journal', error));
  }

  flush(): Promise<void> {
    return this.#chain;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#chain;
    await this.#handle?.close().catch(() => {});
    this.#handle = undefined;
  }

  async #write(line: string): Promise<void> {
    if (this.#size >= this.config.maxBytes) await this.#rotate();
    this.#handle ??= await open(this.path, 'a');
    const text = this.#needsNewline ? `\n${line}` : line;
    this.#needsNewline = false;
    await this.#handle.write(text);
    await this.#handle.sync();
    this.#size += Buffer.byteLength(text);
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
    this.#handle = await open(this.path, 'a');
    const carried = this.#snapshot()
      .map((r) => `${JSON.stringify(r)}\n`)
      .join('');
    if (carried) {
      await this.#handle.write(carried);
      await this.#handle.sync();
      this.#size += Buffer.byteLength(carried);
    }
  }
}
