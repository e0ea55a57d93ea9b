import { describe, expect, it } from 'vitest';
import type { ChatEvent } from '../../src/chats/events.ts';
import { evolveChat } from '../../src/chats/evolve.ts';
import { initialChatState } from '../../src/chats/state.ts';

const fold = (...events: ChatEvent[]) => events.reduce(evolveChat, initialChatState);
const started: ChatEvent = { type: 'ChatStarted', data: { chatId: 'c1', userEmail: 'a@x.com', title: 'Budget', agentId: 'advisor' } };
const posted = (position: number): ChatEvent => ({
  type: 'MessagePosted',
  data: { chatId: 'c1', messageId: '00000000-0000-4000-8000-000000000001', position, role: 'user', content: 'x' },
});

describe('evolving a chat', () => {
  it('starts absent at version 0', () => {
    expect(fold()).toEqual({ status: 'absent', version: 0, chatId: null, owner: null, title: null, agentId: null, messageCount: 0 });
  });

  it('becomes active with its owner, title and agent when started', () => {
    expect(fold(started)).toEqual({ status: 'active', version: 1, chatId: 'c1', owner: 'a@x.com', title: 'Budget', agentId: 'advisor', messageCount: 0 });
  });

  it('takes the new title when renamed', () => {
    expect(fold(started, { type: 'ChatRenamed', data: { chatId: 'c1', title: 'Taxes' } }).title).toBe('Taxes');
  });

  it('counts messages by their positions and moves the version with every event', () => {
    const state = fold(started, posted(1), posted(2), { type: 'ChatRenamed', data: { chatId: 'c1', title: 'T' } }, posted(3));
    expect(state.messageCount).toBe(3);
    expect(state.version).toBe(5);
  });

  it('is deleted for good once deleted, keeping what it was', () => {
    const state = fold(started, posted(1), { type: 'ChatDeleted', data: { chatId: 'c1' } });
    expect(state).toMatchObject({ status: 'deleted', version: 3, title: 'Budget', messageCount: 1 });
  });
});
