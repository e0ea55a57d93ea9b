import type { Environment } from '../config.ts';

export type ConnectionMode = 'url' | 'pg-env' | 'instance' | 'endpoint';

/** Where the PostgreSQL password comes from. */
export type PasswordKind = 'url' | 'pgpassword' | 'database-credential' | 'endpoint-credential' | 'workspace-token';

export interface ModeDecision {
  mode: ConnectionMode | 'memory';
  /** Why, in words, for the start-up log and the doctor. */
  reason: string;
  password: PasswordKind | undefined;
  /** Variables that are set but lose to a mode checked earlier. */
  ignored: string[];
}

type ModeVariables = Pick<Environment, 'LAKEBASE_PG_URL' | 'PGHOST' | 'PGPASSWORD' | 'LAKEBASE_INSTANCE_NAME' | 'LAKEBASE_ENDPOINT'>;

function tokenPassword(env: ModeVariables): PasswordKind {
  if (env.LAKEBASE_INSTANCE_NAME !== undefined) return 'database-credential';
  if (env.LAKEBASE_ENDPOINT !== undefined) return 'endpoint-credential';
  return 'workspace-token';
}

const passwordWords: Record<PasswordKind, string> = {
  url: 'the password in the URL',
  pgpassword: 'PGPASSWORD',
  'database-credential': 'a Lakebase database credential for LAKEBASE_INSTANCE_NAME',
  'endpoint-credential': 'a Lakebase database credential for LAKEBASE_ENDPOINT',
  'workspace-token': "the workspace's OAuth token (Databricks SDK)",
};

/**
 * Which connection mode the variables select, in the Lakebase guide's order: a URL, then the PG*
 * variables Databricks Apps injects, then an instance name (or an Autoscaling endpoint).
 */
export function detectMode(env: ModeVariables): ModeDecision {
  if (env.LAKEBASE_PG_URL !== undefined) {
    const ignored = (['PGHOST', 'LAKEBASE_INSTANCE_NAME', 'LAKEBASE_ENDPOINT'] as const).filter((name) => env[name] !== undefined);
    return {
      mode: 'url',
      reason: 'LAKEBASE_PG_URL is set (mode 1, checked first); password: the password in the URL',
      password: 'url',
      ignored,
    };
  }
  if (env.PGHOST !== undefined) {
    const password = env.PGPASSWORD !== undefined ? 'pgpassword' : tokenPassword(env);
    return {
      mode: 'pg-env',
      reason: `PGHOST is set (mode 2, the PG* variables a Databricks Apps database resource injects); password: ${passwordWords[password]}`,
      password,
      ignored: [],
    };
  }
  if (env.LAKEBASE_INSTANCE_NAME !== undefined) {
    return {
      mode: 'instance',
      reason: `LAKEBASE_INSTANCE_NAME is set (mode 3, Lakebase Provisioned): host from the instance lookup; password: ${passwordWords['database-credential']}`,
      password: 'database-credential',
      ignored: [],
    };
  }
  if (env.LAKEBASE_ENDPOINT !== undefined) {
    return {
      mode: 'endpoint',
      reason: `LAKEBASE_ENDPOINT is set (mode 3, Lakebase Autoscaling): host from the endpoint lookup; password: ${passwordWords['endpoint-credential']}`,
      password: 'endpoint-credential',
      ignored: [],
    };
  }
  return {
    mode: 'memory',
    reason: 'none of LAKEBASE_PG_URL, PGHOST, LAKEBASE_INSTANCE_NAME or LAKEBASE_ENDPOINT is set',
    password: undefined,
    ignored: [],
  };
}
