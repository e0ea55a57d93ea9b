import { randomUUID } from 'node:crypto';
import { LakechatError } from '../errors.ts';
import type { AppendOptions, ExpectedVersion, NewEvent } from './types.ts';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An append whose input has been checked and completed (ids generated, defaults applied). */
export interface PreparedAppend {
  streamId: string;
  expectedVersion: ExpectedVersion;
  owner: string | null;
  events: PreparedEvent[];
}

export interface PreparedEvent {
  eventId: string;
  type: string;
  schemaVersion: number;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  /** data and metadata as JSON, taken at append time: what both stores keep (and return parsed). */
  dataJson: string;
  metadataJson: string;
}

function toJson(value: Record<string, unknown>): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined; // a BigInt, a cycle, a throwing toJSON
  }
}

function invalid(reason: string): LakechatError {
  return new LakechatError('LAKECHAT_ERR_STORE_INVALID_APPEND', `Invalid append: ${reason}`);
}

/** PostgreSQL text holds neither U+0000 nor an unpaired surrogate; refuse them in both stores alike. */
const unstorableCharacter = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function isStorableText(value: string): boolean {
  return !unstorableCharacter.test(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function prepareAppend(streamId: string, events: readonly NewEvent[], options: AppendOptions = {}, newId: () => string = randomUUID): PreparedAppend {
  if (typeof streamId !== 'string' || streamId.length === 0 || streamId.length > 200) {
    throw invalid('the stream id must be a string of 1 to 200 characters');
  }
  if (!isStorableText(streamId)) throw invalid('the stream id holds U+0000 or an unpaired surrogate');
  const owner = options.owner ?? null;
  if (owner !== null && (typeof owner !== 'string' || !isStorableText(owner))) {
    throw invalid('the owner must be a string without U+0000 or unpaired surrogates');
  }
  if (!Array.isArray(events) || events.length === 0) throw invalid('at least one event is required');
  const expectedVersion = options.expectedVersion ?? 'any';
  if (typeof expectedVersion === 'number' ? !Number.isSafeInteger(expectedVersion) || expectedVersion < 0 : !['any', 'no_stream', 'stream_exists'].includes(expectedVersion)) {
    throw invalid('expectedVersion must be a version >= 0, "any", "no_stream" or "stream_exists"');
  }
  const seen = new Set<string>();
  const prepared = events.map((event, index): PreparedEvent => {
    if (!isPlainObject(event)) throw invalid(`event ${index} is not an object`);
    if (typeof event.type !== 'string' || event.type.length === 0 || event.type.length > 200) {
      throw invalid(`event ${index} needs a type of 1 to 200 characters`);
    }
    if (!isStorableText(event.type)) throw invalid(`event ${index} has a type holding U+0000 or an unpaired surrogate`);
    if (!isPlainObject(event.data)) throw invalid(`event ${index} needs an object as data`);
    if (event.metadata !== undefined && !isPlainObject(event.metadata)) {
      throw invalid(`event ${index} has metadata that is not an object`);
    }
    const eventId = event.eventId ?? newId();
    if (typeof eventId !== 'string' || !uuidPattern.test(eventId)) throw invalid(`event ${index} has an event id that is not a uuid`);
    const normalizedId = eventId.toLowerCase();
    if (seen.has(normalizedId)) throw invalid(`event id ${normalizedId} appears twice in one append`);
    seen.add(normalizedId);
    const schemaVersion: unknown = event.schemaVersion ?? 1;
    if (typeof schemaVersion !== 'number' || !Number.isSafeInteger(schemaVersion) || schemaVersion < 1 || schemaVersion > 2_147_483_647) {
      throw invalid(`event ${index} has a bad schema version`);
    }
    const metadata = event.metadata ?? {};
    const dataJson = toJson(event.data);
    const metadataJson = toJson(metadata);
    // A toJSON() can turn an object into something else: what is stored must still be an object.
    if (dataJson?.startsWith('{') !== true || metadataJson?.startsWith('{') !== true) {
      throw invalid(`event ${index} has data or metadata that is not a JSON object`);
    }
    return { eventId: normalizedId, type: event.type, schemaVersion, data: event.data, metadata, dataJson, metadataJson };
  });
  return { streamId, expectedVersion, owner, events: prepared };
}
