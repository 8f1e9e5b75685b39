import { createHmac, timingSafeEqual } from 'node:crypto';

// A page token proves that the app rendered a page recently: the time it was
// made, in seconds (base 36), and an HMAC-SHA256 over that time and the page
// group it is for, cut to 128 bits (base64url):
//
//   "t0x3kw.4Qf0m1n2H5x9rK3b1cVw8A"
//    issued    MAC(secret, "keel-vitals|<issued>|<page group or *>")
//
// Anyone can read a token from a page they loaded, so it proves only that:
// a page was served, for this page group, within `tokenTtl`. It is not an
// identity; the per-client quota is what bounds one sender's weight.

const MAC_BYTES = 16;
/** A token from up to a minute in the future still counts: clocks of instances differ a little. */
const SKEW_S = 60;
const ANY_PAGE = '*';

function mac(secret: string, issued: string, page: string): Buffer {
  return createHmac('sha256', secret).update(`keel-vitals|${issued}|${page}`).digest().subarray(0, MAC_BYTES);
}

/** A token for `page` (a page group such as `/products/:id`), or for any page group when left out. */
export function makePageToken(secret: string, nowMs: number, page?: string): string {
  const issued = Math.floor(nowMs / 1000).toString(36);
  return `${issued}.${mac(secret, issued, page ?? ANY_PAGE).toString('base64url')}`;
}

/**
 * Whether `token` was made with `secret` for `page` (or for any page),
 * at most `ttlMs` before `nowMs`.
 */
export function checkPageToken(
  secret: string,
  token: unknown,
  page: string,
  nowMs: number,
  ttlMs: number,
): boolean {
  if (typeof token !== 'string' || token.length > 64) return false;
  const dot = token.indexOf('.');
  if (dot < 1) return false;
  const issued = token.slice(0, dot);
  if (!/^[0-9a-z]{1,10}$/.test(issued)) return false;
  const age = nowMs / 1000 - Number.parseInt(issued, 36);
  if (!(age >= -SKEW_S && age <= ttlMs / 1000)) return false;
  const given = Buffer.from(token.slice(dot + 1), 'base64url');
  if (given.length !== MAC_BYTES) return false;
  return (
    timingSafeEqual(given, mac(secret, issued, page)) || timingSafeEqual(given, mac(secret, issued, ANY_PAGE))
  );
}
