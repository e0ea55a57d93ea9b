import { z } from 'zod';
import { chatIdSchema } from '../chats/events.ts';
import { chatStreamId } from '../chats/stream-id.ts';
import { LakechatError } from '../errors.ts';
import { type EventStore, PostgresEventStore } from '../event-store/index.ts';

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

/**
 * The envelopes of a relayed payload (one envelope, or an array of them: see `SignalBatches`), or
 * null when it is not one this relay could have sent.
 */
export function decodeSignals(payload: string): SignalEnvelope[] | null {
  if (Buffer.byteLength(payload, 'utf8') > maxSignalPayloadBytes) return null;
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return null;
  }
  const items = Array.isArray(value) ? value : [value];
  if (items.length === 0) return null;
  const envelopes: SignalEnvelope[] = [];
  for (const item of items) {
    const parsed = wireSchema.safeParse(item);
    if (!parsed.success) return null;
    const w = parsed.data;
    envelopes.push({ instance: w.i, connection: w.n, owner: w.o, streamId: w.s, chatId: w.c, kind: w.k, data: w.d });
  }
  return envelopes;
}

interface Pending {
  payload: string;
  bytes: number;
  resolve(): void;
  reject(error: unknown): void;
}

/** Relayed signals leave at most this often (unless a batch fills up): at most 50 NOTIFYs a second. */
export const signalBatchIntervalMs = 20;

/**
 * Sends encoded envelopes through `send` one NOTIFY at a time, at most one per interval, each
 * carrying every envelope that waited meanwhile (a JSON array, up to the payload cap; a lone
 * envelope goes as itself). A NOTIFY cost PostgreSQL about a millisecond of CPU, so one per signal
 * made a user's signal budget (WS_USER_SIGNALS_PER_SECOND) a tenth of a core of the database;
 * batched, whatever the number of signals, an instance sends about 50 NOTIFYs a second at most
 * (more only when batches fill), and a signal reaches the other instances at most an interval
 * later. One at a time also keeps a connection's signals in the order it sent them.
 */
export class SignalBatches {
  private readonly queue: Pending[] = [];
  private draining = false;
  private lastSentAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly send: (payload: string) => Promise<void>,
    private readonly intervalMs = signalBatchIntervalMs,
  ) {}

  publish(payload: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ payload, bytes: Buffer.byteLength(payload, 'utf8'), resolve, reject });
      if (this.draining) return;
      this.draining = true;
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    let full = false;
    while (this.queue.length > 0) {
      // A full batch goes at once (the interval bounds the NOTIFYs of a trickle, never the throughput);
      // otherwise at least until the frames that arrived together have all been read.
      const wait = full ? 0 : Math.max(0, this.lastSentAt + this.intervalMs - performance.now());
      await new Promise((resolve) => (wait === 0 ? setImmediate(resolve) : setTimeout(resolve, wait)));
      this.lastSentAt = performance.now();
      const batch = this.takeBatch();
      full = this.queue.length > 0;
      const payload = batch.length === 1 ? batch[0]!.payload : `[${batch.map((item) => item.payload).join(',')}]`;
      try {
        await this.send(payload);
        for (const item of batch) item.resolve();
      } catch (error) {
        for (const item of batch) item.reject(error);
      }
    }
    this.draining = false;
  }

  private takeBatch(): Pending[] {
    const first = this.queue.shift()!;
    const batch = [first];
    // Brackets, and a comma before each envelope after the first.
    let bytes = first.bytes + 2;
    while (this.queue.length > 0 && bytes + 1 + this.queue[0]!.bytes <= maxSignalPayloadBytes) {
      const next = this.queue.shift()!;
      bytes += 1 + next.bytes;
      batch.push(next);
    }
    return batch;
  }
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
  private readonly batches: SignalBatches;

  constructor(
    private readonly store: PostgresEventStore,
    onRemote: (envelope: SignalEnvelope) => void,
  ) {
    this.instanceId = store.instanceId;
    this.batches = new SignalBatches((payload) => this.store.notify(signalChannel, payload));
    // An invalid payload is ignored; the listener counts it (/metrics) and logs it.
    store.listen(signalChannel, (payload) => {
      const envelopes = decodeSignals(payload);
      if (envelopes === null) return false;
      for (const envelope of envelopes) if (envelope.instance !== this.instanceId) onRemote(envelope);
      return true;
    });
  }

  publish(payload: string): Promise<void> {
    return this.batches.publish(payload);
  }
}

/** In memory there is one instance: nobody else to tell. */
class LocalSignalRelay implements SignalRelay {
  readonly instanceId = 'local';

  async publish(): Promise<void> {}
}

export function createSignalRelay(store: EventStore, onRemote: (envelope: SignalEnvelope) => void): SignalRelay {
  return store instanceof PostgresEventStore ? new PostgresSignalRelay(store, onRemote) : new LocalSignalRelay();
}
