import { z } from 'zod';
import { LakechatError } from './errors.ts';

/**
 * The only module that reads the environment. `loadConfig` parses every variable once, at start-up,
 * and returns a frozen object; a bad value stops start-up with one message naming the variable (and
 * never its value, which may be a secret).
 */

const booleanFlag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

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

const environmentSchema = z.object({
  NODE_ENV: optionalString,
  HOST: z.string().default('0.0.0.0'),
  PORT: port.optional(),
  DATABRICKS_APP_PORT: port.optional(),
  DATABRICKS_APP_NAME: optionalString,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  // Lakebase connection, checked in this order: a URL, the PG* variables, an instance or endpoint.
  LAKEBASE_PG_URL: optionalString,
  PGHOST: optionalString,
  PGPORT: port.optional(),
  PGDATABASE: optionalString,
  PGUSER: optionalString,
  PGPASSWORD: optionalString,
  PGSSLMODE: z.enum(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']).optional(),
  PGAPPNAME: optionalString,
  LAKEBASE_INSTANCE_NAME: optionalString,
  LAKEBASE_ENDPOINT: optionalString,
  LAKEBASE_DATABASE_NAME: optionalString,
  DATABRICKS_HOST: optionalString,
  STORAGE_FALLBACK: z.enum(['memory', 'fail']).default('memory'),
  DATABASE_POOL_SIZE: positiveInt.max(200).default(10),
  SLOW_QUERY_MS: positiveInt.default(500),

  // PostgreSQL ends a session left idle inside a transaction this long: an open transaction holds
  // every reader of the event log back.
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: positiveInt.max(3_600_000).default(10_000),

  // Event store tuning.
  EVENT_POLL_INTERVAL_MS: positiveInt.max(60_000).default(1_000),
  EVENT_NOTIFY_INTERVAL_MS: z.coerce.number().int().min(0).max(1_000).default(5),

  // HTTP API, identity and projections.
  ALLOW_DEMO_USER: booleanFlag.optional(),
  ANALYST_EMAILS: emailList,
  MAX_MESSAGE_BYTES: positiveInt.max(16 * 1024 * 1024).default(32 * 1024),
  HTTP_BODY_LIMIT_BYTES: positiveInt.max(64 * 1024 * 1024).default(256 * 1024),
  RATE_LIMIT_PER_SECOND: nonNegativeInt.default(50),
  RATE_LIMIT_BURST: positiveInt.default(200),
  PROJECTION_WAIT_TIMEOUT_MS: positiveInt.max(120_000).default(5_000),
  PROJECTION_BATCH_SIZE: positiveInt.max(10_000).default(500),

  // `npm run bench` runs against this PostgreSQL (a superuser URL) instead of starting its own.
  BENCH_DATABASE_URL: optionalString,
});

export type Environment = z.infer<typeof environmentSchema>;

export interface Config {
  readonly env: Environment;
  readonly production: boolean;
  readonly host: string;
  readonly port: number;
  readonly logLevel: Environment['LOG_LEVEL'];
  /** `X-Demo-User` is trusted as the identity: by default only outside production. */
  readonly allowDemoUser: boolean;
}

export class ConfigError extends LakechatError {
  readonly variables: readonly string[];
  constructor(problems: readonly { variable: string; problem: string }[]) {
    super(
      'LAKECHAT_ERR_CONFIG_INVALID',
      `Invalid configuration: ${problems.map((p) => `${p.variable}: ${p.problem}`).join('; ')}`,
      { details: { variables: problems.map((p) => p.variable) } },
    );
    this.variables = problems.map((p) => p.variable);
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = environmentSchema.safeParse(env);
  if (!parsed.success) {
    // zod's messages describe the expectation, not the received value, so no secret is echoed.
    throw new ConfigError(
      parsed.error.issues.map((issue) => ({ variable: String(issue.path[0] ?? '(environment)'), problem: issue.message })),
    );
  }
  const values = parsed.data;
  const production = values.NODE_ENV === 'production' || values.DATABRICKS_APP_NAME !== undefined;
  return Object.freeze({
    env: Object.freeze(values),
    production,
    host: values.HOST,
    port: values.DATABRICKS_APP_PORT ?? values.PORT ?? 8000,
    logLevel: values.LOG_LEVEL,
    allowDemoUser: values.ALLOW_DEMO_USER ?? !production,
  });
}

export { booleanFlag, emailList, optionalString };
