/**
 * The chat routes' specification, end to end through the whole app. Run over the in-memory store and
 * over PostgreSQL by the spec files beside this one: both must behave identically.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chatListView, chatView, chatWithMessagesView, messagePageView, postedMessageView } from '../../src/http/routes/chat-schemas.ts';
import type { AppUnderTest } from '../http/app-under-test.ts';

const alice = 'alice@example.com';
const bob = 'bob@example.com';

export function describeChatRoutes(name: string, open: () => Promise<AppUnderTest>): void {
  describe(`chat routes (${name})`, () => {
    let t: AppUnderTest;
    beforeEach(async () => {
      t = await open();
    });
    afterEach(async () => {
      await t.close();
    });

    const createChat = async (user: string, body: Record<string, unknown> = {}) => {
      const response = await t.as(user, 'POST', '/api/chats', { body });
      expect(response.statusCode, response.body).toBe(201);
      return chatView.parse(response.json());
    };
    const post = (user: string, chatId: string, body: Record<string, unknown>) => t.as(user, 'POST', `/api/chats/${chatId}/messages`, { body });

    describe('starting chats', () => {
      it('starts a chat titled "New Chat" by default, with an ETag and a Location', async () => {
        const response = await t.as(alice, 'POST', '/api/chats');
        expect(response.statusCode).toBe(201);
        const chat = chatView.parse(response.json());
        expect(chat).toMatchObject({ title: 'New Chat', agentId: null, messageCount: 0, lastMessage: null, version: 1 });
        expect(response.headers.etag).toBe('"1"');
        expect(response.headers.location).toBe(`/api/chats/${chat.id}`);
      });

      it('starts a chat with the id, title and agent given', async () => {
        const chat = await createChat(alice, { id: 'budget-2026', title: '  Budget  ', agentId: 'advisor' });
        expect(chat).toMatchObject({ id: 'budget-2026', title: 'Budget', agentId: 'advisor' });
      });

      it('returns the chat with 200 when the same chat is started again, and 409 when the id is taken by another', async () => {
        await createChat(alice, { id: 'c1', title: 'Budget' });
        const again = await t.as(alice, 'POST', '/api/chats', { body: { id: 'c1', title: 'Budget' } });
        expect(again.statusCode).toBe(200);
        expect(again.json()).toMatchObject({ id: 'c1', title: 'Budget', version: 1 });
        const other = await t.as(alice, 'POST', '/api/chats', { body: { id: 'c1', title: 'Taxes' } });
        expect(other.statusCode).toBe(409);
        expect(other.json().error.code).toBe('LAKECHAT_ERR_CHAT_ALREADY_EXISTS');
      });

      it('refuses bad ids, empty titles and unknown fields with the zod issues', async () => {
        const response = await t.as(alice, 'POST', '/api/chats', { body: { id: '../etc', title: '', colour: 'red' } });
        expect(response.statusCode).toBe(400);
        const error = response.json().error;
        expect(error.code).toBe('LAKECHAT_ERR_HTTP_VALIDATION');
        expect(error.details.issues.map((issue: { path: string }) => issue.path).sort()).toEqual(['body', 'body.id', 'body.title']);
      });
    });

    describe('listing chats', () => {
      it("lists only the user's own chats, most recently active first, with count and preview", async () => {
        const first = await createChat(alice, { title: 'First' });
        const second = await createChat(alice, { title: 'Second' });
        await createChat(bob, { title: 'Bob' });
        expect((await post(alice, first.id, { content: 'x'.repeat(300) })).statusCode).toBe(201);
        const list = chatListView.parse((await t.as(alice, 'GET', '/api/chats')).json());
        expect(list.chats.map((chat) => chat.title)).toEqual(['First', 'Second']);
        expect(list.chats[0]).toMatchObject({ id: first.id, messageCount: 1, lastMessage: { role: 'user', preview: 'x'.repeat(200) } });
        expect(list.chats[1]!.id).toBe(second.id);
        expect(list.next).toBeNull();
      });

      it('pages through the list with the next token, each chat exactly once', async () => {
        const ids = [];
        for (let i = 0; i < 7; i++) ids.push((await createChat(alice, { title: `Chat ${i}` })).id);
        const seen: string[] = [];
        let after: string | null = null;
        do {
          const response = await t.as(alice, 'GET', `/api/chats?limit=3${after === null ? '' : `&after=${after}`}`);
          const page = chatListView.parse(response.json());
          expect(page.chats.length).toBeLessThanOrEqual(3);
          seen.push(...page.chats.map((chat) => chat.id));
          after = page.next;
        } while (after !== null);
        expect(seen).toEqual([...ids].reverse());
      });

      it('refuses a page token it did not issue', async () => {
        const response = await t.as(alice, 'GET', '/api/chats?after=bm9wZQ');
        expect(response.statusCode).toBe(400);
        expect(response.json().error.code).toBe('LAKECHAT_ERR_HTTP_VALIDATION');
      });
    });

    describe('posting messages', () => {
      it('posts a message and answers 201 with the message, its position, cursor and the new ETag', async () => {
        const chat = await createChat(alice);
        const response = await post(alice, chat.id, { role: 'user', content: 'How much should I save?', traceId: 't-1', traceSummary: { tools: 2 } });
        expect(response.statusCode).toBe(201);
        const posted = postedMessageView.parse(response.json());
        expect(posted).toMatchObject({ position: 1, version: 2, duplicate: false });
        expect(posted.message).toMatchObject({ chatId: chat.id, position: 1, role: 'user', content: 'How much should I save?', traceId: 't-1', traceSummary: { tools: 2 } });
        expect(posted.cursor).toBe(posted.message.cursor);
        expect(response.headers.etag).toBe('"2"');
        const read = messagePageView.parse((await t.as(alice, 'GET', `/api/chats/${chat.id}/messages`)).json());
        expect(read.messages).toEqual([posted.message]);
      });

      it('numbers messages 1, 2, 3 in the order they were posted', async () => {
        const chat = await createChat(alice);
        for (const content of ['a', 'b', 'c']) expect((await post(alice, chat.id, { content })).statusCode).toBe(201);
        const page = messagePageView.parse((await t.as(alice, 'GET', `/api/chats/${chat.id}/messages`)).json());
        expect(page.messages.map((m) => [m.position, m.content])).toEqual([
          [1, 'a'],
          [2, 'b'],
          [3, 'c'],
        ]);
      });

      it('returns the original message, never a second one, when a clientMessageId is posted again', async () => {
        const chat = await createChat(alice);
        const first = await post(alice, chat.id, { content: 'once', clientMessageId: 'k-1' });
        expect(first.statusCode).toBe(201);
        await post(alice, chat.id, { content: 'between' });
        const retries = await Promise.all([1, 2, 3].map(() => post(alice, chat.id, { content: 'once', clientMessageId: 'k-1' })));
        for (const retry of retries) {
          expect(retry.statusCode).toBe(200);
          expect(retry.json()).toEqual({ ...first.json(), duplicate: true });
        }
        const messages = messagePageView.parse((await t.as(alice, 'GET', `/api/chats/${chat.id}/messages`)).json()).messages;
        expect(messages.map((m) => m.content)).toEqual(['once', 'between']);
      });

      it('posts each of many concurrent first attempts of one clientMessageId exactly once', async () => {
        const chat = await createChat(alice);
        const responses = await Promise.all(Array.from({ length: 8 }, () => post(alice, chat.id, { content: 'x', clientMessageId: 'same' })));
        expect(responses.filter((r) => r.statusCode === 201)).toHaveLength(1);
        expect(responses.filter((r) => r.statusCode === 200)).toHaveLength(7);
        expect((await t.as(alice, 'GET', `/api/chats/${chat.id}`)).json().messageCount).toBe(1);
      });

      it('refuses content over the limit with 413, counted in UTF-8 bytes', async () => {
        const chat = await createChat(alice);
        const ok = await post(alice, chat.id, { content: 'x'.repeat(32 * 1024) });
        expect(ok.statusCode).toBe(201);
        const tooLarge = await post(alice, chat.id, { content: '€'.repeat(11_000) });
        expect(tooLarge.statusCode).toBe(413);
        expect(tooLarge.json().error).toMatchObject({ code: 'LAKECHAT_ERR_CHAT_MESSAGE_TOO_LARGE', details: { bytes: 33_000, maxBytes: 32_768 } });
      });

      it('refuses a body over the body limit with 413 before reading it', async () => {
        const chat = await createChat(alice);
        const response = await post(alice, chat.id, { content: 'x'.repeat(300 * 1024) });
        expect(response.statusCode).toBe(413);
        expect(response.json().error.code).toBe('LAKECHAT_ERR_HTTP_BODY_TOO_LARGE');
      });

      it('refuses an unknown role and empty content', async () => {
        const chat = await createChat(alice);
        const response = await post(alice, chat.id, { role: 'narrator', content: '' });
        expect(response.statusCode).toBe(400);
        expect(
          response
            .json()
            .error.details.issues.map((issue: { path: string }) => issue.path)
            .sort(),
        ).toEqual(['body.content', 'body.role']);
      });

      it('refuses the NUL character, which PostgreSQL cannot store, anywhere in a message', async () => {
        const chat = await createChat(alice);
        for (const body of [{ content: 'a\u0000b' }, { content: 'ok', traceSummary: { deep: [{ 'k\u0000': 1 }] } }, { content: 'ok', clientMessageId: '\u0000' }]) {
          const response = await post(alice, chat.id, body);
          expect(response.statusCode, JSON.stringify(body)).toBe(400);
          expect(response.json().error.code).toBe('LAKECHAT_ERR_HTTP_VALIDATION');
        }
        expect((await t.as(alice, 'GET', `/api/chats/${chat.id}`)).json().messageCount).toBe(0);
      });

      it('refuses unpaired surrogates (text that is not Unicode) anywhere, so no message can stall the read models', async () => {
        const chat = await createChat(alice);
        for (const body of [{ content: 'a\ud800b' }, { content: 'ok', traceSummary: { deep: [{ 'k\udc00': 1 }] } }, { content: 'ok', traceId: '\udbff' }]) {
          const response = await post(alice, chat.id, body);
          expect(response.statusCode, JSON.stringify(body)).toBe(400);
          expect(response.json().error.code).toBe('LAKECHAT_ERR_HTTP_VALIDATION');
        }
        const renamed = await t.as(alice, 'PATCH', `/api/chats/${chat.id}`, { body: { title: 'x\ud800' } });
        expect(renamed.statusCode).toBe(400);
        // A whole surrogate pair is a character like any other.
        expect((await post(alice, chat.id, { content: 'emoji \ud83d\ude00' })).statusCode).toBe(201);
        expect((await t.as(alice, 'GET', `/api/chats/${chat.id}`)).json().lastMessage.preview).toBe('emoji \ud83d\ude00');
      });

      it('answers 404 for a chat that does not exist', async () => {
        const response = await post(alice, 'nope', { content: 'x' });
        expect(response.statusCode).toBe(404);
        expect(response.json().error.code).toBe('LAKECHAT_ERR_CHAT_NOT_FOUND');
      });
    });

    describe('reading a chat', () => {
      it('returns the chat with its messages and its ETag', async () => {
        const chat = await createChat(alice, { title: 'T' });
        await post(alice, chat.id, { content: 'q' });
        await post(alice, chat.id, { role: 'assistant', content: 'a' });
        const response = await t.as(alice, 'GET', `/api/chats/${chat.id}`);
        expect(response.statusCode).toBe(200);
        expect(response.headers.etag).toBe('"3"');
        const body = chatWithMessagesView.parse(response.json());
        expect(body).toMatchObject({ id: chat.id, title: 'T', messageCount: 2, version: 3, messagesNext: null, lastMessage: { role: 'assistant', preview: 'a' } });
        expect(body.messages.map((m) => m.role)).toEqual(['user', 'assistant']);
      });

      it('pages through messages with after and limit', async () => {
        const chat = await createChat(alice);
        for (let i = 1; i <= 5; i++) await post(alice, chat.id, { content: `m${i}` });
        const first = messagePageView.parse((await t.as(alice, 'GET', `/api/chats/${chat.id}/messages?limit=2`)).json());
        expect(first.messages.map((m) => m.content)).toEqual(['m1', 'm2']);
        expect(first.next).toBe(2);
        const rest = messagePageView.parse((await t.as(alice, 'GET', `/api/chats/${chat.id}/messages?after=2&limit=10`)).json());
        expect(rest.messages.map((m) => m.content)).toEqual(['m3', 'm4', 'm5']);
        expect(rest.next).toBeNull();
        const bad = await t.as(alice, 'GET', `/api/chats/${chat.id}/messages?limit=0`);
        expect(bad.statusCode).toBe(400);
      });
    });

    describe('renaming and deleting', () => {
      it('renames a chat, honouring If-Match, and fails a stale one with 412 and the current version', async () => {
        const chat = await createChat(alice, { title: 'Old' });
        const renamed = await t.as(alice, 'PATCH', `/api/chats/${chat.id}`, { body: { title: 'New' }, headers: { 'if-match': '"1"' } });
        expect(renamed.statusCode).toBe(200);
        expect(renamed.json()).toMatchObject({ title: 'New', version: 2 });
        expect(renamed.headers.etag).toBe('"2"');
        const stale = await t.as(alice, 'PATCH', `/api/chats/${chat.id}`, { body: { title: 'Newer' }, headers: { 'if-match': '"1"' } });
        expect(stale.statusCode).toBe(412);
        expect(stale.json().error).toMatchObject({ code: 'LAKECHAT_ERR_HTTP_PRECONDITION_FAILED', details: { currentVersion: 2 } });
        expect(stale.headers.etag).toBe('"2"');
        expect((await t.as(alice, 'GET', `/api/chats/${chat.id}`)).json().title).toBe('New');
      });

      it('refuses an If-Match it cannot read', async () => {
        const chat = await createChat(alice);
        const response = await t.as(alice, 'PATCH', `/api/chats/${chat.id}`, { body: { title: 'x' }, headers: { 'if-match': 'W/"1"' } });
        expect(response.statusCode).toBe(400);
        expect(response.json().error.code).toBe('LAKECHAT_ERR_HTTP_INVALID_IF_MATCH');
      });

      it('deletes a chat: it disappears, and accepts nothing more', async () => {
        const chat = await createChat(alice);
        await post(alice, chat.id, { content: 'x' });
        const stale = await t.as(alice, 'DELETE', `/api/chats/${chat.id}`, { headers: { 'if-match': '"1"' } });
        expect(stale.statusCode).toBe(412);
        const deleted = await t.as(alice, 'DELETE', `/api/chats/${chat.id}`, { headers: { 'if-match': '"2"', 'content-type': 'application/json' } });
        expect(deleted.statusCode).toBe(204);
        expect(deleted.body).toBe('');
        expect((await t.as(alice, 'GET', `/api/chats/${chat.id}`)).statusCode).toBe(404);
        expect((await t.as(alice, 'GET', '/api/chats')).json().chats).toEqual([]);
        const posting = await post(alice, chat.id, { content: 'late' });
        expect(posting.statusCode).toBe(409);
        expect(posting.json().error.code).toBe('LAKECHAT_ERR_CHAT_DELETED');
        expect((await t.as(alice, 'PATCH', `/api/chats/${chat.id}`, { body: { title: 'x' } })).statusCode).toBe(409);
        expect((await t.as(alice, 'POST', '/api/chats', { body: { id: chat.id } })).statusCode).toBe(409);
      });

      it("deletes all of the user's chats and no one else's", async () => {
        for (let i = 0; i < 12; i++) await createChat(alice);
        const bobs = await createChat(bob);
        const response = await t.as(alice, 'DELETE', '/api/chats');
        expect(response.statusCode).toBe(200);
        expect(response.json()).toEqual({ deleted: 12 });
        expect((await t.as(alice, 'GET', '/api/chats')).json().chats).toEqual([]);
        expect((await t.as(bob, 'GET', '/api/chats')).json().chats.map((c: { id: string }) => c.id)).toEqual([bobs.id]);
      });
    });

    describe('authorization', () => {
      it("cannot read, change or even detect another user's chat: every answer is the missing chat's", async () => {
        const chat = await createChat(alice, { id: 'secret', title: 'Alice' });
        await post(alice, chat.id, { content: 'private' });
        const missing = await Promise.all([
          t.as(bob, 'GET', '/api/chats/never-existed'),
          t.as(bob, 'GET', '/api/chats/never-existed/messages'),
          t.as(bob, 'PATCH', '/api/chats/never-existed', { body: { title: 'x' } }),
          t.as(bob, 'DELETE', '/api/chats/never-existed'),
          post(bob, 'never-existed', { content: 'x' }),
        ]);
        const probes = await Promise.all([
          t.as(bob, 'GET', '/api/chats/secret'),
          t.as(bob, 'GET', '/api/chats/secret/messages'),
          t.as(bob, 'PATCH', '/api/chats/secret', { body: { title: 'x' } }),
          t.as(bob, 'DELETE', '/api/chats/secret'),
          post(bob, 'secret', { content: 'x' }),
        ]);
        for (const [i, probe] of probes.entries()) {
          expect(probe.statusCode).toBe(404);
          expect(probe.body).toBe(missing[i]!.body);
        }
        expect((await t.as(bob, 'GET', '/api/chats')).json().chats).toEqual([]);
        const after = chatWithMessagesView.parse((await t.as(alice, 'GET', '/api/chats/secret')).json());
        expect(after).toMatchObject({ title: 'Alice', messageCount: 1, version: 2 });
      });

      it('lets two users use the same chat id without either noticing the other', async () => {
        await createChat(alice, { id: 'shared', title: 'Alice' });
        const bobs = await t.as(bob, 'POST', '/api/chats', { body: { id: 'shared', title: 'Bob' } });
        expect(bobs.statusCode).toBe(201);
        await post(bob, 'shared', { content: 'bob speaking' });
        expect((await t.as(alice, 'GET', '/api/chats/shared')).json()).toMatchObject({ title: 'Alice', messageCount: 0 });
        expect((await t.as(bob, 'GET', '/api/chats/shared')).json()).toMatchObject({ title: 'Bob', messageCount: 1 });
      });

      it('answers 401 on every chat route without an identity', async () => {
        const chat = await createChat(alice);
        const routes: [string, string][] = [
          ['GET', '/api/chats'],
          ['POST', '/api/chats'],
          ['DELETE', '/api/chats'],
          ['GET', `/api/chats/${chat.id}`],
          ['PATCH', `/api/chats/${chat.id}`],
          ['DELETE', `/api/chats/${chat.id}`],
          ['POST', `/api/chats/${chat.id}/messages`],
          ['GET', `/api/chats/${chat.id}/messages`],
        ];
        for (const [method, url] of routes) {
          const response = await t.as(null, method, url, { body: { content: 'x', title: 'x' } });
          expect(response.statusCode, `${method} ${url}`).toBe(401);
          expect(response.json().error.code).toBe('LAKECHAT_ERR_AUTH_MISSING_IDENTITY');
        }
        expect((await t.as(alice, 'GET', `/api/chats/${chat.id}`)).json().version).toBe(1);
      });
    });

    describe('read your writes', () => {
      it('shows every write in the very next read, under many concurrent requests', async () => {
        const chats = await Promise.all(Array.from({ length: 4 }, (_, i) => createChat(`user${i}@example.com`, { id: 'c' })));
        expect(chats).toHaveLength(4);
        const writers = Array.from({ length: 24 }, async (_, n) => {
          const user = `user${n % 4}@example.com`;
          const posted = await post(user, 'c', { content: `message ${n}` });
          expect(posted.statusCode).toBe(201);
          const { message } = postedMessageView.parse(posted.json());
          const read = chatWithMessagesView.parse((await t.as(user, 'GET', '/api/chats/c')).json());
          expect(read.messages.map((m) => m.id)).toContain(message.id);
          expect(read.messageCount).toBeGreaterThanOrEqual(message.position);
          const listed = chatListView.parse((await t.as(user, 'GET', '/api/chats')).json());
          expect(listed.chats[0]!.messageCount).toBeGreaterThanOrEqual(message.position);
        });
        await Promise.all(writers);
        for (let u = 0; u < 4; u++) {
          const messages = messagePageView.parse((await t.as(`user${u}@example.com`, 'GET', '/api/chats/c/messages')).json()).messages;
          expect(messages.map((m) => m.position)).toEqual([1, 2, 3, 4, 5, 6]);
        }
      });
    });

    describe('events', () => {
      it('records who acted, the request id and the client on every event, owned by the user', async () => {
        const response = await t.as(alice, 'POST', '/api/chats', { body: { id: 'audited' }, headers: { 'x-request-id': 'req-42', 'user-agent': 'finance-ui/1.0' } });
        expect(response.headers['x-request-id']).toBe('req-42');
        const { events } = await t.store.readAll({ owner: alice });
        expect(events).toHaveLength(1);
        expect(events[0]).toMatchObject({
          type: 'ChatStarted',
          owner: alice,
          data: { chatId: 'audited', userEmail: alice, title: 'New Chat', agentId: null },
          metadata: { actor: alice, correlationId: 'req-42', client: 'finance-ui/1.0' },
        });
      });
    });
  });
}
