import type { MessageRole } from './events.ts';

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
