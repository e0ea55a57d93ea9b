import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMigrations } from '../../src/migrate.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { Client, type Instance, startInstance } from '../ws/ws-support.ts';

const alice = 'alice@example.com';
const mallory = 'mallory@example.com';

let database: TestDatabase;
let instance: Instance;
beforeAll(async () => {
  database = await createTestDatabase();
  await runMigrations({ connectionString: database.url });
  instance = await startInstance({ databaseUrl: database.url, env: { RATE_LIMIT_PER_SECOND: '0' } });
  expect((await instance.http(alice, 'POST', '/api/chats', { id: 'secret', title: 'Salary' })).status).toBe(201);
  expect((await instance.http(alice, 'POST', '/api/chats/secret/messages', { content: 'my salary is 1' })).status).toBe(201);
  expect((await instance.http(alice, 'PUT', '/api/profile', { maritalStatus: 'single' })).status).toBeLessThan(300);
});
afterAll(async () => {
  await instance?.close();
  await database.drop();
});

/** Every API route the server describes in /openapi.json, with its parameters filled in. */
async function apiRoutes(): Promise<{ method: string; path: string }[]> {
  const document = (await (await fetch(`http://127.0.0.1:${instance.port}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
  const routes: { method: string; path: string }[] = [];
  for (const [template, operations] of Object.entries(document.paths)) {
    if (!template.startsWith('/api/')) continue;
    const path = template.replace(/\{chatId\}|:chatId/g, 'secret').replace(/\{[^}]+\}|:[A-Za-z]+/g, '1');
    for (const method of Object.keys(operations)) routes.push({ method: method.toUpperCase(), path });
  }
  return routes;
}

async function request(user: string | null, method: string, path: string): Promise<{ status: number; text: string }> {
  // A valid body for each write, so the answer is about who asks, not about the body.
  const valid = path.endsWith('/messages') ? { content: 'x' } : path.startsWith('/api/profile') ? { maritalStatus: 'single' } : { title: 'x' };
  const body = ['POST', 'PUT', 'PATCH'].includes(method) ? JSON.stringify(valid) : undefined;
  const response = await fetch(`http://127.0.0.1:${instance.port}${path}`, {
    method,
    headers: { ...(user === null ? {} : { 'x-demo-user': user }), ...(method === 'GET' ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body }),
  });
  return { status: response.status, text: await response.text() };
}

describe('authorization probes', () => {
  it('answers every API route with 401 when the request carries no identity', async () => {
    const routes = await apiRoutes();
    expect(routes.length).toBeGreaterThanOrEqual(10);
    for (const { method, path } of routes) {
      const answer = await request(null, method, path);
      expect(answer.status, `${method} ${path}`).toBe(401);
    }
  });

  it("never shows or changes another user's chat: every chat route as another user answers like a chat that does not exist", async () => {
    for (const { method, path } of (await apiRoutes()).filter((route) => route.path.includes('/api/chats/secret'))) {
      const answer = await request(mallory, method, path);
      const nowhere = await request(mallory, method, path.replace('/api/chats/secret', '/api/chats/no-such-chat'));
      // Exactly the answer for a chat that does not exist, so nothing reveals that Alice's exists.
      expect(answer.status, `${method} ${path}`).toBe(nowhere.status);
      expect(answer.text.replaceAll('secret', 'no-such-chat'), `${method} ${path}`).toBe(nowhere.text);
      expect(answer.status, `${method} ${path}`).toBeGreaterThanOrEqual(400);
      expect(answer.text).not.toContain('salary');
    }
    // Alice's chat is untouched, and nobody else's profile became hers.
    const chat = await instance.http(alice, 'GET', '/api/chats/secret');
    expect(chat.body).toMatchObject({ title: 'Salary', messageCount: 1 });
    expect((await instance.http(mallory, 'GET', '/api/chats')).body.chats.map((c: { id: string }) => c.id)).not.toContain('secret');
  });

  it("refuses a WebSocket without identity, another user's chat, and the all scope to a non-analyst", async () => {
    const anonymous = new Client(instance.url, { user: null });
    expect((await anonymous.closed).code).toBe(4401);

    const intruder = await Client.open(instance.url, { user: mallory });
    intruder.send({ type: 'subscribe', id: 'peek', scope: 'chat', chatId: 'secret', after: null });
    expect(await intruder.next((frame) => frame.type === 'error' && frame.id === 'peek')).toMatchObject({ code: 'LAKECHAT_ERR_CHAT_NOT_FOUND' });
    intruder.send({ type: 'subscribe', id: 'everything', scope: 'all', after: null });
    expect(await intruder.next((frame) => frame.type === 'error' && frame.id === 'everything')).toMatchObject({ code: 'LAKECHAT_ERR_WS_FORBIDDEN_SCOPE' });
    intruder.send({ type: 'post', id: 'p', chatId: 'secret', content: 'hi' });
    expect(await intruder.next((frame) => frame.type === 'error' && frame.id === 'p')).toMatchObject({ code: 'LAKECHAT_ERR_CHAT_NOT_FOUND' });
    intruder.send({ type: 'signal', chatId: 'secret', kind: 'typing', data: {} });
    // A user scope subscription sees only the user's own events: none of Alice's.
    await intruder.subscribe({ id: 'mine', scope: 'user', after: null });
    expect(intruder.frames.filter((frame) => frame.type === 'event')).toEqual([]);
    intruder.socket.close();
    expect((await instance.http(alice, 'GET', '/api/chats/secret')).body.messageCount).toBe(1);
  });
});
