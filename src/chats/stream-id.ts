import { nameBasedId } from '../name-based-id.ts';

export const chatStreamPrefix = 'chat-';

/**
 * A chat's stream id is derived from its owner and the chat id the client sees, so chat ids are
 * per user: two users may both have a chat "x", and no request can reveal that another user's chat
 * exists (there is nothing to collide with).
 */
export function chatStreamId(owner: string, chatId: string): string {
  return `${chatStreamPrefix}${nameBasedId(`chat\n${owner}\n${chatId}`)}`;
}

/** The event id of a message posted with a client message id: a retry appends the same event. */
export function clientMessageEventId(streamId: string, clientMessageId: string): string {
  return nameBasedId(`message\n${streamId}\n${clientMessageId}`);
}
