/**
 * Two app instances on one event store: each keeps its own cache of stream states, so each is often
 * stale about what the other wrote. The store's optimistic concurrency must keep every write right.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AppUnderTest } from '../http/app-under-test.ts';

export function describeTwoInstances(name: string, open: () => Promise<[AppUnderTest, AppUnderTest, () => Promise<void>]>): void {
  describe(`two instances on one store (${name})`, () => {
    let a: AppUnderTest;
    let b: AppUnderTest;
    let close: () => Promise<void>;
    beforeEach(async () => {
      [a, b, close] = await open();
    });
    afterEach(async () => {
      await close();
    });
    const user = 'ana@example.com';

    it('numbers messages without gaps or repeats when posts alternate and race between instances', async () => {
      expect((await a.as(user, 'POST', '/api/chats', { body: { id: 'c' } })).statusCode).toBe(201);
      for (let i = 0; i < 6; i++) {
        const via = i % 2 === 0 ? a : b;
        expect((await via.as(user, 'POST', '/api/chats/c/messages', { body: { content: `seq ${i}` } })).statusCode).toBe(201);
      }
      const racing = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).as(user, 'POST', '/api/chats/c/messages', { body: { content: `race ${i}` } })));
      expect(racing.map((response) => response.statusCode)).toEqual(Array(10).fill(201));
      const positions = racing.map((response) => response.json().position).sort((x: number, y: number) => x - y);
      expect(positions).toEqual([7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
      const { events } = await a.store.readAll();
      for (const instance of [a, b]) {
        // Each instance promised its own writes; the other's it shows once its runner has passed them.
        await instance.app.lakechat.projections.runner.waitFor(events[events.length - 1]!.cursor);
        const messages = (await instance.as(user, 'GET', '/api/chats/c/messages?limit=100')).json().messages as { position: number }[];
        expect(messages.map((m) => m.position)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
      }
    });

    it('refuses a stale If-Match even when this instance never saw the change', async () => {
      await a.as(user, 'POST', '/api/chats', { body: { id: 'c', title: 'One' } });
      expect((await b.as(user, 'PATCH', '/api/chats/c', { body: { title: 'Two' }, headers: { 'if-match': '"1"' } })).statusCode).toBe(200);
      const stale = await a.as(user, 'PATCH', '/api/chats/c', { body: { title: 'Three' }, headers: { 'if-match': '"1"' } });
      expect(stale.statusCode).toBe(412);
      expect(stale.json().error.details.currentVersion).toBe(2);
    });

    it('sees a chat started on the other instance, and refuses posts once the other deleted it', async () => {
      await a.as(user, 'POST', '/api/chats', { body: { id: 'c' } });
      expect((await b.as(user, 'POST', '/api/chats/c/messages', { body: { content: 'hi' } })).statusCode).toBe(201);
      // a caches the chat as active, then b deletes it
      expect((await a.as(user, 'POST', '/api/chats/c/messages', { body: { content: 'again' } })).statusCode).toBe(201);
      expect((await b.as(user, 'DELETE', '/api/chats/c')).statusCode).toBe(204);
      const late = await a.as(user, 'POST', '/api/chats/c/messages', { body: { content: 'late' } });
      expect(late.statusCode).toBe(409);
      expect(late.json().error.code).toBe('LAKECHAT_ERR_CHAT_DELETED');
    });

    it('posts a clientMessageId once even when retried on both instances at once', async () => {
      await a.as(user, 'POST', '/api/chats', { body: { id: 'c' } });
      const attempts = await Promise.all(
        Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? a : b).as(user, 'POST', '/api/chats/c/messages', { body: { content: 'once', clientMessageId: 'k' } })),
      );
      expect(attempts.filter((r) => r.statusCode === 201)).toHaveLength(1);
      expect(attempts.filter((r) => r.statusCode === 200)).toHaveLength(5);
      expect(new Set(attempts.map((r) => r.json().message.id)).size).toBe(1);
      const { events } = await a.store.readAll({ types: ['MessagePosted'] });
      expect(events).toHaveLength(1);
    });
  });
}
