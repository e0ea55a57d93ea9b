import type { Logger } from 'pino';
import type { DatabasePool } from 'slonik';
import { chatsProjection, type ChatsQueries } from '../../projections/chats.ts';
import { messagesProjection, type MessagesQueries } from '../../projections/messages.ts';
import { profileHistoryProjection, type ProfileHistoryQueries } from '../../projections/profile-history.ts';
import { profilesProjection, type ProfilesQueries } from '../../projections/profiles.ts';
import type { EventStore } from '../event-store/index.ts';
import { MemoryProjectionBackend } from './memory-backend.ts';
import { PostgresProjectionBackend } from './postgres-backend.ts';
import type { AnyProjection } from './projection.ts';
import { ProjectionRunner } from './runner.ts';
import { liveTables, tableNames } from './tables.ts';

/** Every read model the API serves, in the order they are applied. */
export const allProjections: readonly AnyProjection[] = [chatsProjection, messagesProjection, profilesProjection, profileHistoryProjection];

export interface ReadModels {
  chats: ChatsQueries;
  messages: MessagesQueries;
  profiles: ProfilesQueries;
  profileHistory: ProfileHistoryQueries;
}

export interface Projections {
  runner: ProjectionRunner;
  readModels: ReadModels;
  /** In memory only: deletes the rows `match` selects from every read model (an erasure, src/erasure). */
  eraseRows?: MemoryProjectionBackend['eraseRows'];
}

export interface OpenProjectionsOptions {
  store: EventStore;
  /** The database of the PostgreSQL store; null keeps the read models in memory. */
  pool: DatabasePool | null;
  batchSize?: number;
  waitTimeoutMs?: number;
  logger?: Logger | undefined;
}

/**
 * Builds the read models next to the event store (tables in its database, or memory with the
 * in-memory store) and starts the runner that keeps them up to date.
 */
export async function openProjections(options: OpenProjectionsOptions): Promise<Projections> {
  const { store, pool, logger } = options;
  let readModels: ReadModels;
  let runner: ProjectionRunner;
  const runnerOptions = { batchSize: options.batchSize, waitTimeoutMs: options.waitTimeoutMs, logger };
  if (pool === null) {
    const backend = new MemoryProjectionBackend(allProjections, logger);
    readModels = {
      chats: backend.queries(chatsProjection),
      messages: backend.queries(messagesProjection),
      profiles: backend.queries(profilesProjection),
      profileHistory: backend.queries(profileHistoryProjection),
    };
    runner = new ProjectionRunner(store, backend, runnerOptions);
    await runner.start();
    return { runner, readModels, eraseRows: (selection) => backend.eraseRows(selection) };
  } else {
    const backend = new PostgresProjectionBackend(pool, allProjections.map((projection) => ({ projection })), { logger });
    const live = tableNames(liveTables);
    readModels = {
      chats: chatsProjection.postgres.queries(pool, live),
      messages: messagesProjection.postgres.queries(pool, live),
      profiles: profilesProjection.postgres.queries(pool, live),
      profileHistory: profileHistoryProjection.postgres.queries(pool, live),
    };
    runner = new ProjectionRunner(store, backend, runnerOptions);
  }
  await runner.start();
  return { runner, readModels };
}
