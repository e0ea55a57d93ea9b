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
  LAKECHAT_ERR_STORE_INVALID_FILTER: { status: 400, message: 'A filter of the read is malformed (a position must be a whole number >= 0, a time a valid date)' },
  LAKECHAT_ERR_STORE_UNAVAILABLE: { status: 503, message: 'The event store is unavailable' },
  LAKECHAT_ERR_STORE_CLOSED: { status: 503, message: 'The event store is closed' },
  LAKECHAT_ERR_STORE_COPIED_LOG: {
    status: 503,
    message: 'The event log was copied from another PostgreSQL cluster; stop every instance and run: npm run repair:copied-log',
  },
  LAKECHAT_ERR_STORE_CONTENDED: {
    status: 503,
    message: 'Other writers kept appending to this stream first; retry the append',
  },

  // Identity
  LAKECHAT_ERR_AUTH_MISSING_IDENTITY: { status: 401, message: 'No user identity on the request' },
  LAKECHAT_ERR_AUTH_INVALID_IDENTITY: { status: 401, message: 'The user identity on the request is malformed' },

  // HTTP
  LAKECHAT_ERR_HTTP_VALIDATION: { status: 400, message: 'The request is invalid' },
  LAKECHAT_ERR_HTTP_INVALID_JSON: { status: 400, message: 'The request body is not valid JSON' },
  LAKECHAT_ERR_HTTP_BAD_REQUEST: { status: 400, message: 'The request is malformed' },
  LAKECHAT_ERR_HTTP_ROUTE_NOT_FOUND: { status: 404, message: 'No such route' },
  LAKECHAT_ERR_HTTP_INVALID_IF_MATCH: { status: 400, message: 'If-Match must be one strong entity tag (such as "3") or *' },
  LAKECHAT_ERR_HTTP_PRECONDITION_FAILED: { status: 412, message: 'The resource has changed since the version in If-Match' },
  LAKECHAT_ERR_HTTP_BODY_TOO_LARGE: { status: 413, message: 'The request body is too large' },
  LAKECHAT_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'The request body must be application/json' },
  LAKECHAT_ERR_HTTP_RATE_LIMITED: { status: 429, message: 'Too many requests; slow down' },
  LAKECHAT_ERR_HTTP_INTERNAL: { status: 500, message: 'Internal server error' },
  LAKECHAT_ERR_HTTP_URI_TOO_LONG: { status: 414, message: 'A segment of the request path is too long' },
  LAKECHAT_ERR_HTTP_HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are too large' },
  LAKECHAT_ERR_HTTP_REQUEST_TIMEOUT: { status: 408, message: 'The request was not received in time' },
  LAKECHAT_ERR_HTTP_CLIENT_CLOSED: { status: 400, message: 'The client closed the connection before sending the whole request' },

  // Chats
  LAKECHAT_ERR_CHAT_NOT_FOUND: { status: 404, message: 'No such chat' },
  LAKECHAT_ERR_CHAT_ALREADY_EXISTS: { status: 409, message: 'A chat with this id already exists' },
  LAKECHAT_ERR_CHAT_DELETED: { status: 409, message: 'The chat is deleted and accepts nothing more' },
  LAKECHAT_ERR_CHAT_MESSAGE_TOO_LARGE: { status: 413, message: 'The message content is too large' },

  // Profiles
  LAKECHAT_ERR_PROFILE_NOT_FOUND: { status: 404, message: 'No profile' },

  // Projections
  LAKECHAT_ERR_PROJECTION_TIMEOUT: {
    status: 503,
    message: 'The change was stored, but the read models did not catch up in time; retry the read shortly',
  },
  LAKECHAT_ERR_PROJECTION_STOPPED: { status: 503, message: 'The projections are not running' },

  // WebSocket transport: error frames, and close reasons (docs/protocol.md lists the close codes)
  LAKECHAT_ERR_WS_INVALID_JSON: { status: 400, message: 'The frame is not a JSON object' },
  LAKECHAT_ERR_WS_BINARY_FRAME: { status: 400, message: 'Frames must be JSON text, not binary' },
  LAKECHAT_ERR_WS_UNKNOWN_TYPE: { status: 400, message: 'Unknown frame type' },
  LAKECHAT_ERR_WS_INVALID_FRAME: { status: 400, message: 'The frame has missing or invalid fields' },
  LAKECHAT_ERR_WS_RATE_LIMITED: { status: 429, message: 'Too many frames of this type on this connection; slow down' },
  LAKECHAT_ERR_WS_TOO_MANY_SUBSCRIPTIONS: { status: 429, message: 'This connection has as many subscriptions as it may' },
  LAKECHAT_ERR_WS_DUPLICATE_SUBSCRIPTION: { status: 409, message: 'A subscription with this id is already open on this connection' },
  LAKECHAT_ERR_WS_UNKNOWN_SUBSCRIPTION: { status: 404, message: 'No open subscription has this id' },
  LAKECHAT_ERR_WS_FORBIDDEN_SCOPE: { status: 403, message: 'The "all" scope is for analysts only' },
  LAKECHAT_ERR_WS_SIGNAL_TOO_LARGE: { status: 413, message: 'The signal is too large to relay' },
  LAKECHAT_ERR_WS_TOO_MANY_CONNECTIONS: { status: 429, message: 'This user has as many WebSocket connections as allowed' },
  LAKECHAT_ERR_WS_FORBIDDEN_ORIGIN: { status: 403, message: 'WebSocket connections from this origin are not allowed' },
  LAKECHAT_ERR_WS_TOO_MANY_BAD_FRAMES: { status: 400, message: 'Too many rejected frames; the connection is closed' },
  LAKECHAT_ERR_WS_SLOW_CONSUMER: { status: 503, message: 'The client stopped reading; reconnect and resume from the last cursor' },
  LAKECHAT_ERR_WS_HEARTBEAT_MISSED: { status: 408, message: 'The client did not answer the heartbeat' },
  LAKECHAT_ERR_WS_SERVER_RESTARTING: { status: 503, message: 'The server is restarting; reconnect and resume from the last cursor' },
  LAKECHAT_ERR_WS_INTERNAL: { status: 500, message: 'Internal server error' },

  // Replay (analysts) and projection rebuilds (developers)
  LAKECHAT_ERR_REPLAY_FORBIDDEN: { status: 403, message: 'Only analysts (ANALYST_EMAILS) may read the whole event log' },
  LAKECHAT_ERR_REPLAY_INVALID_ARGUMENT: { status: 400, message: 'An argument of the replay is invalid' },
  LAKECHAT_ERR_REPLAY_AS_OF_NOT_FOUND: { status: 404, message: 'No event is stored at the position given to --as-of' },
  LAKECHAT_ERR_REPLAY_INVALID_SCHEMA: { status: 400, message: 'The schema given to --into cannot hold an "as of" build' },
  LAKECHAT_ERR_REPLAY_NEEDS_DATABASE: { status: 503, message: 'This needs the PostgreSQL event store: configure a database (LAKEBASE_PG_URL, PGHOST or LAKEBASE_INSTANCE_NAME)' },
  LAKECHAT_ERR_REBUILD_IN_PROGRESS: { status: 409, message: 'Another process is already rebuilding this projection' },
  LAKECHAT_ERR_REBUILD_UNKNOWN_PROJECTION: { status: 400, message: 'No projection has this name' },
  LAKECHAT_ERR_REBUILD_LIVE_TABLE_MISSING: { status: 500, message: "A projection's live table does not exist: run the migrations (npm run migrate)" },
  LAKECHAT_ERR_REBUILD_SWAP_BLOCKED: { status: 409, message: 'Other database objects depend on a live table, so it cannot be replaced' },
  LAKECHAT_ERR_REBUILD_SWAP_TIMEOUT: { status: 503, message: 'The live tables stayed locked by other transactions; the rebuilt tables are kept: run the rebuild again' },
  LAKECHAT_ERR_REBUILD_INTERRUPTED: { status: 503, message: 'The rebuild was interrupted; run it again to resume where it stopped' },

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

  // Erasure (docs/privacy.md)
  LAKECHAT_ERR_ERASURE_IN_PROGRESS: {
    status: 409,
    message: "This user's data is being erased; writes are refused until the erasure completes (GET /api/me/erasure)",
  },
  LAKECHAT_ERR_ERASURE_NOT_FOUND: {
    status: 404,
    message: 'No erasure of yours is pending or running here; ask for a completed one by its id: GET /api/me/erasure?id=<erasureId>',
  },
  LAKECHAT_ERR_ERASURE_UNSUPPORTED: { status: 503, message: 'This event store cannot erase events' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof errorCatalogue;

/** The root of every error lakechat raises on purpose. `cause` keeps the driver's error, if any. */
export class LakechatError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message?: string, options: { details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message ?? errorCatalogue[code].message, options.cause === undefined ? {} : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.statusCode = errorCatalogue[code].status;
    this.details = options.details;
  }

  /** The client-facing body; never includes `cause` or a stack. */
  toJSON(): { code: ErrorCode; message: string; details?: Readonly<Record<string, unknown>> } {
    return this.details === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, details: this.details };
  }
}

export function isLakechatError(error: unknown, code?: ErrorCode): error is LakechatError {
  return error instanceof LakechatError && (code === undefined || error.code === code);
}
