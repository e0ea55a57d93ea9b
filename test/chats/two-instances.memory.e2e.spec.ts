import { MemoryEventStore } from '../../src/event-store/index.ts';
import { memoryApp } from '../http/app-under-test.ts';
import { describeTwoInstances } from './two-instances.ts';

describeTwoInstances('in memory', async () => {
  const store = new MemoryEventStore({ pollIntervalMs: 20 });
  const a = await memoryApp({ store });
  const b = await memoryApp({ store });
  return [
    a,
    b,
    async () => {
      await a.app.close();
      await b.app.close();
      await store.close();
    },
  ];
});
