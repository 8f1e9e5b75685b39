import type { IncomingMessage, ServerResponse } from 'node:http';

/** Answers with a complete, uncacheable body (Keel's endpoints and the vitals collector). */
export function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string | Buffer,
  headers?: Record<string, string>,
  req?: IncomingMessage,
): void {
  if (res.headersSent) return;
  res.statusCode = status;
  res.setHeader('content-type', type);
  res.setHeader('cache-control', 'no-store');
  res.setHeader('content-length', typeof body === 'string' ? Buffer.byteLength(body) : body.length);
  if (headers) for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.end(req?.method === 'HEAD' ? undefined : body);
}
