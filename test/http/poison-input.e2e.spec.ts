/**
 * Input no read model could keep is refused at the edge with a 400, before anything is appended:
 * a NUL or unpaired surrogate at any depth of a trace summary, a trace summary nested deeper than
 * 64 levels (or 20,000: no stack overflow), and a date of birth in the future or before 1900.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type AppUnderTest, memoryApp } from './app-under-test.ts';

function nested(depth: number, leaf: unknown): Record<string, unknown> {
  let value: unknown = leaf;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value as Record<string, unknown>;
}

describe('poison input refused at the edge', () => {
  let t: AppUnderTest | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function logLength(): Promise<number> {
    return (await t!.store.readAll({ limit: 10_000 })).events.length;
  }

  it.each([
    ['a NUL 70 levels deep', nested(70, 'x\u0000y')],
    ['an unpaired surrogate 100 levels deep', nested(100, '\uD83D')],
    ['a NUL in a key 80 levels deep', nested(80, { 'k\u0000': 1 })],
    ['a NUL inside an array 65 levels deep', { list: [nested(65, ['ok', '\u0000'])] }],
    ['nesting deeper than 64 levels', nested(65, 1)],
    // As JSON text: JSON.stringify itself overflows the stack on such a value.
    ['nesting 20,000 levels deep', '{"a":'.repeat(20_000) + '1' + '}'.repeat(20_000)],
  ])('refuses a trace summary with %s, appending nothing', async (_name, traceSummary) => {
    t = await memoryApp();
    await t.as('a@x.com', 'POST', '/api/chats', { body: { id: 'c' } });
    const before = await logLength();
    const json = typeof traceSummary === 'string' ? traceSummary : JSON.stringify(traceSummary);
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/chats/c/messages',
      headers: { 'x-demo-user': 'a@x.com', 'content-type': 'application/json' },
      payload: `{"content":"hi","traceSummary":${json}}`,
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('LAKECHAT_ERR_HTTP_VALIDATION');
    expect(response.json().error.details.issues[0].path).toBe('body.traceSummary');
    expect(await logLength()).toBe(before);
  });

  it('accepts a trace summary 64 levels deep with ordinary text, emoji included', async () => {
    t = await memoryApp();
    await t.as('a@x.com', 'POST', '/api/chats', { body: { id: 'c' } });
    const response = await t.as('a@x.com', 'POST', '/api/chats/c/messages', { body: { content: 'hi', traceSummary: nested(62, { 'tool 🔧': ['é', '😀'] }) } });
    expect(response.statusCode).toBe(201);
  });

  it.each(['0000-01-01', '1899-12-31', '2990-02-03'])('refuses a date of birth of %s, appending nothing', async (dateOfBirth) => {
    t = await memoryApp();
    for (const method of ['PATCH', 'PUT']) {
      const response = await t.as('a@x.com', method, '/api/profile', { body: { dateOfBirth } });
      expect(response.statusCode).toBe(400);
      expect(response.json().error.code).toBe('LAKECHAT_ERR_HTTP_VALIDATION');
      expect(response.json().error.details.issues[0].path).toBe('body.dateOfBirth');
    }
    expect(await logLength()).toBe(0);
  });

  it('refuses a date of birth after today, and accepts today, 1900-01-01 and a cleared one', async () => {
    t = await memoryApp();
    const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    expect((await t.as('a@x.com', 'PATCH', '/api/profile', { body: { dateOfBirth: day(2) } })).statusCode).toBe(400);
    for (const dateOfBirth of [day(0), '1900-01-01', '1987-02-28', null]) {
      const response = await t.as('a@x.com', 'PATCH', '/api/profile', { body: { dateOfBirth } });
      expect([200, 201], String(dateOfBirth)).toContain(response.statusCode);
      expect(response.json().dateOfBirth).toBe(dateOfBirth);
    }
  });
});
