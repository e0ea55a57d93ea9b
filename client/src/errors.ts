/**
 * Every failure the client reports: `code` is the server's stable error code (docs/errors.md) when
 * the server gave one, else one of the client's own (docs/client.md):
 * - LAKECHAT_CLIENT_CLOSED: the client was closed (client.close(), or it stopped on a close code);
 * - LAKECHAT_CLIENT_NETWORK: an HTTP request got no answer;
 * - LAKECHAT_CLIENT_BAD_RESPONSE: an HTTP answer that is not the API's JSON;
 * - LAKECHAT_CLIENT_CONNECTION_REFUSED: the server closed the WebSocket with a "do not reconnect" code
 *   and no error code as reason.
 */
export class LakechatClientError extends Error {
  override readonly name = 'LakechatClientError';
  readonly code: string;
  /** The HTTP status, for REST calls. */
  readonly status: number | undefined;
  /** The WebSocket close code, when the server closed the connection for good. */
  readonly closeCode: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, extra: { status?: number; closeCode?: number; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.code = code;
    this.status = extra.status;
    this.closeCode = extra.closeCode;
    this.details = extra.details;
  }
}
