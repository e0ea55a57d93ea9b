import type { CommonQueryMethods, DatabasePool } from 'slonik';

interface Lent {
  connection: Promise<CommonQueryMethods>;
  release(): void;
}

/**
 * One pooled connection lent to a run of statements that follow one another (a single writer's
 * appends, groups written back to back). Taking a connection from the pool for every statement cost
 * a single writer about a sixth of its rate, and the pool hands its idle connections out in turn,
 * so each statement also met a colder session (docs/benchmarks.md).
 *
 * A held connection fails over like a pooled one. A statement it fails under throws the connection's
 * own failure (57P01, a reset...), which the caller retries, and the connection goes back to the pool,
 * which drops it. A connection the server closes between two statements is forgotten as soon as
 * Slonik reports it (it rejects `connect` with the connection's error), before the next statement
 * could be sent: lent on, it would fail that statement with the driver's "Client is pending destroy.",
 * which is no connection failure, so the append would not be retried but answered 503
 * (docs/benchmarks.md, "Where a single writer's time goes").
 */
export class ConnectionLease {
  private current: Lent | undefined;

  constructor(private readonly pool: Pick<DatabasePool, 'connect'>) {}

  /** Runs one statement on the held connection (taking one first); a failure gives the connection back. */
  async run<T>(statement: (db: CommonQueryMethods) => Promise<T>): Promise<T> {
    const lent = (this.current ??= this.take());
    const db = await lent.connection;
    try {
      return await statement(db);
    } catch (error) {
      this.forget(lent);
      throw error;
    }
  }

  /** Gives the connection back to the pool (at once, or as soon as it arrives). */
  end(): void {
    if (this.current !== undefined) this.forget(this.current);
  }

  private forget(lent: Lent): void {
    lent.release();
    if (this.current === lent) this.current = undefined;
  }

  private take(): Lent {
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const connection = new Promise<CommonQueryMethods>((resolve, reject) => {
      let lent = false;
      this.pool
        .connect(async (held) => {
          lent = true;
          resolve(held);
          await released;
        })
        .catch((error: unknown) => {
          // Before lending: the statement that asked fails with the pool's error (and is retried).
          // After: the connection failed; the pool drops it, and so does the lease.
          this.forget(taken);
          if (!lent) reject(error);
        });
    });
    const taken: Lent = { connection, release };
    return taken;
  }
}
