import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Clock } from '../clock.js';
import { checkKnownKeys, invalidOptionOf, KeelError, KeelErrorCode } from '../errors.js';
import { ABORTED_STATUS, CUT_OFF_STATUS } from '../signals/http-signal.js';

export interface GracefulShutdownOptions {
  /**
   * After readiness turns 503, keep serving this long before closing the
   * listeners, so load balancers notice and stop sending traffic. @default 5000
   */
  preStopDelay?: number;
  /** How long in-flight requests may take to finish before their sockets are cut, ms. @default 10000 */
  drainTimeout?: number;
  /** How long each cleanup (`keel.onShutdown`) may take, ms. @default 5000 */
  cleanupTimeout?: number;
}

export interface CleanupResult {
  readonly name: string;
  readonly ok: boolean;
  readonly error: string | null;
}

export interface ShutdownReport {
  /** Every in-flight request finished before `drainTimeout`. */
  readonly drained: boolean;
  /** Requests still running when the listeners closed. */
  readonly inFlightAtClose: number;
  /** Sockets cut because the drain timed out. */
  readonly forced: number;
  readonly cleanups: readonly CleanupResult[];
  readonly durationMs: number;
}

/** What graceful shutdown drives: a Keel, or anything with its lifecycle. */
export interface ShutdownHost {
  readonly config: { readonly clock: Clock };
  /** Readiness turns 503 (the first step). */
  beginShutdown(): void;
  /** A copy of what to run after the drain, oldest first; they run newest first. */
  shutdownCleanups(): { name: string; fn: () => unknown }[];
  reportError(where: string, error: unknown): void;
  /** The last step. */
  close(): Promise<void>;
}

type SlotHolder = Record<symbol, number | undefined>;

export interface AttachOptions {
  /**
   * Listen to the server's `request` event to know which requests are in
   * flight. Adapters that see every request themselves turn it off and report
   * them with `requestStarted` / `requestEnded` instead, which costs less
   * than a second listener on the server and on each response. @default true
   */
  trackRequests?: boolean;
}

/**
 * Shuts an HTTP server down without dropping a request:
 *
 *   readiness 503 ─ preStopDelay ─ close listeners, idle keep-alive sockets
 *   ─ drain in-flight (answers carry `Connection: close`) ─ cut what is left
 *   after drainTimeout ─ cleanups, newest first ─ keel.close()
 *
 * Framework-agnostic: adapters attach the `http.Server` they listen on.
 */
export class GracefulShutdown {
  readonly #keel: ShutdownHost;
  readonly #clock: Clock;
  readonly #options: Required<GracefulShutdownOptions>;
  readonly #servers: Server[] = [];
  /**
   * Responses not yet closed, over every attached server, each at the slot
   * `requestStarted` gave it; `undefined` marks a free slot. A `Set` would
   * rehash and shrink as the count swings with the load, several times the
   * cost of two array writes per request.
   */
  readonly #slots: (ServerResponse | undefined)[] = [];
  /** Free slots of `#slots`, the last freed reused first. */
  readonly #freeSlots: number[] = [];
  #inFlight = 0;
  #closing = false;
  /** Connections have been cut: an unfinished response from now on is the server's doing. */
  #cutting = false;
  #promise: Promise<ShutdownReport> | undefined;
  #drained: (() => void) | undefined;
  /**
   * Where `endOnClose` keeps a response's slot on it: a symbol of this
   * instance's, so two instances tracking one response never share it.
   */
  readonly #slotKey = Symbol('keel.shutdownSlot');
  /** The `close` listener `endOnClose` adds, one function for every response. */
  readonly #onTrackedClose: (this: ServerResponse) => void;

  constructor(keel: ShutdownHost, options: GracefulShutdownOptions = {}) {
    this.#keel = keel;
    this.#clock = keel.config.clock;
    this.#options = resolveShutdownOptions(options);
    const shutdown = this;
    const slotKey = this.#slotKey;
    this.#onTrackedClose = function onTrackedClose(this: ServerResponse) {
      shutdown.requestEnded(this, (this as unknown as SlotHolder)[slotKey] ?? -1);
    };
  }

  get shuttingDown(): boolean {
    return this.#promise !== undefined;
  }

  /**
   * What to record for a response that closed before it was answered:
   * `CUT_OFF_STATUS` (503) once shutdown has cut connections, else
   * `ABORTED_STATUS` (499, the client left).
   */
  get unansweredStatus(): number {
    return this.#cutting ? CUT_OFF_STATUS : ABORTED_STATUS;
  }

  /** Requests being answered right now, over every attached server. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Tracks a server so shutdown can close it and drain its requests. Idempotent per server. */
  attach(server: Server, options: AttachOptions = {}): void {
    known('attach', options, ATTACH_KEYS);
    if (this.#servers.includes(server)) return;
    this.#servers.push(server);
    if (options.trackRequests === false) return;
    // Prepended so the header is set before the app can write its answer.
    server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) =>
      this.endOnClose(res, this.requestStarted(res)),
    );
  }

  /**
   * Ends `slot` (from `requestStarted(res)`) when `res` closes, with a
   * `close` listener shared by every response that finds the slot on `res`.
   */
  endOnClose(res: ServerResponse, slot: number): void {
    const holder = res as unknown as SlotHolder;
    if (holder[this.#slotKey] !== undefined) {
      // Already tracked here (a re-entered handler): its listener ends the first slot; one count per response.
      this.requestEnded(res, slot);
      return;
    }
    holder[this.#slotKey] = slot;
    // `on`, not `once`: once wraps the listener in a new closure per call.
    res.on('close', this.#onTrackedClose);
  }

  /**
   * Counts `res` as in flight until `requestEnded(res, slot)` with the slot
   * returned here, for adapters that attach with `trackRequests: false` and
   * keep the slot where reading it is cheap. Once shutdown has begun, the
   * answer tells the client not to reuse the connection.
   */
  requestStarted(res: ServerResponse): number {
    // Before the slot is taken: nothing after it may throw, or the slot would never be handed back.
    if (this.#closing) closeAfter(res);
    const slot = this.#freeSlots.pop() ?? this.#slots.length;
    this.#slots[slot] = res;
    this.#inFlight++;
    return slot;
  }

  /**
   * `res` has closed (answered or cut off). Call it from the response's
   * `close` event with the slot `requestStarted(res)` returned (without it,
   * the slot is searched for); a second call for the same response does nothing.
   */
  requestEnded(res: ServerResponse, slot?: number): void {
    if (slot === undefined) slot = this.#slots.indexOf(res);
    if (this.#slots[slot] !== res) return;
    this.#slots[slot] = undefined;
    this.#freeSlots.push(slot);
    this.#inFlight--;
    if (!this.#closing) return;
    // The socket this answer used is idle now: let it go.
    for (const server of this.#servers) server.closeIdleConnections();
    if (this.#inFlight === 0) this.#drained?.();
  }

  /** Runs the shutdown once; later calls return the same promise. */
  shutdown(): Promise<ShutdownReport> {
    this.#promise ??= this.#run();
    return this.#promise;
  }

  /** Cuts every connection at once (a second signal). */
  force(): void {
    this.#closing = true;
    this.#cutting = true;
    for (const server of this.#servers) {
      server.close();
      server.closeAllConnections();
    }
    this.#drained?.();
  }

  async #run(): Promise<ShutdownReport> {
    const started = this.#clock.now();
    this.#keel.beginShutdown();
    if (this.#options.preStopDelay > 0) await this.#sleep(this.#options.preStopDelay);

    this.#closing = true;
    // Answers not yet started tell the client not to reuse the socket, so
    // no keep-alive client sends a next request into a closing socket.
    for (const res of this.#slots) if (res !== undefined) closeAfter(res);
    const closed = this.#servers.map(
      (server) => new Promise<void>((resolve) => server.close(() => resolve())),
    );
    for (const server of this.#servers) server.closeIdleConnections();
    const inFlightAtClose = this.inFlight;
    const drained = inFlightAtClose === 0 || (await this.#waitForDrain());
    let forced = 0;
    if (!drained) {
      forced = this.inFlight;
      this.#cutting = true;
      for (const server of this.#servers) server.closeAllConnections();
      // The cut responses emit 'close' a turn or two later, when their sockets
      // have closed; wait for them, so adapters record them (as cut off) before
      // the cleanups and `keel.close()`, not into a closed instance.
      await this.#settleCut();
    }
    await Promise.all(closed);

    const cleanups: CleanupResult[] = [];
    for (const cleanup of this.#keel.shutdownCleanups().reverse())
      cleanups.push(await this.#runCleanup(cleanup));
    await this.#keel.close();
    return Object.freeze({
      drained,
      inFlightAtClose,
      forced,
      cleanups: Object.freeze(cleanups),
      durationMs: this.#clock.now() - started,
    });
  }

  /** Until every cut response has closed, or a few event-loop turns (one never tracked right cannot hold shutdown). */
  async #settleCut(): Promise<void> {
    for (let turn = 0; turn < 10 && this.#inFlight > 0; turn++) {
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  #waitForDrain(): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer = this.#clock.setTimeout(() => {
        this.#drained = undefined;
        resolve(false);
      }, this.#options.drainTimeout);
      this.#drained = () => {
        this.#drained = undefined;
        this.#clock.clearTimeout(timer);
        resolve(true);
      };
    });
  }

  async #runCleanup(cleanup: { name: string; fn: () => unknown }): Promise<CleanupResult> {
    let timer: ReturnType<Clock['setTimeout']> | undefined;
    try {
      await Promise.race([
        Promise.resolve().then(cleanup.fn),
        new Promise((_, reject) => {
          timer = this.#clock.setTimeout(
            () => reject(new Error(`timed out after ${this.#options.cleanupTimeout} ms`)),
            this.#options.cleanupTimeout,
          );
        }),
      ]);
      return { name: cleanup.name, ok: true, error: null };
    } catch (error) {
      this.#keel.reportError(`shutdown-cleanup:${cleanup.name}`, error);
      return { name: cleanup.name, ok: false, error: error instanceof Error ? error.message : String(error) };
    } finally {
      if (timer !== undefined) this.#clock.clearTimeout(timer);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#clock.setTimeout(resolve, ms));
  }
}

export interface SignalHandlingOptions {
  /** @default ['SIGTERM', 'SIGINT'] */
  signals?: NodeJS.Signals[];
  /** Ends the process after shutdown (code 0) or on a second signal (code 1). @default process.exit */
  exit?: (code: number) => void;
  /**
   * A signal this soon after the first (ms) is a copy of it, not a second request: in a
   * terminal, Ctrl-C reaches every process of the foreground group, and wrappers (pnpm and
   * npm scripts, tsx) relay it once more to a child that already has it. @default 1000
   */
  repeatWindow?: number;
}

/**
 * SIGTERM (and SIGINT) start a graceful shutdown, then exit; a second signal,
 * `repeatWindow` or more after the first, cuts every connection and exits at
 * once. Returns a function that removes the handlers.
 */
export function handleSignals(shutdown: GracefulShutdown, options: SignalHandlingOptions = {}): () => void {
  known('handleSignals', options, SIGNAL_HANDLING_KEYS);
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const repeatWindow = nonNegative('handleSignals.repeatWindow', options.repeatWindow, 1000);
  let firstAt = 0;
  const handler = () => {
    if (shutdown.shuttingDown) {
      // Wall time on purpose: signals come from outside the process, and Keel's clock may be a fake one.
      if (performance.now() - firstAt < repeatWindow) return;
      shutdown.force();
      exit(1);
      return;
    }
    firstAt = performance.now();
    shutdown.shutdown().then(
      () => exit(0),
      () => exit(1),
    );
  };
  for (const signal of signals) process.on(signal, handler);
  return () => {
    for (const signal of signals) process.off(signal, handler);
  };
}

/**
 * Tells the client not to reuse the connection for a next request. HTTP/1
 * only: HTTP/2 has no such header (Node warns on it) and closes its streams,
 * not the session, per answer.
 */
function closeAfter(res: ServerResponse): void {
  if (!res.headersSent && (res as { stream?: unknown }).stream === undefined)
    res.setHeader('connection', 'close');
}

const SHUTDOWN_KEYS: ReadonlySet<string> = new Set(['preStopDelay', 'drainTimeout', 'cleanupTimeout']);
const ATTACH_KEYS: ReadonlySet<string> = new Set(['trackRequests']);
const SIGNAL_HANDLING_KEYS: ReadonlySet<string> = new Set(['signals', 'exit', 'repeatWindow']);

/** Refuses an options object with a key `keys` does not list. */
function known(who: string, options: object, keys: ReadonlySet<string>): void {
  if (typeof options !== 'object' || options === null) {
    throw invalidOptionOf(who, 'options', 'must be an object', options);
  }
  checkKnownKeys(options, keys, (key, rule, got) => invalidOptionOf(who, key, rule, got));
}

/** Validates graceful-shutdown timings and applies their defaults (`keel k8s` derives probe and grace periods from them). */
export function resolveShutdownOptions(
  options: GracefulShutdownOptions = {},
): Required<GracefulShutdownOptions> {
  // An adapter's own shutdown options (`signals`) are its to take out: a key left here is a typo.
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw invalidOptionOf('GracefulShutdown', 'shutdown', 'must be an object', options);
  checkKnownKeys(options, SHUTDOWN_KEYS, (key, rule, got) =>
    invalidOptionOf('GracefulShutdown', `shutdown.${key}`, rule, got),
  );
  return {
    preStopDelay: nonNegative('shutdown.preStopDelay', options.preStopDelay, 5000),
    drainTimeout: nonNegative('shutdown.drainTimeout', options.drainTimeout, 10_000),
    cleanupTimeout: nonNegative('shutdown.cleanupTimeout', options.cleanupTimeout, 5000),
  };
}

function nonNegative(path: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (!(Number.isInteger(value) && (value as number) >= 0)) {
    throw new KeelError(
      KeelErrorCode.InvalidOption,
      `${path} must be an integer >= 0 (ms) (got ${String(value)}).`,
    );
  }
  return value as number;
}
