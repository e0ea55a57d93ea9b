import pg from 'pg';
import { isAuthenticationFailure } from './database-errors.ts';
import type { PgTarget } from './resolve-connection.ts';
import { tlsOptions } from './ssl.ts';
import type { TokenProvider } from './token-provider.ts';

export type ListenerConfig = () => Promise<pg.ClientConfig>;

/** A plain pg client configuration for the target, with this password; `purpose` names it in pg_stat_activity. */
export function pgClientConfig(target: PgTarget, password: string, purpose = 'listener'): pg.ClientConfig {
  const ssl = tlsOptions(target.sslmode);
  return {
    host: target.host,
    port: target.port,
    user: target.user,
    database: target.database,
    password,
    application_name: `${target.applicationName}-${purpose}`,
    keepAlive: true,
    connectionTimeoutMillis: 10_000,
    ...(ssl === false ? {} : { ssl }),
  };
}

/** True when the server refuses this password: a short login that is closed at once. */
async function refuses(target: PgTarget, password: string): Promise<boolean> {
  const probe = new pg.Client(pgClientConfig(target, password, 'probe'));
  try {
    await probe.connect();
    return false;
  } catch (error) {
    return isAuthenticationFailure(error);
  } finally {
    await probe.end().catch(() => {});
  }
}

/**
 * The configuration of the event store's LISTEN connection: the same target and token as the pool
 * (a direct connection, as LISTEN needs). It is asked again on each reconnect; if it is asked again
 * while the token it gave last time is still the cached one, that token is checked with a short login
 * first, so a LISTEN connection refused for its token gets a new one instead of retrying forever.
 */
export function createListenerConfig(target: PgTarget, password: { tokens: TokenProvider } | { secret(): string }): ListenerConfig {
  if (!('tokens' in password)) return async () => pgClientConfig(target, password.secret());
  const { tokens } = password;
  let lastGiven: string | undefined;
  return async () => {
    let token = await tokens.getToken();
    if (token === lastGiven && (await refuses(target, token))) {
      tokens.invalidate(token);
      token = await tokens.getToken();
    }
    lastGiven = token;
    return pgClientConfig(target, token);
  };
}
