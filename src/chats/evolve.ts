import type { ChatEvent } from './events.ts';
import type { ChatState } from './state.ts';

/** Folds one event of the chat's stream into its state. Pure; every event moves the version by one. */
export function evolveChat(state: ChatState, event: ChatEvent): ChatState {
  const version = state.version + 1;
  switch (event.type) {
    case 'ChatStarted':
      return {
        status: 'active',
        version,
        chatId: event.data.chatId,
        owner: event.data.userEmail,
        title: event.data.title,
        agentId: event.data.agentId,
        messageCount: 0,
      };
    case 'ChatRenamed':
      return { ...state, version, title: event.data.title };
    case 'MessagePosted':
      return { ...state, version, messageCount: Math.max(state.messageCount, event.data.position) };
    case 'ChatDeleted':
      return { ...state, version, status: 'deleted' };
  }
}
