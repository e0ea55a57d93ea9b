/** What deciding a chat command needs to know: never the messages themselves, only their count. */
export interface ChatState {
  readonly status: 'absent' | 'active' | 'deleted';
  /** The stream's version: how many events have been folded in. */
  readonly version: number;
  readonly chatId: string | null;
  readonly owner: string | null;
  readonly title: string | null;
  readonly agentId: string | null;
  readonly messageCount: number;
}

export const initialChatState: ChatState = Object.freeze({
  status: 'absent',
  version: 0,
  chatId: null,
  owner: null,
  title: null,
  agentId: null,
  messageCount: 0,
});
