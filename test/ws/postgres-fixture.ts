import { afterAll, afterEach, beforeAll } from 'vitest';
import { runMigrations } from '../../src/migrate.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { Client, type Instance, startInstance } from './ws-support.ts';

export interface PostgresInstances {
  /** The test file's migrated database (available once its beforeAll has run). */
  databaseUrl(): string;
  /** Starts an app instance on the database; closed after the test. */
  instance(options?: Parameters<typeof startInstance>[0]): Promise<Instance>;
  /** Opens a WebSocket client; terminated after the test. */
  client(url: string, options?: ConstructorParameters<typeof Client>[1]): Promise<Client>;
}

/**
 * A migrated database for the test file, and app instances and WebSocket clients that are closed
 * after each test: the set-up of every multi-instance PostgreSQL test.
 */
export function usePostgresInstances(): PostgresInstances {
  let database: TestDatabase | undefined;
  const instances: Instance[] = [];
  const clients: Client[] = [];
  beforeAll(async () => {
    database = await createTestDatabase();
    await runMigrations({ connectionString: database.url });
  });
  afterAll(async () => {
    await database?.drop();
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) client.socket.terminate();
    for (const instance of instances.splice(0)) await instance.close();
  });
  const databaseUrl = (): string => {
    if (database === undefined) throw new Error('the test database is not created yet');
    return database.url;
  };
  return {
    databaseUrl,
    async instance(options = {}) {
      const started = await startInstance({ databaseUrl: databaseUrl(), ...options });
      instances.push(started);
      return started;
    },
    async client(url, options = {}) {
      const opened = await Client.open(url, options);
      clients.push(opened);
      return opened;
    },
  };
}
