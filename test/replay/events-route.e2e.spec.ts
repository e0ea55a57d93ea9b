/**
 * GET /api/events over a real socket: analysts only, NDJSON in the replay's line format, the next page
 * in a Link header; following it, or the last line's cursor, returns every event exactly once, even
 * while writers append.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventLineColumns } from '../../src/replay/index.ts';
import { createLogBed, type LogBed, writeHistory } from './log-bed.ts';
import { type PostgresAppUnderTest, postgresApp } from './postgres-app.ts';

const analyst = 'analyst@example.com';
let bed: LogBed;
let api: PostgresAppUnderTest;

beforeAll(async () => {
  bed = await createLogBed();
  api = await postgresApp(bed, { ANALYST_EMAILS: `someone@example.com, ${analyst.toUpperCase()}` });
  await writeHistory(bed.writer, { users: 3, chatsPerUser: 2, messagesPerChat: 4 });
}, 120_000);

afterAll(async () => {
  await api?.close();
  await bed?.close();
});

const lines = async (response: Response): Promise<Record<string, unknown>[]> =>
  (await response.text())
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

const nextLink = (response: Response): string => {
  const match = /^<([^>]+)>; rel="next"$/.exec(response.headers.get('link') ?? '');
  expect(match).not.toBeNull();
  return match![1]!;
};

async function allEventIds(): Promise<string[]> {
  await bed.readable();
  const ids: string[] = [];
  for (let after: string | null = null; ; ) {
    const page = await bed.store.readAll({ after, limit: 10_000 });
    ids.push(...page.events.map((event) => event.eventId));
    after = page.cursor;
    if (page.events.length < 10_000) return ids;
  }
}

describe('GET /api/events', () => {
  it('refuses users who are not analysts with a stable code, and strangers with a 401', async () => {
    const response = await api.fetch('user0@example.com', '/api/events');
    expect(response.status).toBe(403);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('LAKECHAT_ERR_REPLAY_FORBIDDEN');
    // Even asking for their own events only.
    expect((await api.fetch('user0@example.com', '/api/events?user=user0@example.com')).status).toBe(403);
    expect((await api.fetch(null, '/api/events')).status).toBe(401);
  });

  it('streams a page of NDJSON lines with the next page in Link and X-Next-Cursor', async () => {
    const response = await api.fetch(analyst, '/api/events?limit=5&type=MessagePosted');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const page = await lines(response);
    expect(page).toHaveLength(5);
    expect(Object.keys(page[0]!)).toEqual([...eventLineColumns]);
    expect(page.every((line) => line.event_type === 'MessagePosted')).toBe(true);
    const link = new URL(nextLink(response), api.url);
    expect(link.pathname).toBe('/api/events');
    expect(link.searchParams.get('after')).toBe(page[4]!.cursor);
    expect(link.searchParams.getAll('type')).toEqual(['MessagePosted']);
    expect(link.searchParams.get('limit')).toBe('5');
    expect(response.headers.get('x-next-cursor')).toBe(page[4]!.cursor);
  });

  it('returns every event exactly once, in order, following Link while writers append', async () => {
    let writing = true;
    let lastWritten = '';
    const writers = (async () => {
      for (let i = 0; writing; i++) lastWritten = await bed.writer.post(`user${i % 3}@example.com`, 'h0', `paged ${i}`);
    })();
    const seen: string[] = [];
    const cursors: string[] = [];
    let url = '/api/events?limit=7';
    for (let pages = 0; pages < 2_000; pages++) {
      const response = await api.fetch(analyst, url);
      expect(response.status).toBe(200);
      const page = await lines(response);
      seen.push(...page.map((line) => line.event_id as string));
      cursors.push(...page.map((line) => line.cursor as string));
      url = nextLink(response);
      if (pages === 10) writing = false;
      if (!writing && page.length === 0) break;
    }
    await writers;
    // Whatever was committed after the last empty page comes next, once readable: other test files
    // share the server, and a transaction of theirs can keep new events unreadable a while.
    for (const deadline = Date.now() + 30_000; !cursors.includes(lastWritten) && Date.now() < deadline; ) {
      const response = await api.fetch(analyst, url);
      const page = await lines(response);
      seen.push(...page.map((line) => line.event_id as string));
      cursors.push(...page.map((line) => line.cursor as string));
      url = nextLink(response);
      if (page.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(cursors).toContain(lastWritten);
    expect(seen).toEqual(await allEventIds());
  });

  it("returns every event exactly once paging by the last line's cursor", async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const response = await api.fetch(analyst, `/api/events?limit=9${after === null ? '' : `&after=${after}`}`);
      const page = await lines(response);
      seen.push(...page.map((line) => line.event_id as string));
      if (page.length < 9) break;
      after = page[page.length - 1]!.cursor as string;
    }
    expect(seen).toEqual(await allEventIds());
  });

  it('applies the replay filters, and refuses malformed ones', async () => {
    await bed.readable();
    const events = (await bed.store.readAll({ limit: 10_000 })).events;
    const from = events[3]!.position;
    const to = events[12]!.position;
    const page = await lines(await api.fetch(analyst, `/api/events?fromPosition=${from}&toPosition=${to}&user=USER1@example.com&limit=100`));
    expect(page.map((line) => line.event_id)).toEqual(
      events.filter((event) => event.position >= from && event.position <= to && event.owner === 'user1@example.com').map((event) => event.eventId),
    );
    const code = async (path: string) => ((await (await api.fetch(analyst, path)).json()) as { error: { code: string } }).error.code;
    expect(await code('/api/events?limit=0')).toBe('LAKECHAT_ERR_HTTP_VALIDATION');
    expect(await code('/api/events?since=yesterday')).toBe('LAKECHAT_ERR_HTTP_VALIDATION');
    expect(await code('/api/events?after=99999999999999999999999-1')).toBe('LAKECHAT_ERR_HTTP_VALIDATION');
    expect(await code('/api/events?after=18446744073709551616-1')).toBe('LAKECHAT_ERR_STORE_INVALID_CURSOR');
  });
});
