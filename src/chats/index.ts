export { ChatService, type ChatServiceOptions, type PostedMessage, type PostMessageInput, type StartChatInput } from './chat-service.ts';
export { type ChatCommand, type ChatPolicy, postMessageInput, renameChatInput, startChatInput } from './commands.ts';
export { decideChat } from './decide.ts';
export {
  type ChatEvent,
  type ChatEventType,
  chatEventTypes,
  chatIdSchema,
  MessagePosted,
  type MessagePostedData,
  type MessageRole,
  messageRoleSchema,
  parseChatEvent,
} from './events.ts';
export { evolveChat } from './evolve.ts';
export { defaultMessageReadBounds, type MessageReadBounds, MessageReads, messageReadBoundsFrom } from './message-reads.ts';
export { type ChatState, initialChatState } from './state.ts';
export { chatStreamId, chatStreamPrefix } from './stream-id.ts';
