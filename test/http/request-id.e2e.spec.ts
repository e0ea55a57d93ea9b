import { afterEach, describe, expect, it } from 'vitest';
import { Client, type Instance, startInstance } from '../ws/ws-support.ts';
import { type AppUnderTest, memoryApp } from './app-under-test.ts';

let t: AppUnderTest | undefined;
let instance: Instance | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
  await instance?.close();
  instance = undefined;
});

const alice = 'alice@example.com';

describe('request ids', () => {
  it("puts the proxy's X-Request-Id on every log line of the request, in the answer, and on the events it appends", async () => {
    const lines: string[] = [];
    t = await memoryApp({ logLines: lines });
    const response = await t.as(alice, 'POST', '/api/chats', { body: { id: 'traced' }, headers: { 'x-request-id': 'proxy-req-7' } });
    expect(response.statusCode).toBe(201);
    expect(response.headers['x-request-id']).toBe('proxy-req-7');

    const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const ofRequest = logged.filter((line) => line.req !== undefined || line.res !== undefined || line.reqId !== undefined);
    // fastify logs the request arriving and completing, at least.
    expect(ofRequest.length).toBeGreaterThanOrEqual(2);
    for (const line of ofRequest) expect(line.reqId).toBe('proxy-req-7');

    const stream = await t.store.readAll({});
    expect(stream.events.map((event) => event.metadata.correlationId)).toEqual(['proxy-req-7']);
  });

  it('makes one up when the proxy sent none, or one that is not a sane id, and uses it the same way', async () => {
    const lines: string[] = [];
    t = await memoryApp({ logLines: lines });
    const plain = await t.as(alice, 'POST', '/api/chats', { body: { id: 'first' } });
    const odd = await t.as(alice, 'POST', '/api/chats', { body: { id: 'second' }, headers: { 'x-request-id': 'has spaces\nand a newline' } });
    const ids = [plain.headers['x-request-id'], odd.headers['x-request-id']];
    for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(ids[0]).not.toBe(ids[1]);
    const events = (await t.store.readAll({})).events;
    expect(events.map((event) => event.metadata.correlationId)).toEqual(ids);
    const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.reqId !== undefined);
    expect(new Set(logged.map((line) => line.reqId))).toEqual(new Set(ids));
  });

  it('records the WebSocket upgrade request id on the messages posted through that connection', async () => {
    instance = await startInstance();
    expect((await instance.http(alice, 'POST', '/api/chats', { id: 'live' })).status).toBe(201);
    const client = await Client.open(instance.url, { user: alice, headers: { 'x-request-id': 'upgrade-req-9' } });
    client.send({ type: 'post', id: 'p1', chatId: 'live', content: 'hello' });
    await client.next((frame) => frame.type === 'ack' && frame.id === 'p1');
    client.socket.close();
    const events = (await instance.store.readAll({})).events;
    expect(events.find((event) => event.type === 'MessagePosted')?.metadata.correlationId).toBe('upgrade-req-9');
  });
});
