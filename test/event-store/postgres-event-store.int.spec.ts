import { afterAll, beforeAll } from 'vitest';
import { describeEventStoreContract } from './contract.ts';
import { createPostgresTestBed, type PostgresTestBed } from './postgres-support.ts';

let bed: PostgresTestBed;
beforeAll(async () => {
  bed = await createPostgresTestBed();
});
afterAll(async () => {
  await bed.close();
});

describeEventStoreContract('PostgreSQL', async () => {
  await bed.truncate();
  const store = bed.openStore();
  return { store, cleanup: () => store.close() };
});
