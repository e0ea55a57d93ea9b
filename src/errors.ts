/**
 * The error catalogue: every error lakechat reports to a client, an operator or a script has a
 * stable code, an HTTP status and a message here. Clients branch on `code`, never on `message`.
 * docs/errors.md documents each code; a test keeps the two in step.
 */

export interface ErrorSpec {
  readonly status: number;
  readonly message: string;
}

export const errorCatalogue = {
  // Configuration (start-up)
  LAKECHAT_ERR_CONFIG_INVALID: { status: 500, message: 'Invalid configuration' },

  // Event store
  LAKECHAT_ERR_STORE_WRONG_EXPECTED_VERSION: {
    status: 409,
    message: 'The stream is not at the expected version',
  },
  LAKECHAT_ERR_STORE_EVENT_ID_CONFLICT: {
    status: 409,
    message: 'An event id of this append is already stored with different content or stream',
  },
  LAKECHAT_ERR_STORE_INVALID_CURSOR: { status: 400, message: 'The cursor is not one this store issued' },
  LAKECHAT_ERR_STORE_INVALID_APPEND: { status: 400, message: 'The append is malformed' },
  LAKECHAT_ERR_STORE_UNAVAILABLE: { status: 503, message: 'The event store is unavailable' },
  LAKECHAT_ERR_STORE_CLOSED: { status: 503, message: 'The event store is closed' },
  LAKECHAT_ERR_STORE_CONTENDED: {
    status: 503,
    message: 'Other writers kept appending to this stream first; retry the append',
  },

  // Migrations
  LAKECHAT_ERR_MIGRATION_FAILED: { status: 500, message: 'The database migrations failed' },

  // Lakebase connection (start-up, token refresh, doctor)
  LAKECHAT_ERR_LAKEBASE_WORKSPACE_AUTH_FAILED: {
    status: 503,
    message: 'The Databricks SDK could not authenticate to the workspace',
  },
  LAKECHAT_ERR_LAKEBASE_INSTANCE_LOOKUP_FAILED: {
    status: 503,
    message: 'The Lakebase instance could not be looked up',
  },
  LAKECHAT_ERR_LAKEBASE_ENDPOINT_LOOKUP_FAILED: {
    status: 503,
    message: 'The Lakebase Autoscaling endpoint could not be looked up',
  },
  LAKECHAT_ERR_LAKEBASE_USER_LOOKUP_FAILED: {
    status: 503,
    message: 'The PostgreSQL user could not be found from the workspace identity',
  },
  LAKECHAT_ERR_LAKEBASE_CREDENTIAL_FAILED: {
    status: 503,
    message: 'No database token could be obtained from the workspace',
  },
  LAKECHAT_ERR_LAKEBASE_CONNECT_FAILED: { status: 503, message: 'The database could not be reached' },
  LAKECHAT_ERR_LAKEBASE_LOGIN_FAILED: { status: 503, message: 'The database refused the login' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof errorCatalogue;

/** The root of every error lakechat raises on purpose. `cause` keeps the driver's error, if any. */
export class LakechatError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: ErrorCode,
    message?: string,
    options: { details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message ?? errorCatalogue[code].message, options.cause === undefined ? {} : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.statusCode = errorCatalogue[code].status;
    this.details = options.details;
  }

  /** The client-facing body; never includes `cause` or a stack. */
  toJSON(): { code: ErrorCode; message: string; details?: Readonly<Record<string, unknown>> } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export function isLakechatError(error: unknown, code?: ErrorCode): error is LakechatError {
  return error instanceof LakechatError && (code === undefined || error.code === code);
}
