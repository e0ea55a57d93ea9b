import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BackendTerminatedError, BackendTerminatedUnexpectedlyError, ConnectionError } from 'slonik';
import { type ErrorCode, isLakechatError, LakechatError } from '../errors.ts';

/** The one shape of every error body: `{ "error": { "code", "message", "details"? } }`. */
export interface ErrorEnvelope {
  error: { code: ErrorCode; message: string; details?: Readonly<Record<string, unknown>> };
}

const fastifyCodes: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'LAKECHAT_ERR_HTTP_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'LAKECHAT_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_JSON_BODY: 'LAKECHAT_ERR_HTTP_INVALID_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'LAKECHAT_ERR_HTTP_INVALID_JSON',
  FST_ERR_MAX_PARAM_LENGTH: 'LAKECHAT_ERR_HTTP_URI_TOO_LONG',
  FST_ERR_BAD_URL: 'LAKECHAT_ERR_HTTP_BAD_REQUEST',
};

// SQLSTATEs and socket errors that mean "the database cannot be reached now", not "this request is wrong".
const unavailableCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006', '53300']);

function isStorageUnavailable(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++) {
    if (current instanceof ConnectionError || current instanceof BackendTerminatedError || current instanceof BackendTerminatedUnexpectedlyError) return true;
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && unavailableCodes.has(code)) return true;
  }
  return false;
}

/** Any error, as the client may see it: a catalogue error, a fastify error translated, or a generic 500. */
export function toClientError(error: unknown): LakechatError {
  if (isLakechatError(error)) return error;
  if (isStorageUnavailable(error)) return new LakechatError('LAKECHAT_ERR_STORE_UNAVAILABLE', undefined, { cause: error });
  const fastifyError = error as Partial<FastifyError>;
  if (typeof fastifyError.code === 'string') {
    const code = fastifyCodes[fastifyError.code];
    if (code !== undefined) return new LakechatError(code, undefined, { cause: error });
  }
  // The JSON parser throws a SyntaxError with status 400 on a malformed body.
  if (error instanceof SyntaxError && fastifyError.statusCode === 400) return new LakechatError('LAKECHAT_ERR_HTTP_INVALID_JSON', undefined, { cause: error });
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return new LakechatError('LAKECHAT_ERR_HTTP_BAD_REQUEST', undefined, { cause: error });
  }
  return new LakechatError('LAKECHAT_ERR_HTTP_INTERNAL', undefined, { cause: error });
}

export function sendError(reply: FastifyReply, error: LakechatError): FastifyReply {
  if (error.code === 'LAKECHAT_ERR_HTTP_RATE_LIMITED' && typeof error.details?.retryAfterSeconds === 'number') {
    void reply.header('retry-after', String(error.details.retryAfterSeconds));
  }
  if (error.statusCode === 503) void reply.header('retry-after', '1');
  if (error.code === 'LAKECHAT_ERR_HTTP_PRECONDITION_FAILED' && typeof error.details?.currentVersion === 'number') {
    void reply.header('etag', `"${error.details.currentVersion}"`);
  }
  const envelope: ErrorEnvelope = { error: error.toJSON() };
  return reply.code(error.statusCode).type('application/json; charset=utf-8').send(envelope);
}

function logRefusal(request: FastifyRequest, error: unknown, clientError: LakechatError): void {
  if (clientError.statusCode >= 500) {
    request.log.error({ err: error, code: clientError.code }, 'request failed');
  } else {
    request.log.info({ code: clientError.code, status: clientError.statusCode }, 'request refused');
  }
}

/**
 * For fastify's `frameworkErrors`: what the router refuses before any route runs (a path segment
 * longer than `maxParamLength`, malformed percent-encoding), in the envelope.
 */
export function answerFrameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const clientError = toClientError(error);
  logRefusal(request, error, clientError);
  void sendError(reply, clientError);
}

const clientErrorCodes: Readonly<Record<string, ErrorCode>> = {
  ERR_HTTP_REQUEST_TIMEOUT: 'LAKECHAT_ERR_HTTP_REQUEST_TIMEOUT',
  HPE_HEADER_OVERFLOW: 'LAKECHAT_ERR_HTTP_HEADERS_TOO_LARGE',
};

/**
 * For fastify's `clientErrorHandler`: what Node's HTTP parser refuses before fastify sees a request
 * (headers too large, a malformed request, a client too slow to send it). Written on the socket as
 * it is, in the envelope, and the connection closed. Logged at debug: a scanner's noise pages no one.
 */
export function answerClientError(this: FastifyInstance, error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const code = clientErrorCodes[error.code ?? ''] ?? 'LAKECHAT_ERR_HTTP_BAD_REQUEST';
  const clientError = new LakechatError(code);
  this.log.debug({ code, parserCode: error.code }, 'client error before a request');
  if (socket.writable) {
    const body = JSON.stringify({ error: clientError.toJSON() } satisfies ErrorEnvelope);
    socket.write(
      `HTTP/1.1 ${clientError.statusCode} ${STATUS_CODES[clientError.statusCode] ?? 'Error'}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

/**
 * Every error leaves in the envelope with a catalogue code: ours, fastify's own (bad JSON, body too
 * large, media type, unknown route) and anything unexpected, which is logged and answered with a
 * generic 500 that says nothing of the server's internals.
 */
export function installErrorEnvelope(app: FastifyInstance): void {
  // An empty body with a JSON content type (a DELETE from many clients) is no body, not an error.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  // The API speaks JSON only: anything else is a 415, not a string for the schema to refuse.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    parseJson(request, text, done);
  });

  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    // A client that hangs up mid-body fails the body's stream with ECONNRESET: not the database's.
    if (request.raw.readableAborted && !isLakechatError(error)) {
      request.log.info({ code: 'LAKECHAT_ERR_HTTP_CLIENT_CLOSED' }, 'the client closed the connection before sending the whole request');
      return sendError(reply, new LakechatError('LAKECHAT_ERR_HTTP_CLIENT_CLOSED'));
    }
    let clientError = toClientError(error);
    if (clientError.code === 'LAKECHAT_ERR_HTTP_BODY_TOO_LARGE') {
      clientError = new LakechatError(clientError.code, undefined, { details: { maxBytes: request.routeOptions.bodyLimit }, cause: error });
    }
    logRefusal(request, error, clientError);
    return sendError(reply, clientError);
  });

  app.setNotFoundHandler((request, reply) => {
    return sendError(reply, new LakechatError('LAKECHAT_ERR_HTTP_ROUTE_NOT_FOUND', undefined, { details: { method: request.method, url: request.url.split('?')[0]!.slice(0, 200) } }));
  });
}
