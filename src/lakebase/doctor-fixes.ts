import type { PgTarget } from './resolve-connection.ts';

/** What to do when a doctor step fails, in plain words: the Lakebase guide's troubleshooting. */
export const doctorFixes = {
  configuration: 'Correct the variables named above, in the environment or in .env.local (the README lists every variable).',
  noMode:
    'Configure a database. For local development put LAKEBASE_INSTANCE_NAME, DATABRICKS_HOST (with https://) and DATABRICKS_TOKEN (a PAT) in .env.local, or set LAKEBASE_PG_URL. In Databricks Apps, add the Lakebase database as an app resource with "Can connect and create": it sets PGHOST and the other PG* variables.',
  workspaceAuth:
    'Verify that DATABRICKS_HOST is your workspace URL and includes https://, and that DATABRICKS_TOKEN is a valid personal access token with workspace access (or that DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET belong to a service principal of this workspace, or that DATABRICKS_CONFIG_PROFILE names a working profile).',
  instanceNotFound:
    'Verify that LAKEBASE_INSTANCE_NAME matches the instance name exactly (case-sensitive), as listed under Compute > Lakebase Provisioned in this workspace.',
  instanceLookup:
    'The workspace did not answer the instance lookup: check that your identity may see the instance (CAN USE or more) and that DATABRICKS_HOST is the workspace where it was created.',
  instanceNotAvailable: 'Start the instance (Compute > Lakebase Provisioned) and wait until its state is AVAILABLE.',
  endpointLookup:
    'Verify that LAKEBASE_ENDPOINT is projects/<project>/branches/<branch>/endpoints/<endpoint> and exists in this workspace, or set PGHOST to the endpoint host yourself.',
  user: "Set PGUSER to the PostgreSQL role to log in as: your Databricks user's email, or the service principal's client id.",
  credential:
    'Your identity could not get a database token for this instance: grant it access to the instance (in Databricks Apps, the database resource with "Can connect and create"; for a user, a Lakebase role for that user).',
  tcp: (target: PgTarget): string =>
    `Check network connectivity to ${target.host}:${target.port}: the instance must be running, and no VPN, firewall or IP access list may block the port.`,
  tls: (target: PgTarget): string =>
    target.sslmode === 'verify-ca' || target.sslmode === 'verify-full'
      ? `The server's certificate did not verify under sslmode=${target.sslmode}: use sslmode=require (Lakebase's setting), or trust the server's certificate authority.`
      : 'Lakebase requires TLS: set PGSSLMODE=require (or ?sslmode=require in LAKEBASE_PG_URL), and check that nothing between you and the server strips TLS.',
  login: (sqlstate: string | undefined, target: PgTarget): string => {
    if (sqlstate === '28P01') {
      return `The server refused the password for ${target.user}. With a token, PGUSER must be the identity the token belongs to (your email, or the service principal's client id) and that identity needs a PostgreSQL role in the instance; a PAT must be valid. With a fixed password, check it.`;
    }
    if (sqlstate === '28000') {
      return `The server does not accept ${target.user} this way: Lakebase needs sslmode=require, and the identity needs a PostgreSQL role in the instance.`;
    }
    if (sqlstate === '3D000') {
      return `There is no database ${target.database}: set LAKEBASE_DATABASE_NAME (or PGDATABASE) to an existing one, usually databricks_postgres.`;
    }
    return 'Check SSL mode compatibility (Lakebase needs sslmode=require) and that the instance is running.';
  },
  createPrivilege: (target: PgTarget): string =>
    `Migrations need the CREATE privilege: give the app's database resource the permission "Can connect and create", or have the owner run GRANT CREATE ON SCHEMA public TO "${target.user}".`,
  migrations: 'Run the migrations: start the server once (it migrates at start-up) or run npm run migrate.',
  unexpected: 'An unexpected error stopped the check; the message above says where.',
} as const;
