import { z } from 'zod';
import { chatIdSchema } from '../chats/events.ts';
import { chatStreamId } from '../chats/stream-id.ts';
import { LakechatError } from '../errors.ts';
import { type EventStore, PostgresEventStore } from '../event-store/index.ts';
import type { Logger } from '../logger.ts';

/** A signal on its way between instances: ephemeral, never stored. */
export interface SignalEnvelope {
  /** The instance and connection it came from: that connection does not get it back. */
  instance: string;
  connection: number;
  owner: string;
  streamId: string;
  chatId: string;
  kind: 'typing' | 'delta';
  data: Record<string, unknown>;
}

export const signalChannel = 'lakechat_signals';
/** PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; the same cap holds in memory. */
export const maxSignalPayloadBytes = 7_999;

/**
 * What a relayed signal must look like. Any role that can connect may NOTIFY on the channel, so the
 * shape, the sizes and the chat's stream id (derived from owner and chat id) are all checked.
 */
const wireSchema = z
  .object({
    i: z.string().min(1).max(100),
    n: z.number().int().nonnegative(),
    o: z.string().min(1).max(320),
    s: z.string().max(100),
    c: chatIdSchema,
    k: z.enum(['typing', 'delta']),
    d: z.record(z.string(), z.unknown()),
  })
  .strict()
  .refine((w) => w.s === chatStreamId(w.o, w.c), { message: "the stream id is not the chat's" });

/** The envelope as relayed (short keys: the payload cap counts every byte). Throws above the cap. */
export function encodeSignal(envelope: SignalEnvelope): string {
  const payload = JSON.stringify({
    i: envelope.instance,
    n: envelope.connection,
    o: envelope.owner,
    s: envelope.streamId,
    c: envelope.chatId,
    k: envelope.kind,
    d: envelope.data,
  });
  const bytes = Buffer.byteLength(payload, 'utf8');
  if (bytes > maxSignalPayloadBytes) {
    throw new LakechatError('LAKECHAT_ERR_WS_SIGNAL_TOO_LARGE', undefined, { details: { bytes, maxBytes: maxSignalPayloadBytes } });
  }
  return payload;
}

/** The envelope of a relayed payload, or null when it is not one this relay could have sent. */
export function decodeSignal(payload: string): SignalEnvelope | null {
  if (Buffer.byteLength(payload, 'utf8') > maxSignalPayloadBytes) return null;
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return null;
  }
  const parsed = wireSchema.safeParse(value);
  if (!parsed.success) return null;
  const w = parsed.data;
  return { instance: w.i, connection: w.n, owner: w.o, streamId: w.s, chatId: w.c, kind: w.k, data: w.d };
}

/** Carries signals to the other instances on the same database; this instance delivers its own. */
export interface SignalRelay {
  readonly instanceId: string;
  /** Sends an encoded envelope (see encodeSignal) to the other instances. */
  publish(payload: string): Promise<void>;
}

/**
 * PostgreSQL: NOTIFY on `lakechat_signals` through the store's pool, LISTEN on the store's listener
 * connection (which reconnects by itself). A signal sent while an instance's listener is down is
 * lost for that instance, as a signal may be: the stored events are what clients rely on.
 */
class PostgresSignalRelay implements SignalRelay {
  readonly instanceId: string;

  constructor(
    private readonly store: PostgresEventStore,
    onRemote: (envelope: SignalEnvelope) => void,
    logger: Logger,
  ) {
    this.instanceId = store.instanceId;
    // An invalid payload is ignored; the listener counts it (/metrics) and logs it.
    store.listen(signalChannel, (payload) => {
      const envelope = decodeSignal(payload);
      if (envelope === null) return false;
      if (envelope.instance !== this.instanceId) onRemote(envelope);
      return true;
    });
  }

  publish(payload: string): Promise<void> {
    return this.store.notify(signalChannel, payload);
  }
}

/** In memory there is one instance: nobody else to tell. */
class LocalSignalRelay implements SignalRelay {
  readonly instanceId = 'local';

  async publish(): Promise<void> {}
}

export function createSignalRelay(store: EventStore, onRemote: (envelope: SignalEnvelope) => void, logger: Logger): SignalRelay {
  return store instanceof PostgresEventStore ? new PostgresSignalRelay(store, onRemote, logger) : new LocalSignalRelay();
}
