import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { usePostgresInstances } from './postgres-fixture.ts';
import { eventually, startChat } from './ws-support.ts';

const { instance: startApp, client: openClient, databaseUrl } = usePostgresInstances();

let listener: pg.Client | undefined;
afterEach(async () => {
  await listener?.end();
  listener = undefined;
});

/** Counts the NOTIFYs on the signal channel, from a session of its own. */
async function countNotifications(): Promise<() => number> {
  listener = new pg.Client({ connectionString: databaseUrl() });
  await listener.connect();
  let count = 0;
  listener.on('notification', (message) => {
    if (message.channel === 'lakechat_signals') count++;
  });
  await listener.query('LISTEN lakechat_signals');
  return () => count;
}

describe('signals between instances', () => {
  it('relays a burst of signals in a few NOTIFYs, not one each (each NOTIFY cost PostgreSQL about a millisecond), every signal delivered once and in order', async () => {
    const a = await startApp({ env: { WS_SIGNALS_PER_SECOND: '0', WS_USER_SIGNALS_PER_SECOND: '0' } });
    const b = await startApp();
    const user = 'streamer@example.com';
    await startChat(a, user, 's1');
    const onB = await openClient(b.url, { user });
    expect((await onB.subscribe({ id: 'sub', scope: 'chat', chatId: 's1' })).type).toBe('caught_up');
    const notifications = await countNotifications();
    const onA = await openClient(a.url, { user });
    // Authorized once, so the burst below is relayed without waiting on a lookup.
    onA.send({ type: 'signal', id: 'first', chatId: 's1', kind: 'typing', data: { n: -1 } });
    await onB.next((frame) => frame.type === 'signal' && frame.data.n === -1);
    const before = notifications();

    for (let n = 0; n < 40; n++) onA.send({ type: 'signal', chatId: 's1', kind: 'delta', data: { n, text: 'x'.repeat(100) } });
    const received = await onB.until(() => {
      const deltas = onB.frames.filter((frame) => frame.type === 'signal' && frame.kind === 'delta');
      return deltas.length >= 40 ? deltas : undefined;
    }, 'every delta on B');
    expect(received.map((frame) => frame.data.n)).toEqual(Array.from({ length: 40 }, (_, n) => n));
    expect(onA.errors()).toEqual([]);
    // Forty signals of about 300 bytes: a handful of NOTIFYs of up to 8000 bytes each.
    await eventually('the listener to hear them', () => (notifications() > before ? true : undefined));
    expect(notifications() - before).toBeLessThanOrEqual(10);
  });
});
