import type { IncomingHttpHeaders } from 'node:http';
import { LakechatError } from '../errors.ts';

/** Who is calling, as the Databricks Apps proxy (or, in development, the demo header) says. */
export interface Identity {
  /** The user's email, lower-cased: the owner of their chats and profile. */
  email: string;
  source: 'x-forwarded-email' | 'x-forwarded-user' | 'x-demo-user';
  /** Listed in ANALYST_EMAILS: may read everyone's events (replay, the WebSocket "all" scope). */
  analyst: boolean;
}

export interface IdentityOptions {
  /** Trust `X-Demo-User` (development only; false in production unless ALLOW_DEMO_USER says so). */
  allowDemoUser: boolean;
  analystEmails: readonly string[];
}

// Printable, no spaces, at most an email's length: anything else is not what the proxy sends.
const identityPattern = /^[^\s\x00-\x1f\x7f]{1,254}$/u;

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  if (first === undefined) return undefined;
  const trimmed = first.trim();
  return trimmed === '' ? undefined : trimmed;
}

/**
 * Resolves the caller from request headers: `X-Forwarded-Email`, else `X-Forwarded-User` (both set by
 * the Databricks Apps proxy, which strips any the client sent), else `X-Demo-User` when allowed.
 * No identity is a 401; so is a malformed one.
 */
export function resolveIdentity(headers: IncomingHttpHeaders, options: IdentityOptions): Identity {
  const candidates: [Identity['source'], string | undefined][] = [
    ['x-forwarded-email', header(headers, 'x-forwarded-email')],
    ['x-forwarded-user', header(headers, 'x-forwarded-user')],
    ['x-demo-user', options.allowDemoUser ? header(headers, 'x-demo-user') : undefined],
  ];
  const found = candidates.find(([, value]) => value !== undefined);
  if (found === undefined) throw new LakechatError('LAKECHAT_ERR_AUTH_MISSING_IDENTITY');
  const [source, value] = found as [Identity['source'], string];
  if (!identityPattern.test(value)) throw new LakechatError('LAKECHAT_ERR_AUTH_INVALID_IDENTITY', undefined, { details: { header: source } });
  const email = value.toLowerCase();
  return { email, source, analyst: options.analystEmails.includes(email) };
}
