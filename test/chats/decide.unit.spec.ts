import { describe, expect, it } from 'vitest';
import type { ChatCommand } from '../../src/chats/commands.ts';
import { decideChat } from '../../src/chats/decide.ts';
import type { ChatEvent } from '../../src/chats/events.ts';
import { evolveChat } from '../../src/chats/evolve.ts';
import { initialChatState } from '../../src/chats/state.ts';
import { decider } from './given-when-then.ts';

const policy = { maxMessageBytes: 16 };
const given = decider<typeof initialChatState, ChatEvent, ChatCommand>({
  initial: initialChatState,
  evolve: evolveChat,
  decide: (state, command) => decideChat(state, command, policy),
});

const started: ChatEvent = { type: 'ChatStarted', data: { chatId: 'c1', userEmail: 'a@x.com', title: 'Budget', agentId: null } };
const deleted: ChatEvent = { type: 'ChatDeleted', data: { chatId: 'c1' } };
const posted = (position: number): ChatEvent => ({
  type: 'MessagePosted',
  data: { chatId: 'c1', messageId: '00000000-0000-4000-8000-00000000000' + position, position, role: 'user', content: `m${position}` },
});
const messageId = '11111111-1111-4111-8111-111111111111';

describe('deciding chat commands', () => {
  describe('StartChat', () => {
    it('starts a chat that does not exist, titled "New Chat" with no agent by default', () => {
      given()
        .when({ type: 'StartChat', chatId: 'c1', owner: 'a@x.com' })
        .then([{ type: 'ChatStarted', data: { chatId: 'c1', userEmail: 'a@x.com', title: 'New Chat', agentId: null } }]);
    });

    it('starts a chat with the title and agent given', () => {
      given()
        .when({ type: 'StartChat', chatId: 'c1', owner: 'a@x.com', title: 'Taxes', agentId: 'advisor' })
        .then([{ type: 'ChatStarted', data: { chatId: 'c1', userEmail: 'a@x.com', title: 'Taxes', agentId: 'advisor' } }]);
    });

    it('treats starting the same chat again as a retry that changes nothing', () => {
      given(started).when({ type: 'StartChat', chatId: 'c1', owner: 'a@x.com', title: 'Budget' }).then([]);
    });

    it('refuses to start a chat whose id is taken by a different chat', () => {
      given(started).when({ type: 'StartChat', chatId: 'c1', owner: 'a@x.com', title: 'Other' }).thenFailsWith('LAKECHAT_ERR_CHAT_ALREADY_EXISTS');
    });

    it('refuses to start a chat again once it is deleted', () => {
      given(started, deleted).when({ type: 'StartChat', chatId: 'c1', owner: 'a@x.com', title: 'Budget' }).thenFailsWith('LAKECHAT_ERR_CHAT_DELETED');
    });
  });

  describe('RenameChat', () => {
    it('renames a chat', () => {
      given(started)
        .when({ type: 'RenameChat', title: 'Retirement' })
        .then([{ type: 'ChatRenamed', data: { chatId: 'c1', title: 'Retirement' } }]);
    });

    it('changes nothing when the title is already the one asked for', () => {
      given(started).when({ type: 'RenameChat', title: 'Budget' }).then([]);
    });

    it('does not find a chat that was never started', () => {
      given().when({ type: 'RenameChat', title: 'x' }).thenFailsWith('LAKECHAT_ERR_CHAT_NOT_FOUND');
    });

    it('refuses to rename a deleted chat', () => {
      given(started, deleted).when({ type: 'RenameChat', title: 'x' }).thenFailsWith('LAKECHAT_ERR_CHAT_DELETED');
    });
  });

  describe('PostMessage', () => {
    it('posts the first message at position 1', () => {
      given(started)
        .when({ type: 'PostMessage', messageId, role: 'user', content: 'hello' })
        .then([{ type: 'MessagePosted', data: { chatId: 'c1', messageId, position: 1, role: 'user', content: 'hello' } }]);
    });

    it('numbers messages after the ones already posted, whatever else happened in between', () => {
      given(started, posted(1), { type: 'ChatRenamed', data: { chatId: 'c1', title: 'T' } }, posted(2))
        .when({ type: 'PostMessage', messageId, role: 'assistant', content: 'hi', clientMessageId: 'k1', traceId: 't1', traceSummary: { steps: 2 } })
        .then([
          {
            type: 'MessagePosted',
            data: { chatId: 'c1', messageId, position: 3, role: 'assistant', content: 'hi', clientMessageId: 'k1', traceId: 't1', traceSummary: { steps: 2 } },
          },
        ]);
    });

    it('does not find a chat that was never started', () => {
      given().when({ type: 'PostMessage', messageId, role: 'user', content: 'x' }).thenFailsWith('LAKECHAT_ERR_CHAT_NOT_FOUND');
    });

    it('refuses a message to a deleted chat', () => {
      given(started, posted(1), deleted).when({ type: 'PostMessage', messageId, role: 'user', content: 'x' }).thenFailsWith('LAKECHAT_ERR_CHAT_DELETED');
    });

    it('refuses content larger than the limit, counted in UTF-8 bytes', () => {
      given(started)
        .when({ type: 'PostMessage', messageId, role: 'user', content: 'x'.repeat(16) })
        .then([{ type: 'MessagePosted', data: { chatId: 'c1', messageId, position: 1, role: 'user', content: 'x'.repeat(16) } }]);
      // Six characters, eighteen bytes.
      given(started).when({ type: 'PostMessage', messageId, role: 'user', content: '€€€€€€' }).thenFailsWith('LAKECHAT_ERR_CHAT_MESSAGE_TOO_LARGE');
    });
  });

  describe('DeleteChat', () => {
    it('deletes a chat', () => {
      given(started, posted(1)).when({ type: 'DeleteChat' }).then([deleted]);
    });

    it('does not find a chat that was never started', () => {
      given().when({ type: 'DeleteChat' }).thenFailsWith('LAKECHAT_ERR_CHAT_NOT_FOUND');
    });

    it('refuses to delete a chat twice', () => {
      given(started, deleted).when({ type: 'DeleteChat' }).thenFailsWith('LAKECHAT_ERR_CHAT_DELETED');
    });
  });

  it('never changes the state it decides on', () => {
    const state = Object.freeze([started, posted(1)].reduce(evolveChat, initialChatState));
    decideChat(state, { type: 'PostMessage', messageId, role: 'user', content: 'x' }, policy);
    expect(state.messageCount).toBe(1);
  });
});
