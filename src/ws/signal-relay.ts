import { z } from 'zod';
import { LakechatError } from '../errors.ts';
import { PostgresEventStore, type EventStore } from '../event-store/index.ts';
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

const wireSchema = z.object({
  i: z.string(),
  n: z.number().int(),
  o: z.string(),
  s: z.string(),
  c: z.string(),
  k: z.enum(['typing', 'delta']),
  d: z.record(z.string(), z.unknown()),
});

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

function decodeSignal(payload: string): SignalEnvelope | null {
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
    store.listen(signalChannel, (payload) => {
      const envelope = decodeSignal(payload);
      if (envelope === null) {
        logger.warn('ignored an unreadable signal notification');
        return;
      }
      if (envelope.instance !== this.instanceId) onRemote(envelope);
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
