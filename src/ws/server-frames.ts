import type { LakechatError } from '../errors.ts';
import type { RecordedEvent } from '../event-store/index.ts';

/**
 * The frames the server sends, serialized here. An event fanned out to many subscriptions is the
 * same object for all of them (the store's live tail shares it), so its JSON is built once and only
 * the subscription id differs from one socket to the next.
 */

const eventBodies = new WeakMap<RecordedEvent, string>();

function eventBody(event: RecordedEvent): string {
  let body = eventBodies.get(event);
  if (body === undefined) {
    const json = JSON.stringify({
      position: event.position,
      cursor: event.cursor,
      streamId: event.streamId,
      version: event.version,
      eventType: event.type,
      data: event.data,
      recordedAt: event.recordedAt.toISOString(),
    });
    body = json.slice(1); // without its opening brace: the frame's own fields come first
    eventBodies.set(event, body);
  }
  return body;
}

export function eventFrame(subscription: string, event: RecordedEvent): string {
  return `{"type":"event","subscription":${JSON.stringify(subscription)},${eventBody(event)}`;
}

export function caughtUpFrame(subscription: string, cursor: string | null): string {
  return JSON.stringify({ type: 'caught_up', subscription, cursor });
}

/** The instance moved from its memory fallback to PostgreSQL; the subscription goes on, each event once. */
export function storeChangedFrame(subscription: string): string {
  return JSON.stringify({ type: 'store_changed', subscription, storage: 'postgres' });
}

export function unsubscribedFrame(subscription: string): string {
  return JSON.stringify({ type: 'unsubscribed', subscription });
}

export interface Ack {
  id: string;
  messageId: string;
  /** The message's position in its chat (1, 2, 3...), as the HTTP API reports it. */
  position: number;
  cursor: string;
  version: number;
  duplicate: boolean;
}

export function ackFrame(ack: Ack): string {
  return JSON.stringify({ type: 'ack', ...ack });
}

export interface RelayedSignal {
  chatId: string;
  kind: 'typing' | 'delta';
  data: Record<string, unknown>;
}

export function signalFrameFor(subscription: string, signal: RelayedSignal): string {
  return JSON.stringify({ type: 'signal', subscription, chatId: signal.chatId, kind: signal.kind, data: signal.data });
}

export function pongFrame(id: string | undefined): string {
  return id === undefined ? '{"type":"pong"}' : JSON.stringify({ type: 'pong', id });
}

export function errorFrame(error: LakechatError, id?: string): string {
  const body = error.toJSON();
  return JSON.stringify(id === undefined ? { type: 'error', ...body } : { type: 'error', id, ...body });
}
