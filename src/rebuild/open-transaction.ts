import { type DatabasePool, type DatabasePoolConnection, type DatabaseTransactionConnection, sql } from 'slonik';
import { ddl } from './ddl.ts';

/**
 * A transaction on a connection of its own, begun and ended by hand. Slonik's `transaction()` refuses
 * any query on another connection while its callback runs; the swap and the comparison need exactly
 * that (they read the log and commit batches elsewhere while holding the checkpoint locks here).
 */
export async function withOpenTransaction<T>(
  pool: DatabasePool,
  begin: 'BEGIN' | 'BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY',
  work: (tx: DatabaseTransactionConnection) => Promise<T>,
): Promise<T> {
  return pool.connect(async (connection: DatabasePoolConnection) => {
    await connection.query(ddl(begin));
    let result: T;
    try {
      result = await work(connection as unknown as DatabaseTransactionConnection);
    } catch (error) {
      await connection.query(sql.unsafe`ROLLBACK`).catch(() => undefined);
      throw error;
    }
    await connection.query(sql.unsafe`COMMIT`);
    return result;
  });
}
