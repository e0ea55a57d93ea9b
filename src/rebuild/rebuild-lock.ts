import { type DatabasePool, sql } from 'slonik';
import { z } from 'zod';
import { LakechatError } from '../errors.ts';
import { selectRows } from '../projection-runner/index.ts';

/** The first key of every lakechat rebuild lock (advisory locks take two int4 keys; the second hashes the name). */
export const rebuildLockClass = 1_279_345_491;

const acquired = z.object({ acquired: z.boolean() });
const heldRow = z.object({ name: z.string() });

/**
 * Runs `work` holding a session advisory lock per name (e.g. "rebuild:chats"), on a connection of its
 * own kept for the whole run: a second rebuild of the same projection fails at once instead of
 * interleaving, and a crashed one releases its locks with its connection. Locks are taken in name order.
 */
export async function withRebuildLocks<T>(pool: DatabasePool, names: readonly string[], work: () => Promise<T>): Promise<T> {
  const sorted = [...new Set(names)].sort();
  return pool.connect(async (connection) => {
    const held: string[] = [];
    try {
      for (const name of sorted) {
        const [row] = await selectRows(
          connection,
          acquired,
          sql.unsafe`
          SELECT pg_try_advisory_lock(${rebuildLockClass}::int4, hashtext(${name})) AS acquired`,
        );
        if (row?.acquired !== true) {
          throw new LakechatError(
            'LAKECHAT_ERR_REBUILD_IN_PROGRESS',
            `Another process is already rebuilding "${name.replace(/^[^:]*:/, '')}"; wait for it to finish (npm run projections:status shows it)`,
            {
              details: { lock: name },
            },
          );
        }
        held.push(name);
      }
      return await work();
    } finally {
      for (const name of held.reverse()) {
        await connection.query(sql.unsafe`SELECT pg_advisory_unlock(${rebuildLockClass}::int4, hashtext(${name}))`).catch(() => undefined);
      }
    }
  });
}

/** Which of `names` some session holds right now. */
export async function heldRebuildLocks(pool: DatabasePool, names: readonly string[]): Promise<Set<string>> {
  if (names.length === 0) return new Set();
  const rows = await selectRows(
    pool,
    heldRow,
    sql.unsafe`
    SELECT wanted.name FROM unnest(${sql.array(names, 'text')}) AS wanted(name)
    WHERE EXISTS (
      SELECT 1 FROM pg_locks
      WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND classid = ${rebuildLockClass}::int4::oid AND objid = hashtext(wanted.name)::oid AND objsubid = 2)`,
  );
  return new Set(rows.map((row) => row.name));
}
