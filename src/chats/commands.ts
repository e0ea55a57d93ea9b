import { z } from 'zod';
import {
  agentIdSchema,
  chatIdSchema,
  chatTitleSchema,
  clientMessageIdSchema,
  type MessageRole,
  messageContentSchema,
  messageRoleSchema,
  traceIdSchema,
  traceSummarySchema,
} from './events.ts';

/**
 * What a client may send, whatever the transport: the routes and the WebSocket transport validate
 * with these, and so does the ChatService itself, so no path reaches `decide` unchecked.
 */
export const startChatInput = z.strictObject({ id: chatIdSchema.optional(), title: chatTitleSchema.optional(), agentId: agentIdSchema.nullable().optional() });
export const renameChatInput = z.strictObject({ title: chatTitleSchema });
export const postMessageInput = z.strictObject({
  role: messageRoleSchema.default('user'),
  content: messageContentSchema.min(1),
  clientMessageId: clientMessageIdSchema.optional(),
  traceId: traceIdSchema.optional(),
  traceSummary: traceSummarySchema.optional(),
});

/** What a user (or an agent acting for them) asks of a chat. Imperative names; events are past tense. */
export type ChatCommand =
  | { type: 'StartChat'; chatId: string; owner: string; title?: string | undefined; agentId?: string | null | undefined }
  | { type: 'RenameChat'; title: string }
  | {
      type: 'PostMessage';
      messageId: string;
      role: MessageRole;
      content: string;
      clientMessageId?: string | undefined;
      traceId?: string | undefined;
      traceSummary?: Record<string, unknown> | undefined;
    }
  | { type: 'DeleteChat' };

export interface ChatPolicy {
  /** Largest message content accepted, in UTF-8 bytes. */
  maxMessageBytes: number;
}
