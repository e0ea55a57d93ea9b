import { BackendTerminatedError, BackendTerminatedUnexpectedlyError } from 'slonik';
import { redactSecrets } from '../logger.ts';

/** SQLSTATEs of a refused login: invalid_password, invalid_authorization_specification. */
const authenticationCodes = new Set(['28P01', '28000']);

/**
 * SQLSTATEs of a connection the server closed or could not keep: admin_shutdown, crash_shutdown,
 * cannot_connect_now (starting up, or a scaled-to-zero endpoint waking), connection_failure,
 * connection_does_not_exist, connection_exception; plus the socket's own resets.
 */
const connectionLostCodes = new Set(['57P01', '57P02', '57P03', '08006', '08003', '08000', 'ECONNRESET', 'EPIPE']);

/** The error and its causes, outermost first (Slonik wraps the driver's error in `cause`). */
function* causeChain(error: unknown): Generator<unknown> {
  let current = error;
  for (let depth = 0; depth < 8 && current !== undefined && current !== null; depth += 1) {
    yield current;
    current = (current as { cause?: unknown }).cause;
  }
}

/** Every SQLSTATE or socket code on the error and its causes, outermost first. */
export function errorCodes(error: unknown): string[] {
  const found: string[] = [];
  for (const link of causeChain(error)) {
    const code = (link as { code?: unknown }).code;
    if (typeof code === 'string') found.push(code);
  }
  return found;
}

/** The server refused the credentials (SQLSTATE 28P01 or 28000). */
export function isAuthenticationFailure(error: unknown): boolean {
  return errorCodes(error).some((code) => authenticationCodes.has(code));
}

/** The server dropped the connection, or could not take it right now. */
export function isConnectionLost(error: unknown): boolean {
  for (const link of causeChain(error)) {
    if (link instanceof BackendTerminatedError || link instanceof BackendTerminatedUnexpectedlyError) return true;
  }
  return errorCodes(error).some((code) => connectionLostCodes.has(code));
}

/** The innermost SQLSTATE or socket code, for logs and /health. */
export function databaseErrorCode(error: unknown): string | undefined {
  return errorCodes(error).at(-1);
}

/** One line about a database failure, safe to log: the SQLSTATE (or socket code) and the driver's message. */
export function describeDatabaseError(error: unknown): string {
  const links = [...causeChain(error)];
  const innermost = links.at(-1);
  const code = databaseErrorCode(error);
  // Node's AggregateError (every address of a host refused) has an empty message and a code.
  const message = innermost instanceof Error && innermost.message !== '' ? innermost.message : (code ?? String(innermost));
  return redactSecrets(code === undefined || message.includes(code) ? message : `${code}: ${message}`);
}
