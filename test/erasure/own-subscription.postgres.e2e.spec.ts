import { describe, it } from 'vitest';
import { usePostgresInstances } from '../ws/postgres-fixture.ts';
import { ownSubscriptionAcrossErasure } from './own-subscription.ts';

const { instance, client } = usePostgresInstances();

describe("the erased user's own subscription (PostgreSQL)", () => {
  it('resumed after the erasure on the instance that ran it, receives the tombstones after its cursor in place, all of them from the start, then new events', {
    timeout: 120_000,
  }, async () => {
    await ownSubscriptionAcrossErasure(await instance(), (url, user) => client(url, { user }));
  });
});
