export { registerChatRoutes } from './routes.ts';
export { messageReadBoundsFrom, type MessageReadBounds } from './message-reads.ts';
export { ChatService, type ChatServiceOptions, type PostedMessage, type PostMessageInput, type StartChatInput } from './chat-service.ts';
export { postMessageInput, renameChatInput, startChatInput, type ChatCommand, type ChatPolicy } from './commands.ts';
export { decideChat } from './decide.ts';
export { evolveChat } from './evolve.ts';
export {
  chatEventTypes,
  chatIdSchema,
  parseChatEvent,
  type ChatEvent,
  type ChatEventType,
  type MessagePostedData,
  type MessageRole,
} from './events.ts';
export { initialChatState, type ChatState } from './state.ts';
export { chatStreamId, chatStreamPrefix } from './stream-id.ts';
