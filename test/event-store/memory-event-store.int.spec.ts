import { MemoryEventStore } from '../../src/event-store/index.ts';
import { describeEventStoreContract } from './contract.ts';

describeEventStoreContract('in-memory', async () => {
  const store = new MemoryEventStore();
  return { store, cleanup: () => store.close() };
});
