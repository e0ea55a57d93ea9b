import { chatsReadModel } from './chats.ts';
import { messagesReadModel } from './messages.ts';
import { profileHistoryReadModel } from './profile-history.ts';
import { profilesReadModel } from './profiles.ts';

/**
 * THE list of read models, by the name the services read them under, in the order they are applied.
 * The runner, the rebuild, the status command and the contract suite all take it from here.
 */
export const readModelList = {
  chats: chatsReadModel,
  messages: messagesReadModel,
  profiles: profilesReadModel,
  profileHistory: profileHistoryReadModel,
} as const;
