import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError as SdkConfigError } from '@databricks/sdk-experimental';
import pg from 'pg';
import { type Config, ConfigError, type LoadConfigOptions, loadConfig } from '../config.ts';
import { isLakechatError } from '../errors.ts';
import { repairCopiedLogCommand } from '../event-store/index.ts';
import { detectMode, type ModeDecision } from './connection-mode.ts';
import { lookupCurrentUser } from './current-user.ts';
import { databaseErrorCode, describeDatabaseError } from './database-errors.ts';
import { doctorFixes } from './doctor-fixes.ts';
import { lookupEndpoint } from './endpoint-lookup.ts';
import { lookupInstance } from './instance-lookup.ts';
import { pgClientConfig } from './listener-config.ts';
import { probeTcp, probeTls } from './network-probes.ts';
import { type PgTarget, type ResolvedConnection, resolveConnection } from './resolve-connection.ts';
import { describeSdkError } from './sdk-failure.ts';
import { tlsOptions } from './ssl.ts';
import { createWorkspaceClient, type WorkspaceClient } from './workspace-client.ts';

export type StepName =
  | 'configuration'
  | 'mode'
  | 'workspace auth'
  | 'instance lookup'
  | 'endpoint lookup'
  | 'database user'
  | 'credential'
  | 'tcp'
  | 'tls'
  | 'login'
  | 'create privilege'
  | 'migrations'
  | 'copied log';

export interface StepResult {
  step: StepName;
  ok: boolean;
  detail: string;
  /** For a failed step: what to do, in plain words. */
  fix?: string;
}

export interface DoctorOptions {
  /** The environment to check; the process's own (and .env.local) by default. */
  env?: NodeJS.ProcessEnv;
  envFile?: LoadConfigOptions['envFile'];
  /** Each line of the report, as it is known. */
  write: (line: string) => void;
  /** postgrator's version table, and the folder of migration files. */
  migrationsTable?: string;
  migrationsDirectory?: string;
}

export interface DoctorReport {
  ok: boolean;
  mode: ModeDecision['mode'] | undefined;
  steps: StepResult[];
}

class StepFailed extends Error {
  constructor(
    readonly step: StepName,
    readonly detail: string,
    readonly fix: string,
  ) {
    super(detail);
  }
}

function errorText(error: unknown): string {
  if (isLakechatError(error)) return error.message;
  if ((error as { code?: unknown }).code !== undefined) return describeDatabaseError(error);
  return describeSdkError(error);
}

/** The SDK could not put a client together (no host, no credentials), as opposed to the workspace refusing it. */
function sdkConfigurationFailed(error: unknown): boolean {
  for (let link = error, depth = 0; link instanceof Error && depth < 8; link = link.cause, depth += 1) {
    if (link instanceof SdkConfigError) return true;
  }
  return false;
}

function missingWorkspaceSettings(env: Config['env']): string | undefined {
  if (env.DATABRICKS_CONFIG_PROFILE !== undefined) return undefined;
  if (env.DATABRICKS_HOST === undefined) return 'no workspace to ask: DATABRICKS_HOST is not set (nor DATABRICKS_CONFIG_PROFILE)';
  if (env.DATABRICKS_TOKEN === undefined && env.DATABRICKS_CLIENT_ID === undefined) {
    return `no credentials for ${env.DATABRICKS_HOST}: none of DATABRICKS_TOKEN, DATABRICKS_CLIENT_ID with DATABRICKS_CLIENT_SECRET, or DATABRICKS_CONFIG_PROFILE is set`;
  }
  return undefined;
}

const defaultMigrationsDirectory = fileURLToPath(new URL('../../migrations/', import.meta.url));

/** The highest NNN of the NNN.do.sql files, or 0 when the build has none. */
function latestMigration(directory: string): number {
  let files: string[];
  try {
    files = readdirSync(directory);
  } catch {
    return 0;
  }
  return Math.max(
    0,
    ...files
      .map((file) => /^(\d+)\.do\.sql$/.exec(file)?.[1])
      .filter((n) => n !== undefined)
      .map(Number),
  );
}

/**
 * The Lakebase guide's troubleshooting, made executable: which mode resolved and why, then each step
 * of the connection in order (workspace auth, instance or endpoint lookup, credential, TCP, TLS,
 * login, CREATE privilege, migrations). Stops at the first failure and says how to fix it.
 */
export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const steps: StepResult[] = [];
  const write = options.write;
  const pass = (step: StepName, detail: string): void => {
    steps.push({ step, ok: true, detail });
    write(`✓ ${step.padEnd(17)} ${detail}`);
  };
  const attempt = async <T>(step: StepName, run: () => Promise<T>, fixFor: (error: unknown) => string): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      if (error instanceof StepFailed) throw error;
      throw new StepFailed(step, errorText(error), fixFor(error));
    }
  };

  let decision: ModeDecision | undefined;
  try {
    let config: Config;
    try {
      config = loadConfig(options.env ?? process.env, options.envFile === undefined ? {} : { envFile: options.envFile });
    } catch (error) {
      if (error instanceof ConfigError) throw new StepFailed('configuration', error.message, doctorFixes.configuration);
      throw error;
    }
    pass('configuration', 'every variable is valid');

    decision = detectMode(config.env);
    if (decision.mode === 'memory') throw new StepFailed('mode', `no database configured: ${decision.reason}`, doctorFixes.noMode);
    pass('mode', `${decision.mode}: ${decision.reason}`);
    if (decision.ignored.length > 0) write(`  (ignored, because LAKEBASE_PG_URL wins: ${decision.ignored.join(', ')})`);

    const env = config.env;
    // Every password but a fixed one (URL, PGPASSWORD) is a token from the workspace.
    const needsWorkspace = decision.password !== 'url' && decision.password !== 'pgpassword';
    let workspace: WorkspaceClient | undefined;
    let identity: string | undefined;
    if (needsWorkspace) {
      workspace = createWorkspaceClient(env);
      const client = workspace;
      identity = await attempt(
        'workspace auth',
        async () => {
          try {
            return await lookupCurrentUser(client);
          } catch (error) {
            // The SDK's "cannot configure default credentials": say which variable is missing instead.
            const missing = sdkConfigurationFailed(error) ? missingWorkspaceSettings(env) : undefined;
            if (missing !== undefined) throw new StepFailed('workspace auth', missing, doctorFixes.workspaceAuth(env, true));
            throw error;
          }
        },
        (error) => doctorFixes.workspaceAuth(env, sdkConfigurationFailed(error)),
      );
      pass('workspace auth', `${env.DATABRICKS_HOST ?? 'the configured profile'} accepts the credentials of ${identity} (${client.config.authType ?? 'auth'})`);
    }

    if (workspace !== undefined && env.LAKEBASE_INSTANCE_NAME !== undefined && decision.mode !== 'url') {
      const client = workspace;
      const name = env.LAKEBASE_INSTANCE_NAME;
      const instance = await attempt(
        'instance lookup',
        () => lookupInstance(client, name),
        (error) => (isLakechatError(error) && error.details?.httpStatus === 404 ? doctorFixes.instanceNotFound : doctorFixes.instanceLookup),
      );
      if (instance.state !== undefined && instance.state !== 'AVAILABLE') {
        throw new StepFailed('instance lookup', `instance ${name} is ${instance.state}`, doctorFixes.instanceNotAvailable);
      }
      pass('instance lookup', `${name} is ${instance.state ?? 'found'} at ${instance.host}`);
    }
    if (workspace !== undefined && env.LAKEBASE_ENDPOINT !== undefined && decision.mode !== 'url') {
      const client = workspace;
      const name = env.LAKEBASE_ENDPOINT;
      const endpoint = await attempt(
        'endpoint lookup',
        () => lookupEndpoint(client, name),
        () => doctorFixes.endpointLookup,
      );
      pass('endpoint lookup', `${name} is ${endpoint.state ?? 'found'} at ${endpoint.host}`);
    }

    const resolvedWorkspace = workspace;
    const resolved: ResolvedConnection = await attempt(
      'database user',
      () => resolveConnection(config, resolvedWorkspace === undefined ? {} : { workspace: resolvedWorkspace }),
      () => doctorFixes.user,
    );
    const userSource = env.PGUSER !== undefined ? 'PGUSER' : decision.mode === 'url' ? 'the URL' : 'the workspace identity';
    pass('database user', `${resolved.user} (from ${userSource}), database ${resolved.database}`);

    let password: string;
    if (resolved.credential.kind === 'token') {
      const source = resolved.credential.source;
      const issued = await attempt(
        'credential',
        () => source.fetch(),
        () => doctorFixes.credential,
      );
      password = issued.token;
      const expiry = issued.expiresAt === undefined ? 'no expiry given' : `expires ${new Date(issued.expiresAt).toISOString()}`;
      pass('credential', `${source.kind} obtained (${expiry})`);
    } else {
      password = resolved.credential.secret();
      pass('credential', resolved.password === 'url' ? 'password from the URL' : 'password from PGPASSWORD');
    }

    const target: PgTarget = resolved;
    await attempt(
      'tcp',
      () => probeTcp(target.host, target.port),
      () => doctorFixes.tcp(target),
    );
    pass('tcp', `${target.host}:${target.port} accepts connections`);

    if (tlsOptions(target.sslmode) === false) {
      pass('tls', `not used (sslmode=${target.sslmode}); Lakebase requires sslmode=require`);
    } else {
      const protocol = await attempt(
        'tls',
        () => probeTls(target),
        () => doctorFixes.tls(target),
      );
      pass('tls', `${protocol} (sslmode=${target.sslmode})`);
    }

    const client = new pg.Client(pgClientConfig(target, password, 'doctor'));
    try {
      const login = { decision, env };
      await attempt(
        'login',
        () => client.connect(),
        (error) => doctorFixes.login(databaseErrorCode(error), target, login),
      );
      const facts = await attempt(
        'login',
        async () =>
          (
            await client.query<{ user: string; version: string; ssl: boolean | null }>(
              "SELECT current_user AS user, current_setting('server_version') AS version, (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS ssl",
            )
          ).rows[0],
        () => doctorFixes.login(undefined, target, login),
      );
      pass('login', `logged in as ${facts?.user} to ${target.database} (PostgreSQL ${facts?.version}${facts?.ssl === true ? ', TLS' : ''})`);

      const privilege = await attempt(
        'create privilege',
        async () =>
          (
            await client.query<{ schema: string | null; can_create: boolean }>(
              "SELECT current_schema() AS schema, coalesce(has_schema_privilege(current_schema(), 'CREATE'), false) AS can_create",
            )
          ).rows[0],
        () => doctorFixes.createPrivilege(target),
      );
      if (privilege?.can_create !== true) {
        throw new StepFailed('create privilege', `${target.user} cannot create tables in schema ${privilege?.schema ?? '(none)'} of ${target.database}`, doctorFixes.createPrivilege(target));
      }
      pass('create privilege', `${target.user} can create tables in schema ${privilege.schema}`);

      const table = options.migrationsTable ?? 'schemaversion';
      const latest = latestMigration(options.migrationsDirectory ?? defaultMigrationsDirectory);
      const applied = await attempt(
        'migrations',
        async () => {
          const exists = (await client.query<{ found: boolean }>('SELECT to_regclass($1) IS NOT NULL AS found', [table])).rows[0]?.found;
          if (exists !== true) return undefined;
          const row = (await client.query<{ version: string | null }>(`SELECT max(version)::text AS version FROM ${pg.escapeIdentifier(table)}`)).rows[0];
          return Number(row?.version ?? 0);
        },
        () => doctorFixes.migrations,
      );
      if (latest === 0) {
        pass('migrations', applied === undefined ? `this build has no migration files (and no ${table} table)` : `${table} at version ${applied}; this build has no migration files`);
      } else if (applied === undefined) {
        throw new StepFailed('migrations', `no ${table} table: no migration has run on ${target.database}`, doctorFixes.migrations);
      } else if (applied < latest) {
        throw new StepFailed('migrations', `${table} is at version ${applied} of ${latest}`, doctorFixes.migrations);
      } else {
        pass('migrations', `all applied (${table} at version ${applied})`);
      }

      // A log copied from another cluster hides every new event (docs/operations.md, "A copied database").
      const copyFix = `stop every instance of lakechat, then run ${repairCopiedLogCommand} with this configuration (it renumbers the copied transaction ids and every stored cursor, in one transaction), and start again`;
      const ids = await attempt(
        'copied log',
        async () =>
          (await client.query<{ has_log: boolean; next_tx: string }>(`SELECT to_regclass('events') IS NOT NULL AS has_log, pg_snapshot_xmax(pg_current_snapshot())::text AS next_tx`))
            .rows[0],
        () => copyFix,
      );
      const newest =
        ids?.has_log === true
          ? await attempt(
              'copied log',
              async () => (await client.query<{ max_tx: string | null }>('SELECT max(tx_id)::text AS max_tx FROM events')).rows[0]?.max_tx ?? null,
              () => copyFix,
            )
          : null;
      const next = ids?.next_tx ?? '0';
      if (newest !== null && BigInt(newest) >= BigInt(next)) {
        throw new StepFailed(
          'copied log',
          `the event log was copied from another cluster: its highest transaction id ${newest} is at or above this cluster's next, ${next}, so new events would never be read`,
          copyFix,
        );
      }
      pass('copied log', ids?.has_log !== true ? 'no events table yet' : newest === null ? 'the log is empty' : `transaction ids belong to this cluster (highest ${newest}, next ${next})`);
    } finally {
      await client.end().catch(() => {});
    }
    write('All checks passed.');
    return { ok: true, mode: decision.mode, steps };
  } catch (error) {
    const failure = error instanceof StepFailed ? error : new StepFailed('configuration', errorText(error), doctorFixes.unexpected);
    steps.push({ step: failure.step, ok: false, detail: failure.detail, fix: failure.fix });
    write(`✗ ${failure.step.padEnd(17)} ${failure.detail}`);
    write('');
    write(`Fix: ${failure.fix}`);
    return { ok: false, mode: decision?.mode, steps };
  }
}
