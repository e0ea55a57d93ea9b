import { chatStreamId } from '../../src/chats/stream-id.ts';
import { openProjections, type ReadModels } from '../../src/projection-runner/index.ts';
import { memoryApp } from '../http/app-under-test.ts';
import { describeUserErasure } from './erase-user.ts';

async function viewOf(models: ReadModels, user: string): Promise<string> {
  return JSON.stringify([
    await models.chats.list(user, { limit: 100 }),
    await models.messages.list(chatStreamId(user, 'budget'), { after: 0, limit: 100 }),
    await models.profiles.get(user),
    await models.profileHistory.list(user, { after: 0, limit: 100 }),
  ]);
}

describeUserErasure('in memory', async () => {
  const t = await memoryApp();
  return {
    t,
    rebuiltView: async (user) => {
      // Read models built afresh from the log as it is now, beside the app's own.
      const rebuilt = await openProjections({ store: t.store, pool: null });
      await rebuilt.runner.waitFor((await t.store.readAll({ limit: 10_000 })).events.at(-1)?.cursor ?? null, 10_000);
      const view = { live: await viewOf(t.app.lakechat.projections.readModels, user), rebuilt: await viewOf(rebuilt.readModels, user) };
      await rebuilt.runner.stop();
      return view;
    },
  };
});
