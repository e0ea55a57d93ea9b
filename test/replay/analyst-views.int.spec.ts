/**
 * Migration 034: the analyst_* views give plain columns from the event log, and agree with the read
 * models the app itself projects from the same log; the tables analysts read say what they hold.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogBed, type LogBed, writeHistory } from './log-bed.ts';

let bed: LogBed;
async function rows(query: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: bed.database.url });
  await client.connect();
  try {
    return (await client.query(query)).rows as Record<string, unknown>[];
  } finally {
    await client.end();
  }
}
const sorted = (list: Record<string, unknown>[]) => list.map((row) => JSON.stringify(row)).sort();

beforeAll(async () => {
  bed = await createLogBed(4);
  await writeHistory(bed.writer, { users: 3, chatsPerUser: 2, messagesPerChat: 3 });
  // A field set for the first time after the profile was created, a field cleared, and a profile
  // created again after its deletion (user2's was deleted by writeHistory).
  await bed.writer.updateProfile('user0@example.com', { numberOfDependents: 2, maritalStatus: null });
  await bed.writer.updateProfile('user2@example.com', { notes: 'back again', taxFilingStatus: 'head_of_household' });
  const runner = await bed.startRunner();
  await bed.caughtUp(runner);
}, 120_000);
afterAll(async () => {
  await bed?.close();
});

describe('the analysts’ views (migration 034)', () => {
  it('analyst_messages: chat id, user, role, content and time as columns, one row per message posted', async () => {
    const chat = await rows(
      `SELECT chat_id, user_email, role, content, message_number FROM analyst_messages WHERE user_email = 'user1@example.com' AND chat_id = 'h0' ORDER BY message_number`,
    );
    expect(chat).toEqual(
      [0, 1, 2].map((m) => ({
        chat_id: 'h0',
        user_email: 'user1@example.com',
        role: m % 2 === 0 ? 'user' : 'assistant',
        content: `message ${m} of h0, "quoted", with a comma\nand a line`,
        message_number: m + 1,
      })),
    );
    const [times] = await rows(`SELECT count(*)::int AS n, count(posted_at)::int AS timed, count(DISTINCT stream_id)::int AS chats FROM analyst_messages`);
    expect(times).toEqual({ n: 18, timed: 18, chats: 6 });
    // The messages read model, projected by the app, holds the same messages, but those of deleted chats.
    expect(await rows(`SELECT DISTINCT user_email, chat_id FROM analyst_messages WHERE chat_deleted ORDER BY user_email`)).toEqual([
      { user_email: 'user0@example.com', chat_id: 'h1' },
      { user_email: 'user2@example.com', chat_id: 'h1' },
    ]);
    expect(sorted(await rows(`SELECT chat_id, user_email, role, content, message_number, message_id::text FROM analyst_messages WHERE NOT chat_deleted`))).toEqual(
      sorted(await rows(`SELECT chat_id, owner AS user_email, role, content, position AS message_number, message_id::text FROM messages`)),
    );
  });

  it('analyst_chats: one row per chat with its latest title, messages and whether it was deleted', async () => {
    const chats = await rows(`SELECT user_email, chat_id, title, message_count::int, deleted FROM analyst_chats WHERE user_email = 'user0@example.com' ORDER BY chat_id`);
    expect(chats).toEqual([
      { user_email: 'user0@example.com', chat_id: 'h0', title: 'Renamed h0', message_count: 3, deleted: false },
      { user_email: 'user0@example.com', chat_id: 'h1', title: 'Chat h1', message_count: 3, deleted: true },
    ]);
    expect(sorted(await rows(`SELECT user_email, chat_id, title, deleted FROM analyst_chats`))).toEqual(sorted(await rows(`SELECT owner AS user_email, chat_id, title, deleted FROM chats`)));
  });

  it('analyst_profile_changes: one row per field changed, with its old and new value', async () => {
    const user0 = await rows(`SELECT profile_version, field, old_value, new_value FROM analyst_profile_changes WHERE user_email = 'user0@example.com' ORDER BY profile_version, field`);
    expect(user0).toEqual([
      { profile_version: 1, field: 'annualIncome', old_value: null, new_value: '50000' },
      { profile_version: 1, field: 'dateOfBirth', old_value: null, new_value: '1980-05-01' },
      { profile_version: 1, field: 'maritalStatus', old_value: null, new_value: 'single' },
      { profile_version: 2, field: 'financialGoals', old_value: '[]', new_value: '["retire", "goal 0"]' },
      { profile_version: 2, field: 'riskTolerance', old_value: null, new_value: 'moderate' },
      { profile_version: 3, field: 'maritalStatus', old_value: 'single', new_value: null },
      { profile_version: 3, field: 'numberOfDependents', old_value: '0', new_value: '2' },
    ]);
    const recreated = await rows(`SELECT field, old_value, new_value FROM analyst_profile_changes WHERE user_email = 'user2@example.com' AND profile_version = 4 ORDER BY field`);
    expect(recreated).toEqual([
      { field: 'notes', old_value: null, new_value: 'back again' },
      { field: 'taxFilingStatus', old_value: null, new_value: 'head_of_household' },
    ]);
    // The profile history read model, projected by the app, records the same changes.
    expect(sorted(await rows(`SELECT user_email, profile_version, field, old_value, new_value FROM analyst_profile_changes`))).toEqual(
      sorted(
        await rows(`
        SELECT owner AS user_email, version AS profile_version, change->>'field' AS field, (change->'from') #>> '{}' AS old_value, (change->'to') #>> '{}' AS new_value
        FROM profile_history, jsonb_array_elements(changes) AS change`),
      ),
    );
  });

  it('says what every column of events and of the views means (COMMENT ON), for psql \\d+ and Unity Catalog', async () => {
    const missing = await rows(`
      SELECT c.relname AS relation, a.attname AS column
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      WHERE c.relname IN ('events', 'analyst_messages', 'analyst_chats', 'analyst_profile_changes') AND a.attnum > 0 AND NOT a.attisdropped
        AND col_description(c.oid, a.attnum) IS NULL
        AND a.attname NOT IN ('stream_id', 'log_position', 'message_id', 'agent_id', 'started_at', 'last_message_at', 'changed_at')`);
    expect(missing).toEqual([]);
    const [described] = await rows(`SELECT obj_description('events'::regclass, 'pg_class') AS events, col_description('events'::regclass, 3) AS stream_id`);
    expect(described!.events).toContain('analyst_');
    expect(described!.stream_id).toContain("data->>'chatId'");
  });

  it('034.undo.sql removes the views and the comments, and 034.do.sql applies again', async () => {
    const folder = new URL('../../migrations/', import.meta.url);
    await rows(readFileSync(new URL('034.undo.sql', folder), 'utf8'));
    expect(await rows(`SELECT relname FROM pg_class WHERE relname LIKE 'analyst\\_%'`)).toEqual([]);
    expect(await rows(`SELECT obj_description('events'::regclass, 'pg_class') AS comment, col_description('messages'::regclass, 1) AS column_comment`)).toEqual([
      { comment: null, column_comment: null },
    ]);
    await rows(readFileSync(new URL('034.do.sql', folder), 'utf8'));
    expect(await rows(`SELECT count(*)::int AS n FROM analyst_messages`)).toEqual([{ n: 18 }]);
  });
});
