import { describe, expect, it } from 'vitest';
import { MemoryEventStore } from '../../src/event-store/index.ts';
import { LakechatMetrics } from '../../src/metrics/index.ts';
import type { ProjectionRunner } from '../../src/projection-runner/index.ts';
import type { Storage } from '../../src/storage.ts';

describe('lakechat’s metrics read at scrape time', () => {
  it('leave a source that fails out of the scrape instead of failing it, and follow it again once it answers', async () => {
    const store = new MemoryEventStore();
    let storageUp = false;
    const storage = {
      eventStore: store,
      status: () => {
        if (!storageUp) throw new Error('status unavailable');
        return { storage: 'memory', mode: 'memory', degraded: false };
      },
      close: async () => {},
    } as unknown as Storage;
    const metrics = new LakechatMetrics({ storage });
    metrics.attach({ runner: { lag: async () => Promise.reject(new Error('database away')), status: () => ({ parkedEvents: 2 }) } as unknown as ProjectionRunner });

    const text = await metrics.render();
    expect(text).not.toMatch(/^lakechat_storage_mode\{/m);
    expect(text).toMatch(/^lakechat_projection_lag_seconds NaN$/m);
    expect(text).toMatch(/^lakechat_projection_parked_events 2$/m);
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);

    storageUp = true;
    expect(await metrics.render()).toContain('lakechat_storage_mode{storage="memory",mode="memory",degraded="false"} 1');
    await store.close();
  });
});
