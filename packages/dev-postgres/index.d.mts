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
}

/**
 * Starts an embedded PostgreSQL in a temporary directory, deleted on `stop()`.
 * The server runs in a process group of its own (a terminal's Ctrl-C does not
 * reach it) and stops on `stop()`, or when the process that started it exits,
 * however it exits.
 */
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

/** What the proxy does with traffic: pass it on, black-hole it, or pass it on late. */
export type ProxyMode = { kind: 'forward' } | { kind: 'hang' } | { kind: 'latency'; ms: number };

/**
 * A loopback TCP proxy in front of PostgreSQL, to make the database fail
 * under a running pool in the ways a network or a server fails:
 * - `stop()` cuts every connection and refuses new ones (a crashed host),
 *   `start()` accepts again on the same port;
 * - `hang()` accepts connections but never forwards a byte, and every
 *   connection open at that moment stops forwarding for good (a frozen
 *   server or a partition: nothing answers, nothing is refused); closing
 *   one side still closes the other, so the server's backends end;
 * - `latency(ms)` delays every chunk, both ways, by `ms` (in order);
 * - `forward()` passes new connections through again.
 */
export class TcpProxy {
  constructor(targetHost: string, targetPort: number);
  readonly targetHost: string;
  readonly targetPort: number;
  /** The port it listens on (127.0.0.1), once started. */
  readonly port: number;
  /** Connections open through the proxy (black-holed ones included). */
  readonly connections: number;
  readonly mode: ProxyMode;
  start(): Promise<void>;
  /** Stops listening and resets every open connection, as a crashed database host would. */
  stop(): Promise<void>;
  /** Black-holes every open connection and every new one until `forward()`. */
  hang(): void;
  /** Delays every chunk of every connection, open or new, by `ms` each way. */
  latency(ms: number): void;
  /** New connections (and those not black-holed) are passed through at once again. */
  forward(): void;
}
