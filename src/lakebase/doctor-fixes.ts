import type { Environment } from '../config.ts';
import type { ModeDecision } from './connection-mode.ts';
import type { PgTarget } from './resolve-connection.ts';

type WorkspaceVariables = Pick<Environment, 'DATABRICKS_HOST' | 'DATABRICKS_TOKEN' | 'DATABRICKS_CLIENT_ID' | 'DATABRICKS_CONFIG_PROFILE'>;

/** What the doctor knows when a login fails: the mode, where the password came from, the variables. */
export interface LoginContext {
  decision: Pick<ModeDecision, 'mode' | 'password'>;
  env: Pick<Environment, 'PGDATABASE' | 'LAKEBASE_DATABASE_NAME'>;
}

/** The variable (or part of the URL) that named the database, in the order resolve-connection.ts reads them. */
function databaseSource({ decision, env }: LoginContext): string {
  if (decision.mode === 'url') return 'the database in LAKEBASE_PG_URL (the path after the host and port)';
  const order = decision.mode === 'pg-env' ? (['PGDATABASE', 'LAKEBASE_DATABASE_NAME'] as const) : (['LAKEBASE_DATABASE_NAME', 'PGDATABASE'] as const);
  const setBy = order.find((name) => env[name] !== undefined);
  return setBy ?? `${order[0]} (unset, so the default databricks_postgres was used)`;
}

/** The variable that holds a fixed password, or undefined when the password is a token. */
function fixedPasswordSource(decision: LoginContext['decision']): string | undefined {
  if (decision.password === 'url') return 'the password in LAKEBASE_PG_URL (percent-encoded, as in postgresql://user:p%40ss@host/db)';
  if (decision.password === 'pgpassword') return 'PGPASSWORD';
  return undefined;
}

/** What to do when a doctor step fails, in plain words: the Lakebase guide's troubleshooting. */
export const doctorFixes = {
  configuration: 'Correct the variables named above, in the environment or in .env.local (the README lists every variable).',
  noMode:
    'Configure a database. For local development put LAKEBASE_INSTANCE_NAME, DATABRICKS_HOST (with https://) and DATABRICKS_TOKEN (a PAT) in .env.local, or set LAKEBASE_PG_URL. In Databricks Apps, add the Lakebase database as an app resource with "Can connect and create": it sets PGHOST and the other PG* variables.',
  /** The workspace did not authenticate us: say which of host and credentials is missing, or that they were refused. */
  workspaceAuth: (env: WorkspaceVariables, configurationError: boolean): string => {
    const profile = env.DATABRICKS_CONFIG_PROFILE !== undefined;
    const credentials = profile || env.DATABRICKS_TOKEN !== undefined || env.DATABRICKS_CLIENT_ID !== undefined;
    if (configurationError && env.DATABRICKS_HOST === undefined && !profile) {
      return `DATABRICKS_HOST is not set${credentials ? '' : ', nor any credentials'}: this connection mode asks the workspace for the instance and for database tokens. Set DATABRICKS_HOST to your workspace URL (https://<workspace>.cloud.databricks.com)${credentials ? '' : ' and DATABRICKS_TOKEN to a personal access token'}, in .env.local for local development, or set DATABRICKS_CONFIG_PROFILE to a Databricks CLI profile. In Databricks Apps both are set for you.`;
    }
    if (configurationError && !credentials) {
      return `No credentials for ${env.DATABRICKS_HOST ?? 'the workspace'}: set DATABRICKS_TOKEN to a personal access token (local development), or DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET to a service principal's OAuth secret, or DATABRICKS_CONFIG_PROFILE to a Databricks CLI profile.`;
    }
    return `The workspace${env.DATABRICKS_HOST === undefined ? '' : ` at ${env.DATABRICKS_HOST}`} refused the credentials. Check that DATABRICKS_TOKEN is a valid personal access token of this workspace (not expired or revoked), or that DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET belong to a service principal of this workspace, or that DATABRICKS_CONFIG_PROFILE names a working profile.`;
  },
  instanceNotFound: 'Verify that LAKEBASE_INSTANCE_NAME matches the instance name exactly (case-sensitive), as listed under Compute > Lakebase Provisioned in this workspace.',
  instanceLookup:
    'The workspace did not answer the instance lookup: check that your identity may see the instance (CAN USE or more) and that DATABRICKS_HOST is the workspace where it was created.',
  instanceNotAvailable: 'Start the instance (Compute > Lakebase Provisioned) and wait until its state is AVAILABLE.',
  endpointLookup: 'Verify that LAKEBASE_ENDPOINT is projects/<project>/branches/<branch>/endpoints/<endpoint> and exists in this workspace, or set PGHOST to the endpoint host yourself.',
  user: "Set PGUSER to the PostgreSQL role to log in as: your Databricks user's email, or the service principal's client id.",
  credential:
    'Your identity could not get a database token for this instance: grant it access to the instance (in Databricks Apps, the database resource with "Can connect and create"; for a user, a Lakebase role for that user).',
  tcp: (target: PgTarget): string => `Check network connectivity to ${target.host}:${target.port}: the instance must be running, and no VPN, firewall or IP access list may block the port.`,
  tls: (target: PgTarget): string =>
    target.sslmode === 'verify-ca' || target.sslmode === 'verify-full'
      ? `The server's certificate did not verify under sslmode=${target.sslmode}: use sslmode=require (Lakebase's setting), or trust the server's certificate authority.`
      : 'Lakebase requires TLS: set PGSSLMODE=require (or ?sslmode=require in LAKEBASE_PG_URL), and check that nothing between you and the server strips TLS.',
  login: (sqlstate: string | undefined, target: PgTarget, context: LoginContext): string => {
    const fixed = fixedPasswordSource(context.decision);
    if (sqlstate === '28P01' && fixed !== undefined) {
      return `The server refused the password for ${target.user}: check ${fixed}, and that ${target.user} is the role it belongs to.`;
    }
    if (sqlstate === '28P01') {
      return `The server refused the token as the password of ${target.user}: PGUSER must be the identity the token belongs to (your email, or the service principal's client id), that identity needs a PostgreSQL role in the instance, and a PAT must be valid.`;
    }
    if (sqlstate === '28000') {
      return `The server does not accept ${target.user} this way: Lakebase needs sslmode=require, and the identity needs a PostgreSQL role in the instance.`;
    }
    if (sqlstate === '3D000') {
      return `There is no database ${target.database}: it comes from ${databaseSource(context)}; name an existing one, usually databricks_postgres.`;
    }
    return 'Check SSL mode compatibility (Lakebase needs sslmode=require) and that the instance is running.';
  },
  createPrivilege: (target: PgTarget): string =>
    `Migrations need the CREATE privilege: give the app's database resource the permission "Can connect and create", or have the owner run GRANT CREATE ON SCHEMA public TO "${target.user}".`,
  migrations: 'Run the migrations: start the server once (it migrates at start-up) or run npm run migrate.',
  unexpected: 'An unexpected error stopped the check; the message above says where.',
} as const;
