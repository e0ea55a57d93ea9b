/**
 * The live API keeps answering, over a real socket, while every projection is rebuilt and swapped in
 * beneath it; what it wrote meanwhile is in the swapped-in tables.
 */
import { afterEach, expect, it } from 'vitest';
import { allProjections } from '../../src/projection-runner/read-models.ts';
import { rebuildProjections } from '../../src/rebuild/index.ts';
import { createLogBed, type LogBed, writeHistory } from '../replay/log-bed.ts';
import { type PostgresAppUnderTest, postgresApp } from '../replay/postgres-app.ts';

let bed: LogBed | undefined;
let api: PostgresAppUnderTest | undefined;
afterEach(async () => {
  await api?.close();
  await bed?.close();
});

it('answers reads and writes during a rebuild, and the swapped-in tables hold what it wrote', { timeout: 120_000 }, async () => {
  bed = await createLogBed();
  api = await postgresApp(bed);
  const user = 'live@example.com';
  expect((await api.fetch(user, '/api/chats', { method: 'POST', body: { id: 'during', title: 'During the rebuild' } })).status).toBe(201);
  await writeHistory(bed.writer, { users: 6, chatsPerUser: 3, messagesPerChat: 8 });

  let rebuilding = true;
  const statuses: number[] = [];
  let posted = 0;
  let duringBuild = 0;
  let phase = '';
  const traffic = (async () => {
    for (let i = 0; rebuilding; i++) {
      const post = await api!.fetch(user, '/api/chats/during/messages', { method: 'POST', body: { role: 'user', content: `posted during the rebuild ${i}` } });
      statuses.push(post.status);
      if (post.status === 201) posted++;
      statuses.push((await api!.fetch(user, '/api/chats')).status);
      statuses.push((await api!.fetch(user, '/api/chats/during/messages')).status);
      if (phase === 'build') duringBuild++;
    }
  })();
  const report = await rebuildProjections({
    pool: bed.pool,
    store: bed.store,
    projections: allProjections,
    batchSize: 20,
    onProgress: (progress) => {
      phase = progress.phase;
    },
    // The last requests go in while the swap runs.
    beforeSwap: async () => {
      phase = 'swap';
    },
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  rebuilding = false;
  await traffic;

  expect(report.swapped).toBe(true);
  expect(duringBuild).toBeGreaterThan(0);
  expect(statuses.length).toBeGreaterThan(0);
  expect(statuses.filter((status) => status >= 300)).toEqual([]);
  const messages = (await (await api.fetch(user, `/api/chats/during/messages?limit=500`)).json()) as { messages: { content: string }[] };
  expect(messages.messages.filter((message) => message.content.startsWith('posted during the rebuild'))).toHaveLength(posted);
});
