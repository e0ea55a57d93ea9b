import { LakechatError } from '../errors.ts';
import type { ChatCommand, ChatPolicy } from './commands.ts';
import { type ChatEvent, defaultChatTitle } from './events.ts';
import type { ChatState } from './state.ts';

function requireActive(state: ChatState): asserts state is ChatState & { status: 'active'; chatId: string } {
  if (state.status === 'absent') throw new LakechatError('LAKECHAT_ERR_CHAT_NOT_FOUND');
  if (state.status === 'deleted') throw new LakechatError('LAKECHAT_ERR_CHAT_DELETED');
}

/**
 * Decides what a command on a chat means, given the chat's state: the events to append (none when
 * the command changes nothing), or a typed error. Pure: no clock, no I/O.
 */
export function decideChat(state: ChatState, command: ChatCommand, policy: ChatPolicy): ChatEvent[] {
  switch (command.type) {
    case 'StartChat': {
      const title = command.title ?? defaultChatTitle;
      const agentId = command.agentId ?? null;
      if (state.status === 'deleted') throw new LakechatError('LAKECHAT_ERR_CHAT_DELETED');
      if (state.status === 'active') {
        // Starting the same chat again is a retry, not a conflict.
        if (state.title === title && state.agentId === agentId) return [];
        throw new LakechatError('LAKECHAT_ERR_CHAT_ALREADY_EXISTS', undefined, { details: { chatId: command.chatId } });
      }
      return [{ type: 'ChatStarted', data: { chatId: command.chatId, userEmail: command.owner, title, agentId } }];
    }
    case 'RenameChat': {
      requireActive(state);
      if (state.title === command.title) return [];
      return [{ type: 'ChatRenamed', data: { chatId: state.chatId, title: command.title } }];
    }
    case 'PostMessage': {
      requireActive(state);
      const bytes = Buffer.byteLength(command.content, 'utf8');
      if (bytes > policy.maxMessageBytes) {
        throw new LakechatError('LAKECHAT_ERR_CHAT_MESSAGE_TOO_LARGE', undefined, {
          details: { bytes, maxBytes: policy.maxMessageBytes },
        });
      }
      return [
        {
          type: 'MessagePosted',
          data: {
            chatId: state.chatId,
            messageId: command.messageId,
            position: state.messageCount + 1,
            role: command.role,
            content: command.content,
            ...(command.clientMessageId === undefined ? {} : { clientMessageId: command.clientMessageId }),
            ...(command.traceId === undefined ? {} : { traceId: command.traceId }),
            ...(command.traceSummary === undefined ? {} : { traceSummary: command.traceSummary }),
          },
        },
      ];
    }
    case 'DeleteChat': {
      requireActive(state);
      return [{ type: 'ChatDeleted', data: { chatId: state.chatId } }];
    }
  }
}
