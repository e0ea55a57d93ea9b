import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { z } from 'zod';
import { LakechatError } from './errors.ts';

/**
 * The only module that reads the environment. `loadConfig` parses every variable once, at start-up,
 * and returns a frozen object; a bad value stops start-up with one message naming the variable (and
 * never its value, which may be a secret).
 */

const booleanFlag = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((value) => value === 'true' || value === '1' || value === 'yes');

const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

const port = z.coerce.number().int().min(1).max(65_535);
const positiveInt = z.coerce.number().int().min(1);
const nonNegativeInt = z.coerce.number().int().min(0);

const emailList = z
  .string()
  .optional()
  .transform((value) =>
    (value ?? '')
      .split(',')
      .map((email) => email.trim().toLowerCase())
      .filter((email) => email.length > 0),
  );

const sslModes = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;

/** The auth types the Databricks SDK accepts in DATABRICKS_AUTH_TYPE. */
const databricksAuthTypes = ['pat', 'oauth-m2m', 'databricks-cli', 'basic', 'metadata-service', 'azure-cli', 'azure-msi', 'azure-client-secret', 'google-credentials', 'google-id'] as const;

const environmentObject = z.object({
  NODE_ENV: optionalString,
  HOST: z.string().default('0.0.0.0'),
  PORT: port.optional(),
  DATABRICKS_APP_PORT: port.optional(),
  DATABRICKS_APP_NAME: optionalString,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty', 'auto']).default('auto'),

  // Lakebase connection, checked in this order: a URL, the PG* variables, an instance or endpoint.
  LAKEBASE_PG_URL: optionalString,
  PGHOST: optionalString,
  PGPORT: port.optional(),
  PGDATABASE: optionalString,
  PGUSER: optionalString,
  PGPASSWORD: optionalString,
  PGSSLMODE: z.enum(sslModes).optional(),
  PGAPPNAME: optionalString,
  LAKEBASE_INSTANCE_NAME: optionalString,
  LAKEBASE_ENDPOINT: optionalString,
  LAKEBASE_DATABASE_NAME: optionalString,

  // Databricks workspace authentication, handed to the SDK explicitly (see src/lakebase/workspace-client.ts).
  DATABRICKS_HOST: optionalString,
  DATABRICKS_TOKEN: optionalString,
  DATABRICKS_CLIENT_ID: optionalString,
  DATABRICKS_CLIENT_SECRET: optionalString,
  DATABRICKS_AUTH_TYPE: z.enum(databricksAuthTypes).optional(),
  DATABRICKS_CONFIG_PROFILE: optionalString,
  DATABRICKS_CONFIG_FILE: optionalString,

  STORAGE_FALLBACK: z.enum(['memory', 'fail']).default('memory'),
  // On the memory fallback, the database is tried again after this long, doubling up to the maximum.
  STORAGE_RECONNECT_MIN_MS: positiveInt.max(600_000).default(1_000),
  STORAGE_RECONNECT_MAX_MS: positiveInt.max(3_600_000).default(30_000),
  DATABASE_POOL_SIZE: positiveInt.max(200).default(10),
  SLOW_QUERY_MS: positiveInt.default(500),

  // PostgreSQL ends a session left idle inside a transaction this long: an open transaction holds
  // every reader of the event log back.
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: positiveInt.max(3_600_000).default(10_000),
  // The hot statements run as named prepared statements (parsed and planned once per connection).
  // Turn off behind a transaction-mode pooler that does not support them.
  DATABASE_PREPARED_STATEMENTS: booleanFlag.default(true),
  // A database operation whose connection failed (dropped, refused, a restart, a failover) is tried
  // again for this long before the request gets 503: keep it below what clients wait for an answer.
  DATABASE_RETRY_MS: nonNegativeInt.max(120_000).default(15_000),

  // Event store tuning.
  EVENT_POLL_INTERVAL_MS: positiveInt.max(60_000).default(1_000),
  EVENT_NOTIFY_INTERVAL_MS: z.coerce.number().int().min(0).max(1_000).default(5),

  // HTTP API, identity and projections.
  ALLOW_DEMO_USER: booleanFlag.optional(),
  ANALYST_EMAILS: emailList,
  MAX_MESSAGE_BYTES: positiveInt.max(16 * 1024 * 1024).default(32 * 1024),
  HTTP_BODY_LIMIT_BYTES: positiveInt.max(64 * 1024 * 1024).default(256 * 1024),
  // Slow clients: the headers, and the whole request (headers and body), must arrive within these;
  // a connection silent this long is closed (docs/operations.md).
  HTTP_HEADERS_TIMEOUT_MS: positiveInt.min(100).max(600_000).default(10_000),
  HTTP_REQUEST_TIMEOUT_MS: positiveInt.min(100).max(3_600_000).default(30_000),
  HTTP_CONNECTION_TIMEOUT_MS: positiveInt.min(100).max(3_600_000).default(120_000),
  RATE_LIMIT_PER_SECOND: nonNegativeInt.default(50),
  RATE_LIMIT_BURST: positiveInt.default(200),
  PROJECTION_WAIT_TIMEOUT_MS: positiveInt.max(120_000).default(5_000),
  PROJECTIONS_IN_APPEND: booleanFlag.default(true),
  PROJECTION_BATCH_SIZE: positiveInt.max(10_000).default(500),
  MESSAGES_PAGE_BYTES: positiveInt
    .min(1_024)
    .max(64 * 1024 * 1024)
    .default(512 * 1024),
  MESSAGES_READS_PER_USER: positiveInt.max(100).default(2),
  MESSAGES_READ_BYTES_IN_FLIGHT: positiveInt
    .min(1_024)
    .max(1024 * 1024 * 1024)
    .default(16 * 1024 * 1024),

  // WebSocket transport (src/ws/): every limit is per instance; docs/protocol.md says what a breach costs.
  WS_MAX_PAYLOAD_BYTES: positiveInt
    .min(1_024)
    .max(16 * 1024 * 1024)
    .default(64 * 1024),
  WS_POSTS_PER_SECOND: nonNegativeInt.default(10),
  WS_SIGNALS_PER_SECOND: nonNegativeInt.default(50),
  WS_MAX_SUBSCRIPTIONS: positiveInt.max(1_000).default(20),
  WS_MAX_CONNECTIONS_PER_USER: positiveInt.default(20),
  WS_HEARTBEAT_INTERVAL_MS: positiveInt.min(10).max(600_000).default(30_000),
  WS_SEND_BUFFER_BYTES: positiveInt
    .min(1_024)
    .max(64 * 1024 * 1024)
    .default(256 * 1024),
  WS_STUCK_TIMEOUT_MS: positiveInt.min(10).max(600_000).default(30_000),
  WS_SUBSCRIBES_PER_SECOND: nonNegativeInt.default(10),
  WS_USER_SIGNALS_PER_SECOND: nonNegativeInt.default(100),
  WS_HISTORY_READS_PER_USER: positiveInt.max(100).default(4),
  WS_USER_CONNECTS_PER_SECOND: nonNegativeInt.default(10),
  WS_SUBSCRIPTION_PAGE_BYTES: positiveInt
    .min(1_024)
    .max(64 * 1024 * 1024)
    .default(256 * 1024),
  WS_USER_SUBSCRIBES_PER_SECOND: nonNegativeInt.default(5),
  WS_USER_POSTS_PER_SECOND: nonNegativeInt.default(20),
  WS_SUBSCRIPTION_QUEUE_BYTES: positiveInt
    .min(1_024)
    .max(256 * 1024 * 1024)
    .default(1024 * 1024),
  WS_ALLOWED_ORIGINS: z
    .string()
    .optional()
    .transform((value) =>
      (value ?? '')
        .split(',')
        .map((origin) => origin.trim().toLowerCase().replace(/\/+$/, ''))
        .filter((origin) => origin.length > 0),
    ),

  // `npm run bench` runs against this PostgreSQL (a superuser URL) instead of starting its own.
  BENCH_DATABASE_URL: optionalString,
  BENCH_CPU_PROFILE: optionalString,
});

const environmentSchema = environmentObject.superRefine((env, context) => {
  for (const problem of lakebaseProblems(env)) {
    context.addIssue({ code: 'custom', path: [problem.variable], message: problem.problem });
  }
  if (env.HTTP_HEADERS_TIMEOUT_MS > env.HTTP_REQUEST_TIMEOUT_MS) {
    context.addIssue({ code: 'custom', path: ['HTTP_HEADERS_TIMEOUT_MS'], message: 'must not be longer than HTTP_REQUEST_TIMEOUT_MS (the headers are part of the request)' });
  }
});

export type Environment = z.infer<typeof environmentObject>;

const loopbackHosts = new Set(['127.0.0.1', 'localhost', '[::1]']);
// The seed's naming rule for Provisioned instances: 1-63 characters, letters and hyphens, a letter first.
const instanceName = /^[A-Za-z][A-Za-z-]{0,62}$/;
// Autoscaling resource ids: 1-63 characters, lower-case letters, digits and hyphens, a letter first.
const resourceId = '[a-z][a-z0-9-]{0,62}';
const endpointName = new RegExp(`^projects/${resourceId}/branches/${resourceId}/endpoints/${resourceId}$`);

/**
 * The Lakebase variables checked together: formats, and modes configured by half. Each message names
 * what to change and never quotes a value.
 */
function lakebaseProblems(env: z.infer<typeof environmentObject>): { variable: string; problem: string }[] {
  const problems: { variable: string; problem: string }[] = [];
  const problem = (variable: string, text: string): void => {
    problems.push({ variable, problem: text });
  };

  if (env.DATABRICKS_HOST !== undefined) {
    const url = URL.canParse(env.DATABRICKS_HOST) ? new URL(env.DATABRICKS_HOST) : undefined;
    const secure = url?.protocol === 'https:';
    const loopback = url?.protocol === 'http:' && loopbackHosts.has(url.hostname);
    if (url === undefined || !(secure || loopback) || url.hostname === '') {
      problem('DATABRICKS_HOST', 'must start with https:// (for example https://my-workspace.cloud.databricks.com); http:// is accepted only for 127.0.0.1 or localhost');
    }
  }
  if (env.LAKEBASE_PG_URL !== undefined) {
    const url = URL.canParse(env.LAKEBASE_PG_URL) ? new URL(env.LAKEBASE_PG_URL) : undefined;
    if (url === undefined || !['postgres:', 'postgresql:'].includes(url.protocol) || url.hostname === '' || url.username === '') {
      problem('LAKEBASE_PG_URL', 'must be a URL like postgresql://user:password@host:5432/database?sslmode=require');
    } else if (!(sslModes as readonly string[]).includes(url.searchParams.get('sslmode') ?? 'prefer')) {
      problem('LAKEBASE_PG_URL', `its sslmode must be one of ${sslModes.join(', ')}`);
    }
  }
  if (env.LAKEBASE_INSTANCE_NAME !== undefined && !instanceName.test(env.LAKEBASE_INSTANCE_NAME)) {
    problem('LAKEBASE_INSTANCE_NAME', 'must be 1-63 characters, start with a letter, and contain only letters and hyphens (no underscores, digits or spaces)');
  }
  if (env.LAKEBASE_ENDPOINT !== undefined && !endpointName.test(env.LAKEBASE_ENDPOINT)) {
    problem('LAKEBASE_ENDPOINT', 'must look like projects/<project>/branches/<branch>/endpoints/<endpoint>');
  }
  if (env.LAKEBASE_INSTANCE_NAME !== undefined && env.LAKEBASE_ENDPOINT !== undefined) {
    problem('LAKEBASE_ENDPOINT', 'set either LAKEBASE_INSTANCE_NAME (Lakebase Provisioned) or LAKEBASE_ENDPOINT (Lakebase Autoscaling), not both');
  }

  const urlMode = env.LAKEBASE_PG_URL !== undefined;
  const pgMode = !urlMode && env.PGHOST !== undefined;
  const sdkMode = !urlMode && (env.LAKEBASE_INSTANCE_NAME !== undefined || env.LAKEBASE_ENDPOINT !== undefined);
  const usesSdk = sdkMode || (pgMode && env.PGPASSWORD === undefined);

  if (!urlMode && env.PGHOST === undefined) {
    if (env.PGPASSWORD !== undefined) {
      problem('PGPASSWORD', 'is used only with PGHOST; set PGHOST too, or remove PGPASSWORD');
    }
    if (!sdkMode) {
      for (const variable of ['PGUSER', 'PGDATABASE', 'PGPORT'] as const) {
        if (env[variable] !== undefined) {
          problem(variable, 'is set but PGHOST is not: set PGHOST to connect with the PG* variables, or remove it');
        }
      }
    }
  }
  if (pgMode && env.PGPASSWORD !== undefined && env.PGUSER === undefined) {
    problem('PGUSER', 'is required with PGHOST and PGPASSWORD');
  }
  if (env.LAKEBASE_DATABASE_NAME !== undefined && !sdkMode && !urlMode) {
    problem('LAKEBASE_DATABASE_NAME', 'is used only with LAKEBASE_INSTANCE_NAME or LAKEBASE_ENDPOINT');
  }

  if ((env.DATABRICKS_CLIENT_ID === undefined) !== (env.DATABRICKS_CLIENT_SECRET === undefined)) {
    const missing = env.DATABRICKS_CLIENT_ID === undefined ? 'DATABRICKS_CLIENT_ID' : 'DATABRICKS_CLIENT_SECRET';
    problem(missing, 'DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET must be set together (OAuth machine-to-machine)');
  }
  if (env.DATABRICKS_TOKEN !== undefined && env.DATABRICKS_CLIENT_ID !== undefined && env.DATABRICKS_AUTH_TYPE === undefined) {
    problem(
      'DATABRICKS_AUTH_TYPE',
      'DATABRICKS_TOKEN and DATABRICKS_CLIENT_ID/DATABRICKS_CLIENT_SECRET are both set, and the Databricks SDK refuses more than one authorization method: unset one of them, or set DATABRICKS_AUTH_TYPE to pat or oauth-m2m',
    );
  }
  const explicitCredentials = env.DATABRICKS_TOKEN !== undefined || env.DATABRICKS_CLIENT_ID !== undefined;
  if (usesSdk && explicitCredentials && env.DATABRICKS_HOST === undefined && env.DATABRICKS_CONFIG_PROFILE === undefined) {
    problem('DATABRICKS_HOST', 'is required with DATABRICKS_TOKEN or DATABRICKS_CLIENT_ID (the workspace URL, starting with https://)');
  }
  return problems;
}

export interface Config {
  readonly env: Environment;
  readonly production: boolean;
  readonly host: string;
  readonly port: number;
  readonly logLevel: Environment['LOG_LEVEL'];
  /** `auto` (pretty on a terminal, JSON otherwise) outside production; JSON in production unless LOG_FORMAT says otherwise. */
  readonly logFormat: Environment['LOG_FORMAT'];
  /** `X-Demo-User` is trusted as the identity: by default only outside production. */
  readonly allowDemoUser: boolean;
}

export class ConfigError extends LakechatError {
  readonly variables: readonly string[];
  constructor(problems: readonly { variable: string; problem: string }[]) {
    super('LAKECHAT_ERR_CONFIG_INVALID', `Invalid configuration: ${problems.map((p) => `${p.variable}: ${p.problem}`).join('; ')}`, {
      details: { variables: problems.map((p) => p.variable) },
    });
    this.variables = problems.map((p) => p.variable);
  }
}

export interface LoadConfigOptions {
  /**
   * A dotenv file read for local development, as the Lakebase guide says; variables already in the
   * environment win. Defaults to `.env.local` in the working directory when `env` is the process's
   * own environment, except in a Databricks App (DATABRICKS_APP_NAME set), where a developer's file
   * deployed by mistake must not add a PAT to the app's own credentials; `false` reads no file.
   */
  envFile?: string | false;
}

/** Reads a dotenv file if it exists; an unreadable or malformed file stops start-up like a bad variable. */
function readEnvFile(file: string): Record<string, string> {
  if (!existsSync(file)) return {};
  try {
    return parseEnv(readFileSync(file, 'utf8')) as Record<string, string>;
  } catch {
    throw new ConfigError([{ variable: path.basename(file), problem: 'cannot be read as a dotenv file (KEY=value lines)' }]);
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, options: LoadConfigOptions = {}): Config {
  const deployed = env.DATABRICKS_APP_NAME !== undefined && env.DATABRICKS_APP_NAME !== '';
  const envFile = options.envFile ?? (env === process.env && !deployed ? '.env.local' : false);
  const fromFile = envFile === false || deployed ? {} : readEnvFile(path.resolve(envFile));
  const parsed = environmentSchema.safeParse({ ...fromFile, ...env });
  if (!parsed.success) {
    // zod's messages describe the expectation, not the received value, so no secret is echoed.
    throw new ConfigError(parsed.error.issues.map((issue) => ({ variable: String(issue.path[0] ?? '(environment)'), problem: issue.message })));
  }
  const values = parsed.data;
  const production = values.NODE_ENV === 'production' || values.DATABRICKS_APP_NAME !== undefined;
  return Object.freeze({
    env: Object.freeze(values),
    production,
    host: values.HOST,
    port: values.DATABRICKS_APP_PORT ?? values.PORT ?? 8000,
    logLevel: values.LOG_LEVEL,
    logFormat: production && values.LOG_FORMAT === 'auto' ? 'json' : values.LOG_FORMAT,
    allowDemoUser: values.ALLOW_DEMO_USER ?? !production,
  });
}

export { booleanFlag, emailList, optionalString };
