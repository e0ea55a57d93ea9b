import type { Logger } from 'pino';
import { isLakechatError } from '../errors.ts';
import type { LiveTail, TailReader } from './live-tail.ts';
import type { RecordedEvent, SubscribeOptions } from './types.ts';

export interface SubscriptionSource extends TailReader {
  headCursor(): Promise<string | null>;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

function once(release: () => void): () => void {
  let released = false;
  return () => {
    if (released) return;
    released = true;
    release();
  };
}

/**
 * Catch up by reading the store page by page, then join the shared live tail. A member that falls
 * too far behind is detached by the tail and comes back here to read from its cursor: a slow
 * consumer costs the server a bounded queue, never a lost or repeated event.
 */
export async function* subscribeToStore(
  source: SubscriptionSource,
  tail: LiveTail,
  options: SubscribeOptions,
  pageSize: number,
  logger?: Logger,
): AsyncGenerator<RecordedEvent, void, undefined> {
  const { filter, signal, onCaughtUp, maxPageBytes, maxQueuedBytes, beforeRead } = options;
  let cursor: string | null = options.after === undefined || options.after === 'end' ? await source.headCursor() : options.after;
  let caughtUp = false;
  let failures = 0;
  // With a byte budget, ask for about as many rows as fit (the store cuts the page anyway; asking
  // for many more only makes it size rows it will not return).
  let limit = pageSize;
  const aborted = (): boolean => signal?.aborted === true;

  while (!aborted()) {
    let page;
    const erasures = tail.erasures;
    const release = beforeRead === undefined ? undefined : once(await beforeRead(signal));
    try {
      if (aborted()) return;
      page = await source.readAll({ ...filter, after: cursor, limit, ...(maxPageBytes === undefined ? {} : { maxBytes: maxPageBytes }) });
      failures = 0;
    } catch (error) {
      // A cursor the store never issued fails the same way every time: tell the caller.
      if (isLakechatError(error, 'LAKECHAT_ERR_STORE_INVALID_CURSOR')) throw error;
      failures++;
      logger?.warn({ err: error, failures }, 'subscription read failed; retrying');
      release?.();
      await sleep(Math.min(50 * 2 ** failures, 5_000), signal);
      continue;
    } finally {
      release?.();
    }
    // The page is no longer needed once handed out: a paused consumer holds only what is left of it.
    if (aborted()) return;
    const { events } = page;
    const more = page.truncated === true || events.length >= limit;
    limit = page.truncated === true ? Math.min(pageSize, Math.max(16, events.length * 2)) : Math.min(pageSize, limit * 2);
    let erasedMeanwhile = false;
    for (let i = 0; i < events.length; i++) {
      // An erasure since the page was read: read the rest again, so an erased payload is never handed out.
      if (tail.erasures !== erasures) {
        erasedMeanwhile = true;
        break;
      }
      const event = events[i]!;
      (events as (RecordedEvent | undefined)[])[i] = undefined;
      cursor = event.cursor;
      yield event;
      if (aborted()) return;
    }
    if (erasedMeanwhile) continue;
    cursor = page.cursor;
    if (more || cursor === null) continue;

    const member = tail.join(cursor, filter, maxQueuedBytes);
    if (member === null) continue; // the tail is ahead of us: read the gap from the store first
    if (!caughtUp) {
      caughtUp = true;
      onCaughtUp?.(cursor);
    }
    const onAbort = (): void => member.close();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        const pulled = member.next();
        const item = pulled instanceof Promise ? await pulled : pulled;
        if (item === 'closed') return;
        if (item === 'detached') break;
        yield item;
      }
      cursor = member.cursor;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      tail.leave(member);
    }
  }
}
