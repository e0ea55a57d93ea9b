import { createPostgresTestBed } from '../event-store/postgres-support.ts';
import { postgresApp } from '../http/app-under-test.ts';
import { describeTwoInstances } from './two-instances.ts';

describeTwoInstances('PostgreSQL', async () => {
  const bed = await createPostgresTestBed(16);
  const a = await postgresApp({ bed });
  const b = await postgresApp({ bed });
  return [
    a,
    b,
    async () => {
      await a.close();
      await b.close();
      await bed.close();
    },
  ];
});
