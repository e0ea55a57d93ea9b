import type { IncomingHttpHeaders } from 'node:http';

function first(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  const head = text?.split(',')[0]?.trim();
  return head === undefined || head === '' ? undefined : head;
}

/**
 * A browser sends its page's Origin on a WebSocket upgrade, along with the user's cookies: without
 * this check any site the user visits could open a socket as them (cross-site WebSocket hijacking).
 * Allowed: no Origin (not a browser), the app's own host, or an origin listed in WS_ALLOWED_ORIGINS
 * ("*" allows every origin).
 */
export function originAllowed(headers: IncomingHttpHeaders, allowedOrigins: readonly string[]): boolean {
  const origin = first(headers.origin)?.toLowerCase();
  if (origin === undefined) return true;
  if (allowedOrigins.includes('*') || allowedOrigins.includes(origin)) return true;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return false; // "null" (sandboxed frames, files) and anything else that is not a URL
  }
  const ownHost = first(headers['x-forwarded-host']) ?? first(headers.host);
  return ownHost !== undefined && host === ownHost.toLowerCase();
}
