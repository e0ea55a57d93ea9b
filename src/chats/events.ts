import { z } from 'zod';
import { isTombstone } from '../event-store/index.ts';
import { safeJsonObject, safeText } from '../safe-text.ts';

/**
 * The events of a chat stream, schema version 1. Every event carries the chat id the client knows,
 * so a subscriber of a user's whole log can tell which chat an event belongs to.
 */

export const chatIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'a chat id is 1 to 128 letters, digits, ".", "_" or "-", starting with a letter or digit');
export const chatTitleSchema = safeText().trim().min(1).max(200);
export const agentIdSchema = safeText().min(1).max(200);
export const messageRoleSchema = z.enum(['user', 'assistant', 'system', 'tool']);
export const clientMessageIdSchema = safeText().min(1).max(200);
export const traceIdSchema = safeText().min(1).max(200);
export const traceSummarySchema = safeJsonObject();
export const messageContentSchema = safeText();

export const defaultChatTitle = 'New Chat';

export const ChatStarted = z.object({
  chatId: chatIdSchema,
  userEmail: safeText(),
  title: chatTitleSchema,
  agentId: agentIdSchema.nullable(),
});

export const ChatRenamed = z.object({
  chatId: chatIdSchema,
  title: chatTitleSchema,
});

export const MessagePosted = z.object({
  chatId: chatIdSchema,
  messageId: z.uuid(),
  /** 1, 2, 3... among the chat's messages; decided with the chat's state, so it has no gaps. */
  position: z.number().int().min(1),
  role: messageRoleSchema,
  content: messageContentSchema,
  clientMessageId: clientMessageIdSchema.optional(),
  traceId: traceIdSchema.optional(),
  traceSummary: traceSummarySchema.optional(),
});

export const ChatDeleted = z.object({
  chatId: chatIdSchema,
});

export const chatEventSchemas = { ChatStarted, ChatRenamed, MessagePosted, ChatDeleted } as const;

export type ChatStartedData = z.infer<typeof ChatStarted>;
export type ChatRenamedData = z.infer<typeof ChatRenamed>;
export type MessagePostedData = z.infer<typeof MessagePosted>;
export type ChatDeletedData = z.infer<typeof ChatDeleted>;
export type MessageRole = z.infer<typeof messageRoleSchema>;

export type ChatEvent =
  | { type: 'ChatStarted'; data: ChatStartedData }
  | { type: 'ChatRenamed'; data: ChatRenamedData }
  | { type: 'MessagePosted'; data: MessagePostedData }
  | { type: 'ChatDeleted'; data: ChatDeletedData };

export type ChatEventType = ChatEvent['type'];
export const chatEventTypes = Object.keys(chatEventSchemas) as ChatEventType[];

/** Reads a stored event as a chat event, checking its data; null for a type that is not a chat's. */
export function parseChatEvent(event: { type: string; data: unknown }): ChatEvent | null {
  // An erased event (a tombstone) folds into nothing: the stream keeps only its version.
  if (isTombstone(event.data)) return null;
  switch (event.type) {
    case 'ChatStarted':
      return { type: event.type, data: ChatStarted.parse(event.data) };
    case 'ChatRenamed':
      return { type: event.type, data: ChatRenamed.parse(event.data) };
    case 'MessagePosted':
      return { type: event.type, data: MessagePosted.parse(event.data) };
    case 'ChatDeleted':
      return { type: event.type, data: ChatDeleted.parse(event.data) };
    default:
      return null;
  }
}
