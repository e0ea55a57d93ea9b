import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { withClient } from '../event-store/postgres-support.ts';
import { usePostgresInstances } from './postgres-fixture.ts';
import { eventually, type Instance } from './ws-support.ts';

const { instance: startApp, client: openClient, databaseUrl } = usePostgresInstances();

let rejections: unknown[] = [];
const recordRejection = (reason: unknown): void => {
  rejections.push(reason);
};
beforeEach(() => {
  rejections = [];
  process.on('unhandledRejection', recordRejection);
});
afterEach(() => {
  process.off('unhandledRejection', recordRejection);
});

async function metric(instance: Instance, sample: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${instance.port}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
}

/** NOTIFY from a session of its own, as any role that can connect may. */
async function rawNotify(channel: string, payloads: readonly string[]): Promise<void> {
  await withClient(databaseUrl(), async (client) => {
    for (const payload of payloads) await client.query('SELECT pg_notify($1, $2)', [channel, payload]);
  });
}

const hostileEventPayloads = [
  '{"i":"x","c":"x"}',
  'not json at all',
  '[]',
  '{"i":"x"}',
  '{"i":"x","c":"1-2-3"}',
  '{"i":"x","c":"99999999999999999999-1"}', // above xid8
  '{"i":"x","c":"1-99999999999999999999"}', // above int8
  `{"i":"${'x'.repeat(5_000)}","c":"1-1"}`,
];

const hostileSignalPayloads = [
  '{"i":"x"}',
  'null',
  '{"i":"x","n":1,"o":"a","s":"s","c":"c","k":"shout","d":{}}',
  `{"i":"x","n":1,"o":"${'o'.repeat(7_000)}","s":"s","c":"c","k":"typing","d":{}}`,
  // Batches (arrays of envelopes): empty, or with one envelope that is not valid.
  '[]',
  '[{"i":"x"}]',
];

describe('Stopped: one NOTIFY ends every instance', () => {
  it('ignores and counts notifications and relayed signals that are not valid, keeps serving, and keeps delivering', async () => {
    const a = await startApp();
    // B polls rarely: what it delivers within the test comes through NOTIFY.
    const b = await startApp({ pollIntervalMs: 60_000 });
    const user = 'hostile@example.com';
    expect((await a.http(user, 'POST', '/api/chats', { id: 'h1' })).status).toBe(201);
    const onB = await openClient(b.url, { user });
    expect((await onB.subscribe({ id: 'sub', scope: 'chat', chatId: 'h1', after: null })).type).toBe('caught_up');
    await eventually('B listening', () => ((b.store as { listening?: boolean }).listening === true ? true : undefined));

    await rawNotify('lakechat_events', hostileEventPayloads);
    await rawNotify('lakechat_signals', hostileSignalPayloads);
    await eventually('every hostile payload counted', async () =>
      (await metric(b, 'lakechat_notifications_ignored_total{channel="lakechat_events"}')) === hostileEventPayloads.length &&
      (await metric(b, 'lakechat_notifications_ignored_total{channel="lakechat_signals"}')) === hostileSignalPayloads.length
        ? true
        : undefined,
    );

    // Still serving, and still delivering what another instance appends.
    expect((await a.http(user, 'POST', '/api/chats/h1/messages', { content: 'after the noise' })).status).toBe(201);
    const event = await onB.next((frame) => frame.type === 'event' && frame.data.content === 'after the noise');
    expect(event.subscription).toBe('sub');
    expect((await b.http(user, 'GET', '/api/chats/h1/messages')).status).toBe(200);
    const onA = await openClient(a.url, { user });
    await onA.subscribe({ id: 'sa', scope: 'chat', chatId: 'h1', after: null });
    onA.send({ type: 'signal', chatId: 'h1', kind: 'typing', data: { on: true } });
    await onB.next((frame) => frame.type === 'signal' && frame.kind === 'typing');
    expect(rejections).toEqual([]);
  });
});
