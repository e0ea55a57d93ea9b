import pg from 'pg';

export interface SeededLog {
  events: number;
  chats: number;
  users: number;
}

export interface SeedOptions {
  /** Exactly this many events (the log is cut at this length; every stream stays a valid prefix). */
  events: number;
  /** Transactions the rows are inserted in, so the log holds many transaction ids like a real one. */
  transactions?: number;
}

/**
 * Seeds a realistic event log with SQL (generate_series) rather than appends, in seconds: users
 * with profiles updated now and then, chats started, renamed, deleted, and mostly messages posted,
 * interleaved in time across chats. Every event's data matches its zod schema, stream versions
 * and message positions have no gaps, so the projections accept the whole log.
 */
export async function seedEventLog(connectionString: string, options: SeedOptions): Promise<SeededLog> {
  const total = options.events;
  const transactions = options.transactions ?? 20;
  // ~19 events per chat, ~2.5% profile events, as a busy assistant's log would hold.
  const chats = Math.max(1, Math.ceil(total / 19.3));
  const users = Math.max(1, Math.ceil(chats / 10));
  const client = new pg.Client({ connectionString, application_name: 'lakechat-bench-seed' });
  await client.connect();
  try {
    await client.query(
      `
      CREATE TEMP TABLE seed_plan ON COMMIT PRESERVE ROWS AS
      WITH chat_events AS (
        SELECT 'chat' AS kind, c AS id, v, c::bigint * 40 + (v - 1)::bigint * $2 AS at
        FROM generate_series(0, $2 - 1) AS c
        CROSS JOIN LATERAL generate_series(1, 19 + (c % 10 = 0)::int + (c % 50 = 0)::int) AS v
      ), profile_events AS (
        SELECT 'profile' AS kind, u AS id, v, u::bigint * 400 + (v - 1)::bigint * 5 * $2 AS at
        FROM generate_series(0, $3 - 1) AS u
        CROSS JOIN LATERAL generate_series(1, 4 + (u % 20 = 0)::int) AS v
      )
      SELECT row_number() OVER (ORDER BY at, kind, id) AS seq, kind, id, v
      FROM (SELECT * FROM chat_events UNION ALL SELECT * FROM profile_events) AS planned
      ORDER BY at, kind, id
      LIMIT $1`,
      [total, chats, users],
    );
    // Maintaining seven indexes row by row costs three times the insert itself: drop them, insert,
    // then build them again from their own definitions, so the schema ends exactly as migrated.
    const { rows: indexes } = await client.query<{ constraint: string | null; name: string; definition: string }>(`
      SELECT c.conname AS constraint, i.relname AS name,
        coalesce(pg_get_constraintdef(c.oid), pg_get_indexdef(i.oid)) AS definition
      FROM pg_index AS x
      JOIN pg_class AS i ON i.oid = x.indexrelid
      LEFT JOIN pg_constraint AS c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid
      WHERE x.indrelid = 'events'::regclass`);
    for (const index of indexes) {
      await client.query(index.constraint === null ? `DROP INDEX ${quote(index.name)}` : `ALTER TABLE events DROP CONSTRAINT ${quote(index.constraint)}`);
    }
    const chunk = Math.ceil(total / transactions);
    for (let from = 1; from <= total; from += chunk) {
      await client.query(insertChunk, [from, Math.min(total, from + chunk - 1), total, users]);
    }
    await client.query(`SET maintenance_work_mem = '256MB'`);
    for (const index of indexes) {
      await client.query(index.constraint === null ? index.definition : `ALTER TABLE events ADD CONSTRAINT ${quote(index.constraint)} ${index.definition}`);
    }
    await client.query('DROP TABLE seed_plan');
    await client.query('VACUUM ANALYZE events');
  } finally {
    await client.end();
  }
  return { events: total, chats, users };
}

function quote(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}

// Chat c belongs to user c % users; its stream holds ChatStarted, 18 MessagePosted, then for one chat
// in ten a ChatRenamed and for one in fifty a ChatDeleted. Profile u gets four ProfileUpdated, one in
// twenty a ProfileDeleted. recorded_at spreads the log over 30 days in its order.
const insertChunk = `
  INSERT INTO events (stream_id, stream_version, event_id, event_type, data, metadata, owner, recorded_at)
  SELECT
    CASE WHEN p.kind = 'chat' THEN 'chat-' ELSE 'profile-' END || md5(p.kind || p.id)::uuid::text,
    p.v,
    gen_random_uuid(),
    t.event_type,
    t.data,
    jsonb_build_object('actor', owner_email, 'correlationId', gen_random_uuid()::text, 'client', 'lakechat-web/1.0'),
    owner_email,
    timestamptz '2026-01-01 00:00:00+00' + (p.seq * interval '30 days') / $3
  FROM seed_plan AS p
  CROSS JOIN LATERAL (SELECT 'user' || CASE WHEN p.kind = 'chat' THEN p.id % $4 ELSE p.id END || '@example.com' AS owner_email) AS o
  CROSS JOIN LATERAL (
    SELECT
      CASE
        WHEN p.kind = 'profile' AND p.v = 5 THEN 'ProfileDeleted'
        WHEN p.kind = 'profile' THEN 'ProfileUpdated'
        WHEN p.v = 1 THEN 'ChatStarted'
        WHEN p.v <= 19 THEN 'MessagePosted'
        WHEN p.v = 20 AND p.id % 10 = 0 THEN 'ChatRenamed'
        ELSE 'ChatDeleted'
      END AS event_type
  ) AS kind_of
  CROSS JOIN LATERAL (
    SELECT kind_of.event_type,
      CASE kind_of.event_type
        WHEN 'ChatStarted' THEN jsonb_build_object('chatId', 'c' || p.id, 'userEmail', owner_email,
          'title', 'Budget question ' || p.id, 'agentId', CASE WHEN p.id % 3 = 0 THEN 'advisor' END)
        WHEN 'MessagePosted' THEN jsonb_build_object('chatId', 'c' || p.id,
          'messageId', gen_random_uuid()::text, 'position', p.v - 1,
          'role', CASE WHEN p.v % 2 = 0 THEN 'user' ELSE 'assistant' END,
          'content', left(repeat('How much should I save each month for retirement given my income? ', 6), 20 + (p.id * 7 + p.v * 13) % 200))
          || CASE WHEN p.v % 2 = 1 THEN jsonb_build_object('traceId', 'tr-' || p.id || '-' || p.v) ELSE '{}' END
        WHEN 'ChatRenamed' THEN jsonb_build_object('chatId', 'c' || p.id, 'title', 'Retirement plan ' || p.id)
        WHEN 'ChatDeleted' THEN jsonb_build_object('chatId', 'c' || p.id)
        WHEN 'ProfileUpdated' THEN jsonb_build_object('userEmail', owner_email, 'changes',
          CASE p.v
            WHEN 1 THEN jsonb_build_object('dateOfBirth', (date '1960-01-01' + (p.id % 15000))::text, 'maritalStatus', 'married',
              'employmentStatus', 'employed_full_time', 'annualIncome', 40000 + (p.id % 100) * 1000)
            WHEN 2 THEN jsonb_build_object('riskTolerance', 'moderate', 'financialGoals', jsonb_build_array('retire at 60', 'buy a house'))
            WHEN 3 THEN jsonb_build_object('jobTitle', 'Engineer ' || p.id % 7, 'yearsEmployed', p.id % 30)
            ELSE jsonb_build_object('numberOfDependents', p.id % 4, 'notes', 'Updated after review')
          END)
        ELSE jsonb_build_object('userEmail', owner_email)
      END AS data
  ) AS t
  WHERE p.seq BETWEEN $1 AND $2
  ORDER BY p.seq`;
