import { sqlState } from '../event-store/index.ts';

/**
 * A read model's own code cannot take this event: its data does not match the projection's schema,
 * or a handler threw. Retrying cannot help; the runner parks the event for that read model.
 */
export class UnappliableEventError extends Error {
  override readonly name = 'UnappliableEventError';

  constructor(
    readonly projection: string,
    /** What to record: `SchemaMismatch: ...`, or the thrown error's name and message. */
    readonly reason: string,
    options: { cause: unknown },
  ) {
    super(`projection ${projection} cannot apply the event: ${reason}`, options);
  }
}

/** Why an event was parked, for the record: the SQLSTATE or error name, and the message (no secrets: values of the event at most). */
export function parkReason(error: unknown): string {
  if (error instanceof UnappliableEventError) return error.reason.slice(0, 500);
  const code = sqlState(error);
  const name = error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  return `${code ?? name}: ${message}`.slice(0, 500);
}

/** A schema failure in one line (zod lists its issues; the first few say enough). */
export function schemaMismatch(projection: string, error: unknown): UnappliableEventError {
  const issues = (error as { issues?: { path?: unknown[]; message?: string }[] }).issues;
  const summary = Array.isArray(issues)
    ? issues
        .slice(0, 3)
        .map((issue) => `${(issue.path ?? []).join('.') || '(data)'}: ${issue.message ?? ''}`)
        .join('; ')
    : error instanceof Error
      ? error.message
      : String(error);
  return new UnappliableEventError(projection, `SchemaMismatch: the event's data does not match its schema (${summary})`, { cause: error });
}

/** A handler (the projection's code, not the database) threw. */
export function handlerFailure(projection: string, error: unknown): UnappliableEventError {
  if (error instanceof UnappliableEventError) return error;
  return new UnappliableEventError(projection, parkReason(error), { cause: error });
}
