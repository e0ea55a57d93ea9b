import type { Config } from '../config.ts';
import { LakechatError } from '../errors.ts';
import { type ConnectionMode, detectMode, type PasswordKind } from './connection-mode.ts';
import { lookupCurrentUser } from './current-user.ts';
import { databaseCredentialSource } from './database-credential.ts';
import { endpointCredentialSource } from './endpoint-credential.ts';
import { lookupEndpoint } from './endpoint-lookup.ts';
import { lookupInstance } from './instance-lookup.ts';
import { isSslMode, type SslMode } from './ssl.ts';
import type { TokenSource } from './token-source.ts';
import { createWorkspaceClient, type WorkspaceClient } from './workspace-client.ts';
import { workspaceTokenSource } from './workspace-token.ts';

const lakebaseDefaultDatabase = 'databricks_postgres';
const defaultApplicationName = 'lakechat';

/** Where to connect, and as whom. Safe to log: it holds no secret. */
export interface PgTarget {
  host: string;
  port: number;
  user: string;
  database: string;
  sslmode: SslMode;
  applicationName: string;
}

/** A fixed password (a URL's, PGPASSWORD) behind a function, so no log or JSON of it shows the value. */
export interface StaticPassword {
  kind: 'password';
  secret(): string;
}

export interface TokenCredential {
  kind: 'token';
  source: TokenSource;
}

export interface ResolvedConnection extends PgTarget {
  mode: ConnectionMode;
  reason: string;
  password: PasswordKind;
  credential: StaticPassword | TokenCredential;
  /** DATABASE_RETRY_MS: how long a database operation whose connection failed is tried again. */
  retryForMs?: number;
}

export interface ResolveDependencies {
  /** The SDK client; built from the configuration when absent. */
  workspace?: WorkspaceClient;
}

function staticPassword(value: string): StaticPassword {
  return { kind: 'password', secret: () => value };
}

function fromUrl(env: Config['env'], reason: string): ResolvedConnection {
  // src/config.ts has checked that the URL parses, is postgres(ql):// and names a host and user.
  const url = new URL(env.LAKEBASE_PG_URL ?? '');
  const sslmode = url.searchParams.get('sslmode') ?? 'prefer';
  const user = decodeURIComponent(url.username);
  return {
    mode: 'url',
    reason,
    password: 'url',
    host: decodeURIComponent(url.hostname).replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? 5432 : Number(url.port),
    user,
    // libpq's default database is the user's name.
    database: url.pathname.length > 1 ? decodeURIComponent(url.pathname.slice(1)) : user,
    sslmode: isSslMode(sslmode) ? sslmode : 'require',
    applicationName: url.searchParams.get('application_name') ?? env.PGAPPNAME ?? defaultApplicationName,
    credential: staticPassword(decodeURIComponent(url.password)),
  };
}

function tokenSourceFor(env: Config['env'], kind: PasswordKind, workspace: () => WorkspaceClient): TokenSource {
  if (kind === 'database-credential') return databaseCredentialSource(workspace(), env.LAKEBASE_INSTANCE_NAME ?? '');
  if (kind === 'endpoint-credential') return endpointCredentialSource(workspace(), env.LAKEBASE_ENDPOINT ?? '');
  return workspaceTokenSource(env);
}

/**
 * Turns the configuration into a connection target: the mode (in the Lakebase guide's order), the
 * host, user and database (asking the workspace where the variables do not say), and where the
 * password comes from. Throws a LakechatError whose message says which step failed, never a secret.
 */
export async function resolveConnection(config: Pick<Config, 'env'>, dependencies: ResolveDependencies = {}): Promise<ResolvedConnection> {
  const resolved = await resolveTarget(config, dependencies);
  return config.env.DATABASE_RETRY_MS === undefined ? resolved : { ...resolved, retryForMs: config.env.DATABASE_RETRY_MS };
}

async function resolveTarget(config: Pick<Config, 'env'>, dependencies: ResolveDependencies): Promise<ResolvedConnection> {
  const env = config.env;
  const decision = detectMode(env);
  let client = dependencies.workspace;
  const workspace = (): WorkspaceClient => (client ??= createWorkspaceClient(env));

  switch (decision.mode) {
    case 'memory':
      throw new LakechatError('LAKECHAT_ERR_CONFIG_INVALID', `No database is configured: ${decision.reason}`);
    case 'url':
      return fromUrl(env, decision.reason);
    case 'pg-env': {
      const password = decision.password ?? 'pgpassword';
      const credential = password === 'pgpassword' ? staticPassword(env.PGPASSWORD ?? '') : ({ kind: 'token', source: tokenSourceFor(env, password, workspace) } as const);
      return {
        mode: 'pg-env',
        reason: decision.reason,
        password,
        host: env.PGHOST ?? '',
        port: env.PGPORT ?? 5432,
        user: env.PGUSER ?? (await lookupCurrentUser(workspace())),
        database: env.PGDATABASE ?? env.LAKEBASE_DATABASE_NAME ?? lakebaseDefaultDatabase,
        sslmode: env.PGSSLMODE ?? 'require',
        applicationName: env.PGAPPNAME ?? defaultApplicationName,
        credential,
      };
    }
    case 'instance':
    case 'endpoint': {
      const host =
        decision.mode === 'instance' ? (await lookupInstance(workspace(), env.LAKEBASE_INSTANCE_NAME ?? '')).host : (await lookupEndpoint(workspace(), env.LAKEBASE_ENDPOINT ?? '')).host;
      const password = decision.password ?? 'database-credential';
      return {
        mode: decision.mode,
        reason: decision.reason,
        password,
        host,
        port: env.PGPORT ?? 5432,
        user: env.PGUSER ?? (await lookupCurrentUser(workspace())),
        database: env.LAKEBASE_DATABASE_NAME ?? env.PGDATABASE ?? lakebaseDefaultDatabase,
        sslmode: env.PGSSLMODE ?? 'require',
        applicationName: env.PGAPPNAME ?? defaultApplicationName,
        credential: { kind: 'token', source: tokenSourceFor(env, password, workspace) },
      };
    }
  }
}
