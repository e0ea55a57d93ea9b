import { z } from 'zod';
import { chatIdSchema, messageRoleSchema, postMessageInput, renameChatInput, startChatInput } from '../../chats/index.ts';
import { LakechatError } from '../../errors.ts';
import { nameCursor } from '../../event-store/index.ts';
import type { ChatListKey, ChatRow, MessageRow } from '../../projection-runner/index.ts';
import { safeJsonInput } from '../../safe-text.ts';

/** What the chat routes accept and return; the same schemas describe them in /openapi.json. */

const timestamp = z.iso.datetime().describe('ISO 8601, UTC');

export const chatView = z.object({
  id: chatIdSchema,
  title: z.string(),
  agentId: z.string().nullable(),
  createdAt: timestamp,
  updatedAt: timestamp.describe('The last change; the list shows the most recently changed chat first'),
  messageCount: z.number().int(),
  lastMessage: z.object({ role: messageRoleSchema, preview: z.string(), at: timestamp }).nullable(),
  version: z.number().int().describe('The chat stream version; also the ETag'),
});

export const messageView = z.object({
  id: z.uuid(),
  chatId: chatIdSchema,
  position: z.number().int().describe('1, 2, 3... within the chat'),
  role: messageRoleSchema,
  content: z.string(),
  clientMessageId: z.string().nullable(),
  traceId: z.string().nullable(),
  traceSummary: z.record(z.string(), z.unknown()).nullable(),
  createdAt: timestamp,
  cursor: z.string().describe('The event cursor: resume a live subscription after this message'),
});

export const chatListView = z.object({
  chats: z.array(chatView),
  next: z.string().nullable().describe('Pass as `after` for the next page; null on the last page'),
});

export const chatWithMessagesView = chatView.extend({
  messages: z.array(messageView),
  messagesNext: z.number().int().nullable().describe('Pass as `after` to /messages for the rest; null when all are here'),
});

export const messagePageView = z.object({
  messages: z.array(messageView),
  next: z.number().int().nullable(),
});

export const postedMessageView = z.object({
  message: messageView,
  position: z.number().int(),
  cursor: z.string(),
  version: z.number().int().describe('The chat stream version right after this message was posted'),
  duplicate: z.boolean().describe('True when the clientMessageId was posted before: this is the original message'),
});

export const deletedChatsView = z.object({ deleted: z.number().int() });

export const chatParams = z.object({ chatId: chatIdSchema });

export const createChatBody = startChatInput.optional().transform((body) => body ?? {});
export const renameChatBody = renameChatInput;
// The edge checks the whole trace summary, whatever its depth; stored events keep the older, shallower check.
export const postMessageBody = postMessageInput.extend({ traceSummary: safeJsonInput().optional() });

export const listChatsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
  after: z.string().max(400).optional(),
});

export const listMessagesQuery = z.object({
  after: z.coerce.number().int().min(0).default(0).describe('Messages after this position'),
  limit: z.coerce.number().int().min(1).max(1_000).default(200),
});

export const chatMessagesInline = 500;

export function toChatView(row: ChatRow): z.infer<typeof chatView> {
  return {
    id: row.chatId,
    title: row.title,
    agentId: row.agentId,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    messageCount: row.messageCount,
    lastMessage: row.lastMessage === null ? null : { role: row.lastMessage.role, preview: row.lastMessage.preview, at: row.lastMessage.at },
    version: row.version,
  };
}

/** `storeId`: the store's name, given to a cursor stored bare (before cursors named their store, or by a rebuild). */
export function toMessageView(row: MessageRow, storeId: string | null = null): z.infer<typeof messageView> {
  return {
    id: row.messageId,
    chatId: row.chatId,
    position: row.position,
    role: row.role,
    content: row.content,
    clientMessageId: row.clientMessageId,
    traceId: row.traceId,
    traceSummary: row.traceSummary,
    createdAt: row.createdAt,
    cursor: nameCursor(row.cursor, storeId),
  };
}

const pageTokenPattern = /^p(\d{1,15})$/;

/** The list's page token: where the last chat of a page stands in the order. Opaque to clients. */
export function encodeChatListKey(key: ChatListKey): string {
  return Buffer.from(`p${key.lastPosition}`, 'utf8').toString('base64url');
}

export function decodeChatListKey(token: string): ChatListKey {
  const match = pageTokenPattern.exec(Buffer.from(token, 'base64url').toString('utf8'));
  if (match === null) {
    throw new LakechatError('LAKECHAT_ERR_HTTP_VALIDATION', undefined, {
      details: { issues: [{ path: 'query.after', code: 'invalid_format', message: 'not a page token this API issued' }] },
    });
  }
  return { lastPosition: Number(match[1]) };
}
