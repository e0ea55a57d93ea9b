/**
 * The `exp` claim of a JWT, in epoch ms, or undefined when the token is not a JWT (a PAT, say).
 * Workspace OAuth tokens come without an expiry from the SDK, but they are JWTs that carry one;
 * the signature is not checked because the value only decides when to refresh.
 */
export function jwtExpiry(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] === undefined) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    if (typeof claims !== 'object' || claims === null) return undefined;
    const exp = (claims as { exp?: unknown }).exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
