import type { CommonQueryMethods, DatabasePool } from 'slonik';

interface Lent {
  connection: Promise<CommonQueryMethods>;
  release(): void;
}

/**
 * One pooled connection lent to a run of statements that follow one another (a single writer's
 * appends, groups written back to back). Taking a connection from the pool for every statement cost
 * a single writer about a sixth of its rate, and the pool hands its idle connections out in turn,
 * so each statement also met a colder session (docs/benchmarks.md). The holder gives it back when
 * its run ends, and after any failure (the pool drops a broken connection; the next statement takes
 * a new one).
 */
export class ConnectionLease {
  private current: Lent | undefined;

  constructor(private readonly pool: Pick<DatabasePool, 'connect'>) {}

  connection(): Promise<CommonQueryMethods> {
    this.current ??= this.take();
    return this.current.connection;
  }

  /** Gives the connection back to the pool (at once, or as soon as it arrives). */
  end(): void {
    this.current?.release();
    this.current = undefined;
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
          // Before lending: the statement that asked fails with the pool's error (and may retry).
          // After: giving a broken connection back is the pool's concern.
          if (!lent) reject(error);
        });
    });
    const lent: Lent = { connection, release };
    connection.catch(() => {
      if (this.current === lent) this.current = undefined;
    });
    return lent;
  }
}
