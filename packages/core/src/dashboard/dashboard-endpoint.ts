import type { IncomingMessage, ServerResponse } from 'node:http';
import { brotliCompress, constants, gzip } from 'node:zlib';
import type { HealthReport, KeelEvents } from '../health/report.js';
import { type HealthJson, healthJson } from '../health/report.js';
import { send } from '../http/respond.js';
import { DASHBOARD_PAGE, DASHBOARD_PAGE_CSP } from './dashboard-page.js';
import { HealthHistory, type HealthHistoryJson } from './health-history.js';

/** What the dashboard reads from an instance. */
export interface DashboardSource {
  readonly config: { readonly interval: number; readonly budgets: readonly { readonly name: string }[] };
  health(): HealthReport;
  on?<K extends keyof KeelEvents>(event: K, listener: (payload: KeelEvents[K]) => void): () => void;
  reportError(where: string, error: unknown): void;
}

/** The dashboard's data: `/health` as it is now, the last hour of evaluations, and how often to ask again. */
export interface DashboardData {
  /** The window interval, ms: the page asks again about this often. */
  readonly interval: number;
  readonly history: HealthHistoryJson;
  /** `/health`'s JSON, with the sections packages add (`capacity`, `monitor`, `incidents`, ...). */
  readonly health: HealthJson & Readonly<Record<string, unknown>>;
}

type Encoding = 'br' | 'gzip' | 'identity';

/**
 * `GET /keel`: a page (HTML with its script, styles and uPlot inlined, no
 * request elsewhere), and, for `Accept: application/json`, the data it
 * polls. The page itself holds no data, so it is served to anyone who can
 * reach the path; the data needs what every non-public endpoint needs (the
 * token), and the page asks for the token when the data answers 401.
 */
export class Dashboard {
  readonly history: HealthHistory;
  readonly #source: DashboardSource;
  readonly #compressed = new Map<Encoding, Promise<Buffer>>();

  constructor(source: DashboardSource) {
    this.#source = source;
    this.history = new HealthHistory(
      source.config.budgets.map((b) => b.name),
      source.config.interval,
    );
    // Once per evaluation (per interval), never per request.
    source.on?.('evaluation', (report) => this.history.push(report));
  }

  /** Whether the request asks for the data rather than the page. */
  wantsData(req: IncomingMessage): boolean {
    const accept = req.headers.accept;
    return typeof accept === 'string' && accept.includes('application/json');
  }

  data(): DashboardData {
    return {
      interval: this.#source.config.interval,
      history: this.history.json(),
      health: healthJson(this.#source.health()),
    };
  }

  serveData(req: IncomingMessage, res: ServerResponse): void {
    send(
      res,
      200,
      'application/json; charset=utf-8',
      `${JSON.stringify(this.data())}\n`,
      { vary: 'accept' },
      req,
    );
  }

  /** The page, compressed once (off the event loop) and kept, in the best encoding the client takes. */
  servePage(req: IncomingMessage, res: ServerResponse): void {
    const encoding = encodingFor(req.headers['accept-encoding']);
    this.#bytes(encoding).then(
      (body) => {
        const headers: Record<string, string> = {
          vary: 'accept, accept-encoding',
          'content-security-policy': DASHBOARD_PAGE_CSP,
          'x-content-type-options': 'nosniff',
          'referrer-policy': 'no-referrer',
        };
        if (encoding !== 'identity') headers['content-encoding'] = encoding;
        send(res, 200, 'text/html; charset=utf-8', body, headers, req);
      },
      (error) => {
        this.#source.reportError('endpoint:dashboard', error);
        send(res, 500, 'text/plain; charset=utf-8', 'dashboard unavailable\n');
      },
    );
  }

  #bytes(encoding: Encoding): Promise<Buffer> {
    let bytes = this.#compressed.get(encoding);
    if (!bytes) {
      const plain = Buffer.from(DASHBOARD_PAGE);
      bytes =
        encoding === 'identity'
          ? Promise.resolve(plain)
          : new Promise<Buffer>((resolve, reject) => {
              const done = (error: Error | null, out: Buffer) => (error ? reject(error) : resolve(out));
              if (encoding === 'br')
                brotliCompress(plain, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }, done);
              else gzip(plain, { level: 9 }, done);
            });
      // A failure is not kept: the next request tries again.
      bytes.catch(() => this.#compressed.delete(encoding));
      this.#compressed.set(encoding, bytes);
    }
    return bytes;
  }
}

function encodingFor(header: string | string[] | undefined): Encoding {
  const value = Array.isArray(header) ? header.join(',') : (header ?? '');
  const offered = new Set(
    value
      .split(',')
      .map((part) => part.trim().split(';'))
      .filter(([, q]) => q === undefined || !/^\s*q\s*=\s*0(\.0*)?\s*$/.test(q))
      .map(([name]) => name!.trim().toLowerCase()),
  );
  if (offered.has('br')) return 'br';
  if (offered.has('gzip')) return 'gzip';
  return 'identity';
}
