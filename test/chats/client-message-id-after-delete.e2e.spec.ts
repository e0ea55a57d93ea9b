import { afterEach, describe, expect, it } from 'vitest';
import { usePostgresInstances } from '../ws/postgres-fixture.ts';
import { type Instance, startInstance } from '../ws/ws-support.ts';

const postgres = usePostgresInstances();
const started: Instance[] = [];
afterEach(async () => {
  for (const instance of started.splice(0)) await instance.close();
});

describe.each(['memory', 'postgres'] as const)('a clientMessageId that was already accepted (%s)', (kind) => {
  const start = async (): Promise<Instance> => {
    if (kind === 'postgres') return postgres.instance();
    const instance = await startInstance();
    started.push(instance);
    return instance;
  };

  it('acknowledges the original message, as the protocol says, before the chat is deleted; after, the deletion erased it and the retry meets the deleted chat', async () => {
    const instance = await start();
    const user = `retry-${kind}@example.com`;
    expect((await instance.http(user, 'POST', '/api/chats', { id: 'r' })).status).toBe(201);
    const first = await instance.http(user, 'POST', '/api/chats/r/messages', { content: 'hello', clientMessageId: 'm-1' });
    expect(first.status).toBe(201);
    // The client never saw the answer, and retries.
    const retry = await instance.http(user, 'POST', '/api/chats/r/messages', { content: 'hello', clientMessageId: 'm-1' });
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ duplicate: true, cursor: first.body.cursor, version: first.body.version });
    expect(retry.body.message).toEqual(first.body.message);
    expect((await instance.http(user, 'DELETE', '/api/chats/r')).status).toBeLessThan(300);

    // After the deletion, which erased the chat's messages (issue 13), the message cannot be given
    // back: the retry is told the chat is deleted, a final answer for the client's outbox.
    const late = await instance.http(user, 'POST', '/api/chats/r/messages', { content: 'hello', clientMessageId: 'm-1' });
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('LAKECHAT_ERR_CHAT_DELETED');

    // A new client message id still meets the deleted chat.
    const fresh = await instance.http(user, 'POST', '/api/chats/r/messages', { content: 'again', clientMessageId: 'm-2' });
    expect(fresh.status).toBe(409);
    expect(fresh.body.error.code).toBe('LAKECHAT_ERR_CHAT_DELETED');
  });
});
