import type { EventMetadata } from '../event-store/index.ts';

/** Who is acting, and through which request: recorded in every event's metadata. */
export interface CommandContext {
  /** The acting user's email. */
  actor: string;
  /** The request id (`X-Request-Id` from the Databricks Apps proxy when it sends one). */
  correlationId: string;
  /** The event or message that caused this command, when there is one. */
  causationId?: string | undefined;
  /** The client: its user agent, or "ws" for the WebSocket transport. */
  client: string;
}

export function metadataOf(context: CommandContext): EventMetadata {
  const metadata: EventMetadata = { actor: context.actor, correlationId: context.correlationId, client: context.client };
  if (context.causationId !== undefined) metadata.causationId = context.causationId;
  return metadata;
}
