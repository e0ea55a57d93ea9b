import type pg from 'pg';
import { type ClientConfigurationInput, createPool, type DatabasePool } from 'slonik';
import { defaultDatabaseRetryMs } from '../database-retry.ts';
import { isLakechatError, LakechatError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Clock } from './clock.ts';
import type { ConnectionMode, PasswordKind } from './connection-mode.ts';
import { databaseErrorCode, describeDatabaseError, isAuthenticationFailure } from './database-errors.ts';
import { createListenerConfig, pgClientConfig } from './listener-config.ts';
import type { PgTarget, ResolvedConnection, StaticPassword } from './resolve-connection.ts';
import { withRetries } from './retrying-pool.ts';
import { createSlowQueryInterceptor } from './slow-query-interceptor.ts';
import type { SslMode } from './ssl.ts';
import { tlsOptions } from './ssl.ts';
import { createTokenInterceptor } from './token-interceptor.ts';
import { createTokenLogin, type TokenLogin } from './token-login.ts';
import { TokenProvider, type TokenStatus } from './token-provider.ts';

export interface LakebasePoolOptions {
  logger: Logger;
  /** DATABASE_POOL_SIZE. */
  poolSize?: number;
  /** SLOW_QUERY_MS. */
  slowQueryMs?: number;
  clock?: Clock;
  /** Slonik's connection timeout (ms); start-up gives up on an unreachable host after it. */
  connectionTimeoutMs?: number;
  /**
   * Slonik settings of the pool's user (the event store's timeouts, reset routine...). The password,
   * driver, TLS and retry settings stay this module's; interceptors are added to its own.
   */
  poolConfiguration?: ClientConfigurationInput;
  /** DATABASE_RETRY_MS (default: the resolved connection's, else 15 s). */
  retryForMs?: number;
}

/** What /health shows about the connection: where, as whom, and the token's times. Never a secret. */
export interface ConnectionStatus {
  mode: ConnectionMode;
  host: string;
  port: number;
  user: string;
  database: string;
  sslmode: SslMode;
  password: PasswordKind;
  /** When the current token expires; null for a fixed password. */
  tokenExpiresAt: string | null;
  token: TokenStatus | null;
}

export interface LakebasePool {
  /** Slonik pool with the token login, the interceptors and retries on failed connections (DATABASE_RETRY_MS). */
  pool: DatabasePool;
  /** For the event store's LISTEN connection: same target, same token (checked again on reconnect). */
  listenerConfig(): Promise<pg.ClientConfig>;
  /** A plain pg client configuration with the current password or token (migrations, scripts). */
  clientConfig(): Promise<pg.ClientConfig>;
  status(): ConnectionStatus;
  /** The token provider, when the password is a token. */
  tokens: TokenProvider | undefined;
  close(): Promise<void>;
}

/** A postgres:// URI without the password (it comes from the password function or option). */
function connectionUri(target: PgTarget): string {
  const url = new URL('postgres://placeholder');
  url.hostname = target.host.includes(':') ? `[${target.host}]` : target.host;
  url.port = String(target.port);
  url.username = encodeURIComponent(target.user);
  url.pathname = `/${encodeURIComponent(target.database)}`;
  url.searchParams.set('application_name', target.applicationName);
  if (tlsOptions(target.sslmode) === false) url.searchParams.set('sslmode', 'disable');
  return url.toString();
}

/** The start-up failure as a catalogued error whose message says why, with no secret in it. */
function connectFailure(error: unknown, target: PgTarget): LakechatError {
  const where = `${target.user}@${target.host}:${target.port}/${target.database}`;
  const why = describeDatabaseError(error);
  const code = databaseErrorCode(error);
  return isAuthenticationFailure(error)
    ? new LakechatError('LAKECHAT_ERR_LAKEBASE_LOGIN_FAILED', `The database refused the login of ${where}: ${why}`, {
        cause: error,
        details: { sqlstate: code ?? null },
      })
    : new LakechatError('LAKECHAT_ERR_LAKEBASE_CONNECT_FAILED', `Could not connect to ${where}: ${why}`, {
        cause: error,
        details: { code: code ?? null },
      });
}

/**
 * Opens the Slonik pool for a resolved connection. With a token, every new connection logs in with
 * the current token (the pool's password function), a refused login is retried once with a new one,
 * and a timer keeps the token fresh. Creating the pool logs in once, so an unreachable database or a
 * refused login fails here, at start-up, with LAKEBASE_CONNECT_FAILED or LAKEBASE_LOGIN_FAILED.
 */
/** How this pool's connections log in: a fixed password, or tokens with their login wrapper. */
type Login = { kind: 'password'; password: StaticPassword } | { kind: 'token'; tokens: TokenProvider; driver: TokenLogin };

export async function createLakebasePool(resolved: ResolvedConnection, options: LakebasePoolOptions): Promise<LakebasePool> {
  const { logger } = options;
  const credential = resolved.credential;
  let login: Login;
  if (credential.kind === 'token') {
    const clock = options.clock === undefined ? {} : { clock: options.clock };
    const tokens = new TokenProvider({ source: credential.source, logger, ...clock });
    login = { kind: 'token', tokens, driver: createTokenLogin(tokens) };
  } else {
    login = { kind: 'password', password: credential };
  }
  const tokens = login.kind === 'token' ? login.tokens : undefined;
  const currentPassword = async (): Promise<string> => (login.kind === 'token' ? login.tokens.getToken() : login.password.secret());
  const ssl = tlsOptions(resolved.sslmode);
  const target: PgTarget = {
    host: resolved.host,
    port: resolved.port,
    user: resolved.user,
    database: resolved.database,
    sslmode: resolved.sslmode,
    applicationName: resolved.applicationName,
  };

  let slonik: DatabasePool;
  try {
    const custom = options.poolConfiguration ?? {};
    slonik = await createPool(connectionUri(target), {
      maxPoolSize: options.poolSize ?? 10,
      ...custom,
      ...(login.kind === 'token' ? { password: login.driver.password, driverFactory: login.driver.driverFactory } : { password: login.password.secret() }),
      ...(ssl === false ? {} : { ssl }),
      interceptors: [createTokenInterceptor(logger), createSlowQueryInterceptor(logger, options.slowQueryMs ?? 500), ...(custom.interceptors ?? [])],
      // One attempt per acquire: the token login already retries a refused login, and the pool
      // wrapper retries failed connections for up to DATABASE_RETRY_MS.
      connectionRetryLimit: 1,
      connectionTimeout: options.connectionTimeoutMs ?? 10_000,
      captureStackTrace: false,
    });
  } catch (error) {
    tokens?.close();
    // A token that could not be obtained already says why (workspace auth, credential API).
    throw isLakechatError(error) ? error : connectFailure(error, target);
  }

  return {
    pool: withRetries(slonik, logger, options.retryForMs ?? resolved.retryForMs ?? defaultDatabaseRetryMs),
    listenerConfig: createListenerConfig(target, login.kind === 'token' ? { tokens: login.tokens } : login.password),
    clientConfig: async () => pgClientConfig(target, await currentPassword(), 'client'),
    tokens,
    status(): ConnectionStatus {
      const token = tokens?.status() ?? null;
      return {
        mode: resolved.mode,
        host: target.host,
        port: target.port,
        user: target.user,
        database: target.database,
        sslmode: target.sslmode,
        password: resolved.password,
        tokenExpiresAt: token?.expiresAt ?? null,
        token,
      };
    },
    async close() {
      tokens?.close();
      await slonik.end();
    },
  };
}
