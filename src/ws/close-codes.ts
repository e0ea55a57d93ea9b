import type { ErrorCode } from '../errors.ts';

/**
 * Why the server closes a connection. The number alone tells a client what to do, without reading
 * the reason (which is the stable error code):
 * - 4000-4099 and 1012: reconnect (with backoff) and resume every subscription from its last cursor;
 * - 4400-4499: do not reconnect until something changes (identity, origin, other connections);
 *   the last two digits echo the HTTP status;
 * - 1008 and 1009 (standard): the client broke a rule; fix it before reconnecting.
 */
export const closeCodes = {
  /** The server is shutting down or redeploying (standard "service restart"). */
  serverRestarting: 1012,
  /** The client stayed past the send buffer cap for longer than the stuck timeout. */
  slowConsumer: 4001,
  /** The client did not answer a heartbeat ping within an interval. */
  heartbeatMissed: 4002,
  /** No identity on the upgrade request, or a malformed one. */
  noIdentity: 4401,
  /** The upgrade came from a browser origin that is not allowed. */
  forbiddenOrigin: 4403,
  /** The user already has as many connections to this instance as allowed. */
  tooManyConnections: 4429,
  /** Standard "policy violation": too many rejected frames. */
  policyViolation: 1008,
  /** Standard "message too big": sent by the ws library when a frame exceeds WS_MAX_PAYLOAD_BYTES. */
  messageTooBig: 1009,
} as const;

export type CloseCode = (typeof closeCodes)[keyof typeof closeCodes];

export interface CloseReason {
  code: CloseCode;
  reason: ErrorCode;
}

export const closeReasons = {
  serverRestarting: { code: closeCodes.serverRestarting, reason: 'LAKECHAT_ERR_WS_SERVER_RESTARTING' },
  slowConsumer: { code: closeCodes.slowConsumer, reason: 'LAKECHAT_ERR_WS_SLOW_CONSUMER' },
  heartbeatMissed: { code: closeCodes.heartbeatMissed, reason: 'LAKECHAT_ERR_WS_HEARTBEAT_MISSED' },
  missingIdentity: { code: closeCodes.noIdentity, reason: 'LAKECHAT_ERR_AUTH_MISSING_IDENTITY' },
  invalidIdentity: { code: closeCodes.noIdentity, reason: 'LAKECHAT_ERR_AUTH_INVALID_IDENTITY' },
  forbiddenOrigin: { code: closeCodes.forbiddenOrigin, reason: 'LAKECHAT_ERR_WS_FORBIDDEN_ORIGIN' },
  tooManyConnections: { code: closeCodes.tooManyConnections, reason: 'LAKECHAT_ERR_WS_TOO_MANY_CONNECTIONS' },
  tooManyBadFrames: { code: closeCodes.policyViolation, reason: 'LAKECHAT_ERR_WS_TOO_MANY_BAD_FRAMES' },
} as const satisfies Record<string, CloseReason>;
