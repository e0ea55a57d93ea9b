/**
 * Whatever the API accepts, every read model can keep: bodies generated with fast-check (odd text,
 * NUL, unpaired surrogates, deep trace summaries, dates of every kind, extreme numbers) are posted to
 * the app on PostgreSQL and in memory; nothing accepted is parked, and every accepted write shows.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppUnderTest, memoryApp, postgresApp } from './app-under-test.ts';

const oddText = fc.oneof(
  { arbitrary: fc.string({ minLength: 1, maxLength: 12 }), weight: 4 },
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom('\u0000', 'a\u0000b', '\uD800', '\uDFFF', 'x\uD83D', '😀', 'é', ' ', '', '\\u0000', '%00', 'null'),
);
const deep = (depth: number, leaf: unknown): unknown => {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? { [`k${i}`]: value } : [value];
  return value;
};
const traceSummary = fc.oneof(
  fc.dictionary(oddText, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }),
  fc.tuple(fc.integer({ min: 1, max: 80 }), oddText).map(([depth, leaf]) => ({ top: deep(depth, leaf) })),
  // What the check used to miss: poison past its 64th level.
  fc.tuple(fc.integer({ min: 60, max: 70 }), fc.constantFrom('\u0000', '\uD800', 'ok')).map(([depth, leaf]) => ({ top: deep(depth, leaf) })),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.oneof(oddText, fc.double(), fc.integer()), { maxKeys: 3 }),
);
const messageBody = fc.record(
  {
    role: fc.constantFrom('user', 'assistant', 'system', 'tool', 'robot'),
    content: oddText,
    clientMessageId: oddText,
    traceId: oddText,
    traceSummary,
  },
  { requiredKeys: ['content'] },
);
const isoDay = fc
  .tuple(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 13 }), fc.integer({ min: 0, max: 32 }))
  .map(([year, month, day]) => `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`);
const number = fc.oneof(fc.double(), fc.integer(), fc.constantFrom(0, -0, 1e13, 1e-320, 100, 120, 2 ** 31, Number.MAX_SAFE_INTEGER));
// Each field is left out most of the time, so most bodies are valid and some poison stands alone.
const maybe = <T>(arbitrary: fc.Arbitrary<T>) => fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary, weight: 1 });
const profileBody = fc
  .record({
    dateOfBirth: maybe(fc.oneof(isoDay, fc.constantFrom('0000-01-01', '0000-02-29', '2990-02-03', '1900-01-01', '2000-02-29', '2001-02-29', null))),
    numberOfDependents: maybe(number),
    yearsEmployed: maybe(number),
    annualIncome: maybe(number),
    investmentExperienceYears: maybe(number),
    retirementAgeTarget: maybe(number),
    employerName: maybe(oddText),
    jobTitle: maybe(oddText),
    notes: maybe(oddText),
    financialGoals: maybe(fc.array(oddText, { maxLength: 3 })),
    maritalStatus: maybe(fc.constantFrom('single', 'married', 'complicated', null)),
  })
  .map((body) => Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined)));
const request = fc.oneof(
  fc.record({ kind: fc.constant('message' as const), body: messageBody }),
  fc.record({ kind: fc.constant('profile' as const), method: fc.constantFrom('PATCH', 'PUT'), body: profileBody }),
  fc.record({ kind: fc.constant('chat' as const), body: fc.record({ id: oddText, title: oddText, agentId: fc.option(oddText) }, { requiredKeys: [] }) }),
);

async function health(t: AppUnderTest): Promise<{ parkedEvents: number; lagEvents: number | null }> {
  return (await t.as(null, 'GET', '/health')).json().projections;
}

describe.each([
  ['in memory', () => memoryApp({ env: { RATE_LIMIT_PER_SECOND: '0' } })],
  ['on PostgreSQL', () => postgresApp({ env: { RATE_LIMIT_PER_SECOND: '0' } })],
])('anything the API accepts, %s', (_where, open) => {
  let t: AppUnderTest;
  beforeAll(async () => {
    t = await open();
    expect((await t.as('a@x.com', 'POST', '/api/chats', { body: { id: 'c' } })).statusCode).toBe(201);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('is applied by every read model: nothing parked, every accepted write shows', async () => {
    let accepted = 0;
    let messages = 0;
    await fc.assert(
      fc.asyncProperty(request, async (generated) => {
        if (generated.kind === 'message') {
          const response = await t.as('a@x.com', 'POST', '/api/chats/c/messages', { body: generated.body });
          expect(response.statusCode, response.body).toBeLessThan(500);
          if (response.statusCode === 201) {
            accepted++;
            messages++;
            expect(response.json().message.content).toBe(generated.body.content);
          }
        } else if (generated.kind === 'profile') {
          const response = await t.as('a@x.com', generated.method, '/api/profile', { body: generated.body });
          expect(response.statusCode, response.body).toBeLessThan(500);
          if (response.statusCode < 300) {
            accepted++;
            // The answer comes from the read model: every field sent is there as sent.
            for (const [field, value] of Object.entries(generated.body)) expect(response.json()[field], field).toEqual(JSON.parse(JSON.stringify(value)));
          }
        } else {
          const response = await t.as('a@x.com', 'POST', '/api/chats', { body: generated.body });
          expect(response.statusCode, response.body).toBeLessThan(500);
          if (response.statusCode === 201) {
            accepted++;
            expect((await t.as('a@x.com', 'GET', `/api/chats/${encodeURIComponent(response.json().id)}`)).statusCode).toBe(200);
          }
        }
      }),
      { numRuns: 300 },
    );
    for (const deadline = Date.now() + 30_000; (await health(t)).lagEvents !== 0 && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await health(t)).toMatchObject({ parkedEvents: 0, lagEvents: 0 });
    const listed = await t.as('a@x.com', 'GET', '/api/chats/c/messages?limit=1000');
    expect(listed.json().messages).toHaveLength(messages);
    expect(accepted).toBeGreaterThan(30);
  });
});
