import { afterEach, describe, it } from 'vitest';
import { Client, type Instance, startInstance } from '../ws/ws-support.ts';
import { ownSubscriptionAcrossErasure } from './own-subscription.ts';

const opened: { clients: Client[]; instances: Instance[] } = { clients: [], instances: [] };
afterEach(async () => {
  for (const client of opened.clients.splice(0)) client.socket.terminate();
  for (const instance of opened.instances.splice(0)) await instance.close();
});

describe("the erased user's own subscription (in memory)", () => {
  it('resumed after the erasure, receives the tombstones after its cursor in place, all of them from the start, then new events', { timeout: 60_000 }, async () => {
    const a = await startInstance();
    opened.instances.push(a);
    await ownSubscriptionAcrossErasure(a, async (url, user) => {
      const client = await Client.open(url, { user });
      opened.clients.push(client);
      return client;
    });
  });
});
