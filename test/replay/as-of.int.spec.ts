/**
 * "As of": the live projections are recorded at two moments while the log grows; the state rebuilt as
 * of each moment, by cursor, by position or by time, must equal what they showed then, exactly.
 */
import { sql } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { chatsReadModel } from '../../projections/chats.ts';
import { messagesReadModel } from '../../projections/messages.ts';
import { profileHistoryReadModel } from '../../projections/profile-history.ts';
import { profilesReadModel } from '../../projections/profiles.ts';
import { chatStreamId } from '../../src/chats/stream-id.ts';
import { isLakechatError } from '../../src/errors.ts';
import { profileStreamId } from '../../src/profiles/stream-id.ts';
import { allProjections } from '../../src/projection-runner/read-models.ts';
import { selectRows } from '../../src/projection-runner/rows.ts';
import { liveTables, tableNames } from '../../src/projection-runner/tables.ts';
import { buildAsOf } from '../../src/rebuild/index.ts';
import { resolveAsOf, streamAsOf } from '../../src/replay/index.ts';
import { createLogBed, type LogBed, writeHistory } from './log-bed.ts';

interface Moment {
  cursor: string;
  position: number;
  time: Date;
  tables: Record<string, unknown[]>;
  chat: unknown;
  messages: unknown;
  profile: unknown;
  history: unknown;
}

let bed: LogBed;
const moments: Moment[] = [];
const owner = 'user0@example.com';

async function recordMoment(): Promise<Moment> {
  const live = tableNames(liveTables);
  const [checkpoint] = await selectRows(
    bed.pool,
    z.object({ cursor: z.string(), position: z.coerce.number() }),
    sql.unsafe`
    SELECT cursor, position FROM projection_checkpoints WHERE name = 'chats'`,
  );
  const [clock] = await selectRows(bed.pool, z.object({ now: z.coerce.date() }), sql.unsafe`SELECT clock_timestamp() AS now`);
  const moment: Moment = {
    cursor: checkpoint!.cursor,
    position: checkpoint!.position,
    // Every event so far was recorded before this time, and every later one will be after it.
    time: clock!.now,
    tables: await bed.tables(),
    chat: await chatsReadModel.queries.postgres(bed.pool, live).get(owner, 'h0'),
    messages: await messagesReadModel.queries.postgres(bed.pool, live).list(chatStreamId(owner, 'h0'), { after: 0, limit: 1_000 }),
    profile: await profilesReadModel.queries.postgres(bed.pool, live).get(owner),
    history: await profileHistoryReadModel.queries.postgres(bed.pool, live).list(owner, { after: 0, limit: 1_000 }),
  };
  await new Promise((resolve) => setTimeout(resolve, 10));
  return moment;
}

beforeAll(async () => {
  bed = await createLogBed();
  const runner = await bed.startRunner();
  await writeHistory(bed.writer, { users: 3, chatsPerUser: 2, messagesPerChat: 3 });
  await bed.caughtUp(runner);
  moments.push(await recordMoment());
  // The log moves on: more messages in the same chats, renames, deletions, a profile deleted and re-created.
  await writeHistory(bed.writer, { users: 3, chatsPerUser: 2, messagesPerChat: 2, tag: 'h' });
  await bed.writer.rename(owner, 'h0', 'Renamed later');
  await bed.writer.deleteProfile(owner);
  await bed.writer.updateProfile(owner, { notes: 'back' });
  await bed.caughtUp(runner);
  moments.push(await recordMoment());
  await bed.writer.deleteChat(owner, 'h0');
  await bed.writer.post('user1@example.com', 'h0', 'after every moment');
  await bed.caughtUp(runner);
}, 120_000);

afterAll(async () => {
  await bed?.close();
});

describe('as of a moment', () => {
  const forms: [string, (moment: Moment) => string][] = [
    ['a cursor', (moment) => moment.cursor],
    ['a position', (moment) => String(moment.position)],
    ['a time', (moment) => moment.time.toISOString()],
  ];

  for (const [index, label] of [
    [0, 'the first moment'],
    [1, 'the second moment'],
  ] as const) {
    for (const [form, text] of forms) {
      it(`builds every read model into its own schema exactly as the live ones were at ${label}, given ${form}`, async () => {
        const moment = moments[index]!;
        const schema = `as_of_${index}_${form.replace(/\W/g, '_')}`;
        const report = await buildAsOf({ pool: bed.pool, store: bed.store, projections: allProjections, schema, asOf: await resolveAsOf(bed.store, text(moment)), batchSize: 13 });
        expect(report.tables).toHaveLength(4);
        expect(await bed.tables(schema)).toEqual(moment.tables);
        // The live tables are untouched: they hold the present.
        expect(await bed.tables()).not.toEqual(moment.tables);
      });

      it(`gives one chat and one profile as the API showed them at ${label}, given ${form}`, async () => {
        const moment = moments[index]!;
        const asOf = await resolveAsOf(bed.store, text(moment));
        const chat = await streamAsOf(bed.store, chatStreamId(owner, 'h0'), asOf);
        expect(chat.kind === 'chat' && chat.view).toEqual({ chat: moment.chat, messages: moment.messages });
        const profile = await streamAsOf(bed.store, profileStreamId(owner), asOf);
        expect(profile.kind === 'profile' && profile.view).toEqual({ profile: moment.profile, history: moment.history });
        expect(chat.state).toMatchObject({ status: 'active', owner, chatId: 'h0' });
      });
    }
  }

  it('rebuilding into the same schema again replaces what it held', async () => {
    const asOf = await resolveAsOf(bed.store, moments[1]!.cursor);
    await buildAsOf({ pool: bed.pool, store: bed.store, projections: allProjections, schema: 'as_of_again', asOf: await resolveAsOf(bed.store, moments[0]!.cursor) });
    await buildAsOf({ pool: bed.pool, store: bed.store, projections: allProjections, schema: 'as_of_again', asOf });
    expect(await bed.tables('as_of_again')).toEqual(moments[1]!.tables);
    const [checkpoint] = await selectRows(bed.pool, z.object({ cursor: z.string() }), sql.unsafe`SELECT cursor FROM as_of_again.projection_checkpoints WHERE name = 'chats'`);
    expect(checkpoint!.cursor).toBe(moments[1]!.cursor);
  });

  it('refuses the live schema, a system schema, a position with no event and a malformed moment', async () => {
    const asOf = await resolveAsOf(bed.store, moments[0]!.cursor);
    for (const schema of ['public', 'pg_catalog', 'information_schema', 'Bad-Name']) {
      const error = await buildAsOf({ pool: bed.pool, store: bed.store, projections: allProjections, schema, asOf }).catch((caught: unknown) => caught);
      expect(isLakechatError(error, 'LAKECHAT_ERR_REPLAY_INVALID_SCHEMA')).toBe(true);
    }
    expect(isLakechatError(await resolveAsOf(bed.store, '999999999').catch((caught: unknown) => caught), 'LAKECHAT_ERR_REPLAY_AS_OF_NOT_FOUND')).toBe(true);
    expect(isLakechatError(await resolveAsOf(bed.store, 'last tuesday').catch((caught: unknown) => caught), 'LAKECHAT_ERR_REPLAY_INVALID_ARGUMENT')).toBe(true);
  });
});
