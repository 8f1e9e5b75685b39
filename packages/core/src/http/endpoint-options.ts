import { object, read } from '../option-readers.js';

/** Keel's endpoints; `dashboard` is the page at `/keel` and the data it polls (see `Dashboard`). */
export type EndpointName = 'livez' | 'readyz' | 'health' | 'metrics' | 'dashboard';

/**
 * Who sees dependency error messages in `/readyz` and `/health`:
 * - `authorized`: a request with the endpoints token (`Authorization: Bearer <token>`),
 *   or any request to the admin port;
 * - `token`: only a request with the token;
 * - `always`: everyone; `never`: no one.
 */
export type EndpointDetails = 'authorized' | 'token' | 'always' | 'never';

export interface EndpointOptions {
  /** When set, endpoints not in `public` need `Authorization: Bearer <token>`. @default none */
  token?: string;
  /** Endpoints served without the token. @default ['livez', 'readyz'] */
  public?: EndpointName[];
  /** Path prefix the handlers answer under. @default '' (so `/livez`, `/readyz`, ...) */
  prefix?: string;
  /** Serve the endpoints on their own port (call `keel.listen()` or set this). @default none */
  adminPort?: number;
  /** @default '0.0.0.0' */
  adminHost?: string;
  /**
   * Who sees dependency error messages (`connect ECONNREFUSED 10.0.0.5:5432`)
   * in `/readyz` and `/health`; everyone else reads `dependency postgres: failing`.
   * @default 'authorized' (the token, or the admin port)
   */
  details?: EndpointDetails;
}

export type EndpointsConfig = Readonly<{
  token: string | undefined;
  public: readonly EndpointName[];
  prefix: string;
  adminPort: number | undefined;
  adminHost: string;
  details: EndpointDetails;
}>;

/** Every endpoint, in the order they are mounted. */
export const ENDPOINT_NAMES: readonly EndpointName[] = Object.freeze([
  'livez',
  'readyz',
  'health',
  'metrics',
  'dashboard',
]);
const KEYS: ReadonlySet<string> = new Set(['token', 'public', 'prefix', 'adminPort', 'adminHost', 'details']);
const DETAILS: readonly EndpointDetails[] = ['authorized', 'token', 'always', 'never'];

/** Validates `options.endpoints`. */
export function resolveEndpointOptions(value: unknown): EndpointsConfig {
  const o = object('endpoints', value, KEYS);
  return Object.freeze({
    token: read<string | undefined>(
      'endpoints.token',
      o.token,
      undefined,
      (v) => typeof v === 'string' && v.length >= 16,
      'must be a string of at least 16 characters',
    ),
    public: Object.freeze(
      read<EndpointName[]>(
        'endpoints.public',
        o.public,
        ['livez', 'readyz'],
        (v) => Array.isArray(v) && v.every((e) => ENDPOINT_NAMES.includes(e)),
        `must be an array of ${ENDPOINT_NAMES.join(', ')}`,
      ).slice(),
    ),
    prefix: read(
      'endpoints.prefix',
      o.prefix,
      '',
      (v) => typeof v === 'string' && (v === '' || (/^\/[^?#\s]*$/.test(v) && !v.endsWith('/'))),
      'must be empty or a path like "/ops" (leading slash, no trailing slash)',
    ),
    adminPort: read<number | undefined>(
      'endpoints.adminPort',
      o.adminPort,
      undefined,
      (v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535,
      'must be a port number from 0 to 65535',
    ),
    adminHost: read(
      'endpoints.adminHost',
      o.adminHost,
      '0.0.0.0',
      (v) => typeof v === 'string' && v.length > 0,
      'must be a host name or address',
    ),
    details: read<EndpointDetails>(
      'endpoints.details',
      o.details,
      'authorized',
      (v) => DETAILS.includes(v as EndpointDetails),
      `must be one of ${DETAILS.map((d) => `'${d}'`).join(', ')}`,
    ),
  });
}
