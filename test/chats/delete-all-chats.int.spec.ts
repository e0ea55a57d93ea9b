/**
 * `DELETE /api/chats` deletes every chat the user had when the request arrived. The chat list is
 * ordered by latest activity and paged by that key, so a chat that gets a message between two page
 * reads moves behind the key: the service must still find and delete it, and must leave alone a chat
 * started after the request arrived.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ChatService } from '../../src/chats/index.ts';
import { MemoryEventStore } from '../../src/event-store/index.ts';
import { openProjections, type Projections } from '../../src/projection-runner/index.ts';

const user = 'busy@example.com';
const context = { actor: user, correlationId: 'test', client: 'test' };
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function serviceWith(onList: (call: number, service: ChatService) => Promise<void>): Promise<ChatService> {
  const store = new MemoryEventStore();
  const real = await openProjections({ store, pool: null });
  closers.push(
    () => store.close(),
    () => real.runner.stop(),
  );
  let calls = 0;
  let service: ChatService;
  // The real read model, with a moment inserted after each page read: what a busy user does meanwhile.
  const chats = {
    ...real.readModels.chats,
    async list(owner: string, options: Parameters<Projections['readModels']['chats']['list']>[1]) {
      const page = await real.readModels.chats.list(owner, options);
      await onList(++calls, service);
      return page;
    },
  };
  const projections: Projections = { ...real, readModels: { ...real.readModels, chats } };
  service = new ChatService({ store, projections, policy: { maxMessageBytes: 32_768 } });
  return service;
}

describe("deleting all of a user's chats", () => {
  it('deletes a chat that got a message between two page reads (it moved behind the paging key)', async () => {
    let moved = false;
    const service = await serviceWith(async (call, chats) => {
      // After the first page (the 500 most active chats), the oldest chat gets a message: it moves to the top.
      if (call === 1 && !moved) {
        moved = true;
        await chats.postMessage(context, 'chat-0', { content: 'still here?' });
      }
    });
    for (let i = 0; i < 501; i++) await service.startChat(context, { id: `chat-${i}` });

    const deleted = await service.deleteAllChats(context);

    expect(moved).toBe(true);
    expect(deleted).toBe(501);
    expect(await service.canRead(user, 'chat-0')).toBe(false);
  });

  it('leaves a chat started after the request arrived', async () => {
    let started = false;
    const service = await serviceWith(async (call, chats) => {
      if (call === 1 && !started) {
        started = true;
        await chats.startChat(context, { id: 'newcomer' });
      }
    });
    for (let i = 0; i < 3; i++) await service.startChat(context, { id: `chat-${i}` });

    expect(await service.deleteAllChats(context)).toBe(3);
    expect(await service.canRead(user, 'newcomer')).toBe(true);
    for (let i = 0; i < 3; i++) expect(await service.canRead(user, `chat-${i}`)).toBe(false);
  });
});
