/**
 * The read models' specification: the same events give the same reads in PostgreSQL and in memory.
 * Events are appended as the services append them; the runner projects them; the queries read them.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChatEvent } from '../../src/chats/events.ts';
import { chatStreamId } from '../../src/chats/stream-id.ts';
import type { RecordedEvent } from '../../src/event-store/index.ts';
import type { ProfileEvent } from '../../src/profiles/events.ts';
import { emptyProfileFields } from '../../src/profiles/fields.ts';
import { profileStreamId } from '../../src/profiles/stream-id.ts';
import type { ReadModelsUnderTest } from './harness.ts';

const alice = 'alice@example.com';
const bob = 'bob@example.com';
const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

export function describeReadModels(name: string, open: () => Promise<ReadModelsUnderTest>): void {
  describe(`read models (${name})`, () => {
    let subject: ReadModelsUnderTest;
    beforeEach(async () => {
      subject = await open();
    });
    afterEach(async () => {
      await subject.cleanup();
    });

    const appendChat = async (owner: string, chatId: string, events: ChatEvent[]) => {
      const result = await subject.store.append(
        chatStreamId(owner, chatId),
        events.map((event) => ({ type: event.type, data: event.data, metadata: { actor: owner } })),
        { owner },
      );
      await subject.runner.waitFor(result.cursor);
      return result;
    };
    const appendProfile = async (owner: string, events: ProfileEvent[], actor = owner) => {
      const result = await subject.store.append(
        profileStreamId(owner),
        events.map((event) => ({ type: event.type, data: event.data, metadata: { actor } })),
        { owner },
      );
      await subject.runner.waitFor(result.cursor);
      return result;
    };
    const started = (owner: string, chatId: string, title = 'New Chat'): ChatEvent => ({ type: 'ChatStarted', data: { chatId, userEmail: owner, title, agentId: null } });
    const posted = (chatId: string, position: number, content = `m${position}`, extra: object = {}): ChatEvent => ({
      type: 'MessagePosted',
      data: { chatId, messageId: id(position), position, role: position % 2 === 1 ? 'user' : 'assistant', content, ...extra },
    });
    const allEvents = async (): Promise<RecordedEvent[]> => (await subject.store.readAll()).events;

    describe('chats', () => {
      it('holds a started chat with its title, agent, times and version', async () => {
        await appendChat(alice, 'c1', [{ type: 'ChatStarted', data: { chatId: 'c1', userEmail: alice, title: 'Budget', agentId: 'advisor' } }]);
        const chat = await subject.readModels.chats.get(alice, 'c1');
        expect(chat).toMatchObject({ owner: alice, chatId: 'c1', title: 'Budget', agentId: 'advisor', messageCount: 0, lastMessage: null, version: 1 });
        const [event] = await allEvents();
        expect(chat!.createdAt).toBe(event!.recordedAt.toISOString());
        expect(chat!.updatedAt).toBe(chat!.createdAt);
      });

      it('counts messages and previews the last one in at most 200 characters', async () => {
        await appendChat(alice, 'c1', [started(alice, 'c1'), posted('c1', 1), posted('c1', 2, 'é'.repeat(250))]);
        const chat = await subject.readModels.chats.get(alice, 'c1');
        expect(chat).toMatchObject({ messageCount: 2, version: 3, lastMessage: { role: 'assistant', preview: 'é'.repeat(200) } });
      });

      it('takes a rename, and hides a deleted chat from get and list', async () => {
        await appendChat(alice, 'c1', [started(alice, 'c1', 'Old'), { type: 'ChatRenamed', data: { chatId: 'c1', title: 'New' } }]);
        expect((await subject.readModels.chats.get(alice, 'c1'))!.title).toBe('New');
        await appendChat(alice, 'c1', [{ type: 'ChatDeleted', data: { chatId: 'c1' } }]);
        expect(await subject.readModels.chats.get(alice, 'c1')).toBeNull();
        expect(await subject.readModels.chats.list(alice, { limit: 10 })).toEqual([]);
      });

      it("lists a user's chats by last activity, newest first, paged by key, and nobody else's", async () => {
        for (const chatId of ['a', 'b', 'c', 'd']) await appendChat(alice, chatId, [started(alice, chatId)]);
        await appendChat(bob, 'b', [started(bob, 'b')]);
        await appendChat(alice, 'b', [posted('b', 1)]);
        const all = await subject.readModels.chats.list(alice, { limit: 10 });
        expect(all.map((chat) => chat.chatId)).toEqual(['b', 'd', 'c', 'a']);
        const first = await subject.readModels.chats.list(alice, { limit: 2 });
        const last = first[first.length - 1]!;
        const rest = await subject.readModels.chats.list(alice, { limit: 10, after: { lastPosition: last.lastPosition } });
        expect([...first, ...rest].map((chat) => chat.chatId)).toEqual(['b', 'd', 'c', 'a']);
        expect((await subject.readModels.chats.list(bob, { limit: 10 })).map((chat) => chat.chatId)).toEqual(['b']);
        expect(await subject.readModels.chats.get(bob, 'a')).toBeNull();
      });
    });

    describe('messages', () => {
      it('holds every message of a chat in order, paged by position', async () => {
        await appendChat(alice, 'c1', [started(alice, 'c1'), posted('c1', 1, 'hello', { clientMessageId: 'k1', traceId: 't1', traceSummary: { tools: ['search'] } })]);
        await appendChat(alice, 'c1', [posted('c1', 2), posted('c1', 3)]);
        const streamId = chatStreamId(alice, 'c1');
        const messages = await subject.readModels.messages.list(streamId, { after: 0, limit: 10 });
        expect(messages.map((m) => [m.position, m.role, m.content])).toEqual([
          [1, 'user', 'hello'],
          [2, 'assistant', 'm2'],
          [3, 'user', 'm3'],
        ]);
        expect(messages[0]).toMatchObject({ owner: alice, chatId: 'c1', messageId: id(1), clientMessageId: 'k1', traceId: 't1', traceSummary: { tools: ['search'] } });
        const events = await allEvents();
        expect(messages.map((m) => m.cursor)).toEqual(events.filter((e) => e.type === 'MessagePosted').map((e) => e.cursor));
        expect((await subject.readModels.messages.list(streamId, { after: 1, limit: 1 })).map((m) => m.position)).toEqual([2]);
        expect(await subject.readModels.messages.get(streamId, 3)).toMatchObject({ content: 'm3' });
        expect(await subject.readModels.messages.get(streamId, 4)).toBeNull();
      });

      it("drops a deleted chat's messages", async () => {
        await appendChat(alice, 'c1', [started(alice, 'c1'), posted('c1', 1), { type: 'ChatDeleted', data: { chatId: 'c1' } }]);
        expect(await subject.readModels.messages.list(chatStreamId(alice, 'c1'), { after: 0, limit: 10 })).toEqual([]);
      });
    });

    describe('profiles and their history', () => {
      it('holds the current profile, and none once deleted', async () => {
        await appendProfile(alice, [{ type: 'ProfileUpdated', data: { userEmail: alice, changes: { dateOfBirth: '1990-07-01', annualIncome: 1234.5, financialGoals: ['a', 'b'] } } }]);
        await appendProfile(alice, [{ type: 'ProfileUpdated', data: { userEmail: alice, changes: { annualIncome: null, riskTolerance: 'aggressive', yearsEmployed: 1.5 } } }]);
        const profile = await subject.readModels.profiles.get(alice);
        expect(profile).toMatchObject({ owner: alice, version: 2 });
        expect(profile!.fields).toEqual({ ...emptyProfileFields, dateOfBirth: '1990-07-01', financialGoals: ['a', 'b'], riskTolerance: 'aggressive', yearsEmployed: 1.5 });
        expect(await subject.readModels.profiles.get(bob)).toBeNull();
        await appendProfile(alice, [{ type: 'ProfileDeleted', data: { userEmail: alice } }]);
        expect(await subject.readModels.profiles.get(alice)).toBeNull();
        await appendProfile(alice, [{ type: 'ProfileUpdated', data: { userEmail: alice, changes: { notes: 'again' } } }]);
        expect((await subject.readModels.profiles.get(alice))!.fields).toEqual({ ...emptyProfileFields, notes: 'again' });
      });

      it('records each change with old and new values, who made it, and when', async () => {
        await appendProfile(alice, [{ type: 'ProfileUpdated', data: { userEmail: alice, changes: { jobTitle: 'Analyst', numberOfDependents: 2 } } }]);
        await appendProfile(alice, [{ type: 'ProfileUpdated', data: { userEmail: alice, changes: { jobTitle: 'Manager', financialGoals: ['house'] } } }], 'advisor@example.com');
        await appendProfile(alice, [{ type: 'ProfileDeleted', data: { userEmail: alice } }]);
        await appendProfile(alice, [{ type: 'ProfileUpdated', data: { userEmail: alice, changes: {} } }]);
        const history = await subject.readModels.profileHistory.list(alice, { after: 0, limit: 10 });
        expect(history.map(({ version, kind, changes, actor }) => ({ version, kind, changes, actor }))).toEqual([
          {
            version: 1,
            kind: 'created',
            actor: alice,
            changes: [
              { field: 'numberOfDependents', from: null, to: 2 },
              { field: 'jobTitle', from: null, to: 'Analyst' },
            ],
          },
          {
            version: 2,
            kind: 'updated',
            actor: 'advisor@example.com',
            changes: [
              { field: 'jobTitle', from: 'Analyst', to: 'Manager' },
              { field: 'financialGoals', from: [], to: ['house'] },
            ],
          },
          { version: 3, kind: 'deleted', actor: alice, changes: [] },
          { version: 4, kind: 'created', actor: alice, changes: [] },
        ]);
        expect(history[0]!.at).toBe((await allEvents())[0]!.recordedAt.toISOString());
        expect((await subject.readModels.profileHistory.list(alice, { after: 2, limit: 1 })).map((e) => e.version)).toEqual([3]);
        expect(await subject.readModels.profileHistory.list(bob, { after: 0, limit: 10 })).toEqual([]);
      });
    });

    describe('the runner', () => {
      it('passes the cursor of every append, in order, under concurrent writers', async () => {
        await Promise.all(
          Array.from({ length: 6 }, async (_, w) => {
            const owner = `writer${w}@example.com`;
            await appendChat(owner, 'c', [started(owner, 'c')]);
            for (let n = 1; n <= 10; n++) {
              await appendChat(owner, 'c', [posted('c', n)]);
              expect((await subject.readModels.chats.get(owner, 'c'))!.messageCount).toBe(n);
            }
          }),
        );
        const status = subject.runner.status();
        const events = await allEvents();
        expect(status.cursor).toBe(events[events.length - 1]!.cursor);
        expect((await subject.runner.lag()).events).toBe(0);
      });

      it('ignores events of types no read model handles, moving past them', async () => {
        const other = await subject.store.append('other-1', [{ type: 'SomethingElse', data: { x: 1 } }]);
        await subject.runner.waitFor(other.cursor);
        expect(subject.runner.status().cursor).toBe(other.cursor);
      });

      it('skips a stored event whose data breaks its schema, and goes on with the next', async () => {
        const nul = await subject.store.append(chatStreamId(alice, 'c0'), [{ type: 'ChatStarted', data: { chatId: 'c0', userEmail: alice, title: 'a\u0000b', agentId: null } }], {
          owner: alice,
        });
        await subject.runner.waitFor(nul.cursor);
        const bad = await subject.store.append(chatStreamId(alice, 'c1'), [{ type: 'ChatStarted', data: { chatId: 'c1' } }], { owner: alice });
        await subject.runner.waitFor(bad.cursor);
        await appendChat(alice, 'c2', [started(alice, 'c2')]);
        expect(await subject.readModels.chats.get(alice, 'c0')).toBeNull();
        expect(await subject.readModels.chats.get(alice, 'c1')).toBeNull();
        expect(await subject.readModels.chats.get(alice, 'c2')).not.toBeNull();
      });

      it('keeps the positions of the messages around one it had to skip', async () => {
        await appendChat(alice, 'c1', [started(alice, 'c1'), posted('c1', 1)]);
        await appendChat(alice, 'c1', [posted('c1', 2, 'bad\u0000content'), posted('c1', 3)]);
        const messages = await subject.readModels.messages.list(chatStreamId(alice, 'c1'), { after: 0, limit: 10 });
        expect(messages.map((m) => m.position)).toEqual([1, 3]);
        expect((await subject.readModels.messages.list(chatStreamId(alice, 'c1'), { after: 1, limit: 1 })).map((m) => m.position)).toEqual([3]);
        expect(await subject.readModels.messages.get(chatStreamId(alice, 'c1'), 3)).toMatchObject({ content: 'm3' });
      });

      it('gives the same read models when every event is applied twice', async () => {
        await appendChat(alice, 'c1', [started(alice, 'c1', 'T'), posted('c1', 1), { type: 'ChatRenamed', data: { chatId: 'c1', title: 'U' } }, posted('c1', 2)]);
        await appendChat(alice, 'c1', [posted('c1', 3), posted('c1', 4, 'x'.repeat(300)), posted('c1', 5)]);
        await appendChat(alice, 'c2', [started(alice, 'c2'), posted('c2', 1), { type: 'ChatDeleted', data: { chatId: 'c2' } }]);
        await appendProfile(alice, [{ type: 'ProfileUpdated', data: { userEmail: alice, changes: { notes: 'a' } } }]);
        await appendProfile(alice, [{ type: 'ProfileUpdated', data: { userEmail: alice, changes: { notes: 'b' } } }]);
        const events = await allEvents();
        const once = await subject.applyDirectly(events, 1);
        const twice = await subject.applyDirectly(events, 2);
        const snapshot = async (models: typeof once) => ({
          chats: await models.chats.list(alice, { limit: 10 }),
          c2: await models.chats.get(alice, 'c2'),
          messages: await models.messages.list(chatStreamId(alice, 'c1'), { after: 0, limit: 10 }),
          deletedMessages: await models.messages.list(chatStreamId(alice, 'c2'), { after: 0, limit: 10 }),
          profile: await models.profiles.get(alice),
          history: await models.profileHistory.list(alice, { after: 0, limit: 10 }),
        });
        const live = await snapshot(subject.readModels);
        expect(await snapshot(once)).toEqual(live);
        expect(await snapshot(twice)).toEqual(live);
        expect(live.messages).toHaveLength(5);
        expect(live.chats[0]).toMatchObject({ chatId: 'c1', messageCount: 5, lastMessage: { preview: 'm5' } });
        expect(live.history).toHaveLength(2);
      });

      it('fails a wait that outlasts its timeout with a clear code, and stops waits when stopped', async () => {
        await subject.runner.stop();
        const result = await subject.store.append('s', [{ type: 'SomethingElse', data: {} }]);
        await expect(subject.runner.waitFor(result.cursor)).rejects.toMatchObject({ code: 'LAKECHAT_ERR_PROJECTION_STOPPED' });
        await expect(subject.runner.waitFor(null)).resolves.toBeUndefined();
      });
    });
  });
}
