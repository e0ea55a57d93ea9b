/**
 * The replay's filters are checked at the edge, for GET /api/events and `npm run replay` alike: a
 * filter PostgreSQL could not read (a year 0, an impossible date, a NUL) is a 400 that names it, never
 * a 503 a client would retry forever; a repeated filter returns each event once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkFlags } from '../../src/cli/cli-arguments.ts';
import { replayFilterSchema, toReplayFilter } from '../../src/replay/replay-filter.ts';
import { postgresApp } from '../http/app-under-test.ts';

const analyst = 'analyst@example.com';
let t: Awaited<ReturnType<typeof postgresApp>>;

beforeAll(async () => {
  t = await postgresApp({ env: { ANALYST_EMAILS: analyst, RATE_LIMIT_PER_SECOND: '0' } });
  await t.as('a@x.com', 'POST', '/api/chats', { body: { id: 'c1' } });
  await t.as('a@x.com', 'POST', '/api/chats/c1/messages', { body: { content: 'one' } });
  await t.as('a@x.com', 'POST', '/api/chats/c1/messages', { body: { content: 'two' } });
}, 120_000);

afterAll(async () => {
  await t?.close();
});

const lines = (body: string): Record<string, unknown>[] =>
  body
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe('GET /api/events filters', () => {
  it.each([
    ['since=0000-01-01', 'query.since'],
    ['until=0000-06-01T00:00:00Z', 'query.until'],
    ['since=0001-01-01T00:00:00%2B01:00', 'query.since'],
    ['since=2026-02-31', 'query.since'],
    ['until=2026-04-31T10:00:00Z', 'query.until'],
    ['since=2026-01-01T24:30:00Z', 'query.since'],
    ['stream=%00', 'query.stream'],
    ['streamPrefix=chat-%00', 'query.streamPrefix'],
    ['user=a%00@x.com', 'query.user'],
    ['type=%00', 'query.type'],
  ])('answers %s with a 400 that names the filter, not a 503', async (query, path) => {
    const response = await t.as(analyst, 'GET', `/api/events?${query}`);
    expect(response.statusCode).toBe(400);
    expect(response.headers['retry-after']).toBeUndefined();
    const error = response.json().error;
    expect(error.code).toBe('LAKECHAT_ERR_HTTP_VALIDATION');
    expect(error.details.issues.map((issue: { path: string }) => issue.path)).toContain(path);
  });

  it('still accepts the ordinary forms of a time', async () => {
    for (const since of ['2026-02-28', '2024-02-29', '2026-03-01T12:00:00Z', '2026-03-01T12:00', '2026-03-01 12:00:00.123+02:00', '1970-01-01']) {
      const response = await t.as(analyst, 'GET', `/api/events?since=${encodeURIComponent(since)}`);
      expect(response.statusCode, since).toBe(200);
    }
  });

  it('returns each event once when a type is repeated (type=A&type=A)', async () => {
    const once = lines((await t.as(analyst, 'GET', '/api/events?type=MessagePosted')).body);
    const twice = lines((await t.as(analyst, 'GET', '/api/events?type=MessagePosted&type=MessagePosted&type=ChatStarted&type=MessagePosted')).body);
    expect(once).toHaveLength(2);
    expect(twice.map((line) => line.event_id)).toEqual(lines((await t.as(analyst, 'GET', '/api/events?type=ChatStarted&type=MessagePosted')).body).map((line) => line.event_id));
    expect(new Set(twice.map((line) => line.event_id)).size).toBe(twice.length);
    expect(twice).toHaveLength(3);
  });
});

describe('npm run replay filter flags', () => {
  const flags = (values: Record<string, unknown>) => () => checkFlags(replayFilterSchema, values);

  it('refuses the same malformed filters, naming the flag', () => {
    expect(flags({ since: '0000-01-01' })).toThrow(/--since/);
    expect(flags({ since: '2026-02-31' })).toThrow(/--since/);
    expect(flags({ until: '0000-01-01T00:00:00Z' })).toThrow(/--until/);
    expect(flags({ stream: 'chat-\u0000' })).toThrow(/--stream/);
    expect(flags({ streamPrefix: '\uD800' })).toThrow(/--stream-prefix/);
  });

  it('reads a repeated --type once', () => {
    expect(toReplayFilter(checkFlags(replayFilterSchema, { type: ['A', 'B', 'A', 'A'] })).types).toEqual(['A', 'B']);
  });
});
