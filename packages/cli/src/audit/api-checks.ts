import { Agent } from 'node:http';
import { gzipSync } from 'node:zlib';
import { type AuditedRoute, type AuditFinding, formatBytes, formatMs } from './finding.js';
import { probe, tokens } from './http-probe.js';

/** Text answers over this size should be compressed when the client asks (the issue's 1 KiB). */
export const COMPRESS_OVER_BYTES = 1024;
/** An answer heavier than this on the wire (compressed when asked) is a page of data that should be paginated. */
export const MAX_RESPONSE_BYTES = 100 * 1024;
/** A static file should be reusable for at least this long (Lighthouse ignores TTLs past ~30 days too). */
export const MIN_STATIC_TTL_SECONDS = 30 * 24 * 3600;
/** An Origin no app allows on purpose, to see whether CORS echoes it. */
const PROBE_ORIGIN = 'https://keel-audit.invalid';
const ENCODINGS = new Set(['br', 'gzip', 'deflate', 'zstd']);

const isText = (type: string) =>
  /^(text\/|application\/(json|javascript|xml|[\w.+-]+\+(json|xml))|image\/svg\+xml)/i.test(type);

function finding(
  check: string,
  target: string,
  fields: Omit<AuditFinding, 'check' | 'category' | 'target'>,
): AuditFinding {
  return { check, category: 'api', target, ...fields };
}

/** Checks one route (a GET path answering 2xx): compression, validators, Cache-Control, keep-alive, size, Vary. */
export async function checkRoute(
  base: string,
  route: string,
  path: string,
): Promise<{ route: AuditedRoute; findings: AuditFinding[] }> {
  const url = new URL(path, base).href;
  const plain = await probe(url, { 'accept-encoding': 'identity' });
  const type = plain.headers['content-type'] ?? '';
  const audited = {
    route,
    path,
    status: plain.status,
    contentType: type || null,
    bytes: plain.body.length,
    skipped: null,
  };
  if (plain.status < 200 || plain.status >= 300)
    return { route: { ...audited, skipped: `answered ${plain.status}` }, findings: [] };

  const encoded = await probe(url, { 'accept-encoding': 'br, gzip' });
  const wire = encoded.body.length;
  const encoding = tokens(encoded.headers['content-encoding']).find((e) => ENCODINGS.has(e));
  const findings: AuditFinding[] = [];

  // ---- compression ----
  const size = plain.body.length;
  const applies = isText(type) && size > COMPRESS_OVER_BYTES;
  const saved = applies && !encoding ? size - gzipSync(plain.body).length : 0;
  findings.push(
    finding('api.compression', path, {
      status: !applies || encoding ? 'pass' : 'fail',
      value: wire,
      threshold: COMPRESS_OVER_BYTES,
      unit: 'bytes',
      measured: !isText(type)
        ? `not text (${type || 'no Content-Type'})`
        : size <= COMPRESS_OVER_BYTES
          ? `${formatBytes(size)}, too small to matter`
          : encoding
            ? `${encoding}: ${formatBytes(size)} sent as ${formatBytes(wire)}`
            : `${formatBytes(size)} sent uncompressed to a client asking for br, gzip`,
      expected: `br or gzip when asked, for text over ${formatBytes(COMPRESS_OVER_BYTES)}`,
      gain: saved > 0 ? { bytes: saved, ms: null } : null,
      fix:
        saved > 0
          ? 'Compress text answers: the compression middleware before the routes, or at the proxy.'
          : null,
    }),
  );

  // ---- response size ----
  const heavy = wire > MAX_RESPONSE_BYTES;
  findings.push(
    finding('api.response-size', path, {
      status: heavy ? 'fail' : 'pass',
      value: wire,
      threshold: MAX_RESPONSE_BYTES,
      unit: 'bytes',
      measured: `${formatBytes(wire)} on the wire${encoding ? ` (${formatBytes(size)} before ${encoding})` : ''}${encoded.truncated ? ', cut at the probe limit' : ''}`,
      expected: `≤ ${formatBytes(MAX_RESPONSE_BYTES)} per answer`,
      gain: heavy ? { bytes: wire - MAX_RESPONSE_BYTES, ms: null } : null,
      fix: heavy
        ? 'Paginate the answer (limit and offset or a cursor) and leave out fields the client does not use.'
        : null,
    }),
  );

  // ---- validators and a conditional GET ----
  const etag = encoded.headers.etag;
  const lastModified = encoded.headers['last-modified'];
  let revalidated: number | null = null;
  if (etag || lastModified) {
    const conditional = await probe(url, {
      'accept-encoding': 'br, gzip',
      ...(etag ? { 'if-none-match': etag } : { 'if-modified-since': lastModified! }),
    });
    revalidated = conditional.status;
  }
  findings.push(
    finding('api.conditional-get', path, {
      status: revalidated === 304 ? 'pass' : 'fail',
      value: revalidated,
      threshold: 304,
      unit: null,
      measured:
        revalidated === null
          ? 'no ETag or Last-Modified'
          : `${etag ? 'ETag' : 'Last-Modified'}; a conditional GET answered ${revalidated}`,
      expected: 'an ETag or Last-Modified, and 304 Not Modified to a matching conditional GET',
      gain: revalidated === 304 ? null : { bytes: wire, ms: null },
      fix:
        revalidated === 304
          ? null
          : revalidated === null
            ? 'Send an ETag (Express adds one on res.send and res.json) so clients can revalidate for a 304.'
            : 'Answer If-None-Match / If-Modified-Since with 304 when the validator matches.',
    }),
  );

  // ---- Cache-Control ----
  const cacheControl = encoded.headers['cache-control'];
  findings.push(
    finding('api.cache-control', path, {
      status: cacheControl ? 'pass' : 'fail',
      value: null,
      threshold: null,
      unit: null,
      measured: cacheControl ? `Cache-Control: ${cacheControl}` : 'no Cache-Control',
      expected: 'Cache-Control on every cacheable GET',
      gain: cacheControl ? null : { bytes: wire, ms: null },
      fix: cacheControl
        ? null
        : 'Say how it may be cached: Cache-Control: no-cache (revalidate with the ETag), max-age=N, or private.',
    }),
  );

  // ---- keep-alive ----
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let first: Awaited<ReturnType<typeof probe>>;
  let second: Awaited<ReturnType<typeof probe>>;
  try {
    first = await probe(url, { 'accept-encoding': 'br, gzip' }, { agent });
    second = await probe(url, { 'accept-encoding': 'br, gzip' }, { agent });
  } finally {
    agent.destroy();
  }
  const closes = tokens(first.headers.connection).includes('close');
  const kept = second.reusedSocket && !closes;
  findings.push(
    finding('api.keep-alive', path, {
      status: kept ? 'pass' : 'fail',
      value: first.connectMs === null ? null : Math.round(first.connectMs * 100) / 100,
      threshold: null,
      unit: 'ms',
      measured: kept
        ? 'the connection was reused'
        : `${closes ? 'Connection: close' : 'the connection was not reused'}; a new connection took ${formatMs(first.connectMs ?? 0)} here (a round trip, more with TLS, on a real network)`,
      expected: 'the connection kept open for the next request',
      gain: kept
        ? null
        : { bytes: null, ms: first.connectMs === null ? null : Math.round(first.connectMs * 100) / 100 },
      fix: kept
        ? null
        : 'Keep connections open: do not send Connection: close, and keep the server keep-alive timeout above the proxy idle timeout.',
    }),
  );

  // ---- Vary ----
  const withOrigin = await probe(url, { 'accept-encoding': 'identity', origin: PROBE_ORIGIN });
  const vary = tokens(encoded.headers.vary);
  const problems: string[] = [];
  if (vary.includes('*')) problems.push('Vary: * (no cache can reuse it)');
  if (encoding && !vary.includes('accept-encoding') && !vary.includes('*'))
    problems.push(`${encoding} chosen by Accept-Encoding without Vary: Accept-Encoding`);
  const allowed = withOrigin.headers['access-control-allow-origin'];
  const originVary = tokens(withOrigin.headers.vary);
  if (allowed && allowed !== '*' && !originVary.includes('origin') && !originVary.includes('*'))
    problems.push(`Access-Control-Allow-Origin echoes the Origin (${allowed}) without Vary: Origin`);
  findings.push(
    finding('api.vary', path, {
      status: problems.length ? 'fail' : 'pass',
      value: problems.length,
      threshold: 0,
      unit: 'count',
      measured: problems.length
        ? problems.join('; ')
        : vary.length
          ? `Vary: ${vary.join(', ')}`
          : 'no variants',
      expected: 'Vary names every request header the answer depends on',
      gain: null,
      fix: problems.length
        ? 'Add each request header the answer depends on to Vary (Accept-Encoding, Origin), or stop varying on it (Access-Control-Allow-Origin: * for public data).'
        : null,
    }),
  );

  return { route: audited, findings };
}

/**
 * A content hash in the file name: 8+ hex digits (webpack, Vite), esbuild's 8
 * upper-case base32 characters, or 8+ letters and digits mixed.
 */
export function isHashedName(pathname: string): boolean {
  const name = pathname.split('/').pop() ?? '';
  return name
    .split(/[.\-_]/)
    .slice(0, -1)
    .some(
      (part) =>
        /^[0-9a-f]{8,}$/i.test(part) ||
        /^[A-Z2-7]{8}$/.test(part) ||
        (/^[A-Za-z0-9]{8,}$/.test(part) && /\d/.test(part) && /[A-Za-z]/.test(part)),
    );
}

/** A static file is CDN-ready when its name changes with its content and it may be cached for good. */
export async function checkAsset(url: string, target: string): Promise<AuditFinding> {
  const answer = await probe(url, { 'accept-encoding': 'br, gzip' });
  const control = tokens(answer.headers['cache-control']);
  const maxAge = Math.max(
    ...control
      .map((d) => /^(?:s-)?max-age=(\d+)$/.exec(d)?.[1])
      .filter((v) => v !== undefined)
      .map(Number),
    -1,
  );
  const hashed = isHashedName(new URL(url).pathname);
  const immutable = control.includes('immutable');
  const reusable = !control.some((d) => d === 'no-store' || d === 'no-cache' || d === 'private');
  const ready = hashed && immutable && reusable && maxAge >= MIN_STATIC_TTL_SECONDS;
  const missing = [
    hashed ? null : 'no content hash in the name',
    answer.headers['cache-control'] ? null : 'no Cache-Control',
    answer.headers['cache-control'] && maxAge < MIN_STATIC_TTL_SECONDS
      ? `max-age ${Math.max(maxAge, 0)} s`
      : null,
    answer.headers['cache-control'] && !immutable ? 'not immutable' : null,
    reusable ? null : 'not cacheable by a CDN',
  ].filter(Boolean);
  return finding('api.cdn-ready', target, {
    status: answer.status >= 200 && answer.status < 300 && ready ? 'pass' : 'fail',
    value: maxAge < 0 ? null : maxAge,
    threshold: MIN_STATIC_TTL_SECONDS,
    unit: 'seconds',
    measured:
      answer.status < 200 || answer.status >= 300
        ? `answered ${answer.status}`
        : ready
          ? `hashed name; Cache-Control: ${answer.headers['cache-control']}`
          : missing.join('; '),
    expected: 'a content-hashed name with Cache-Control: public, max-age ≥ 30 days, immutable',
    gain: ready ? null : { bytes: answer.body.length, ms: null },
    fix: ready
      ? null
      : 'Build files with a content hash in the name and serve them with Cache-Control: public, max-age=31536000, immutable.',
  });
}
