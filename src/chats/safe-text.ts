import { z } from 'zod';

/** NUL, or half of a surrogate pair: what `text` and `jsonb` cannot store, and not Unicode text either. */
const unstorable = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const storable = (value: string): boolean => !unstorable.test(value);
const unstorableMessage = 'must not contain the NUL character (\\u0000) or an unpaired surrogate';

/**
 * A string PostgreSQL can store: `text` and `jsonb` refuse the NUL character and unpaired UTF-16
 * surrogates (half of an emoji, say: not a character at all). Refused at the edge (a 400), and an
 * event holding one anyway fails its schema, so a read model skips it instead of retrying a write
 * that can never succeed.
 */
export function safeText(): z.ZodString {
  return z.string().refine(storable, unstorableMessage) as unknown as z.ZodString;
}

function storableEverywhere(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return storable(value);
  if (typeof value !== 'object' || value === null || depth > 64) return true;
  if (Array.isArray(value)) return value.every((item) => storableEverywhere(item, depth + 1));
  return Object.entries(value).every(([key, item]) => storable(key) && storableEverywhere(item, depth + 1));
}

/** Any JSON object, with no NUL character or unpaired surrogate in any of its keys or strings. */
export function safeJsonObject() {
  return z.record(z.string(), z.unknown()).refine((value) => storableEverywhere(value), unstorableMessage);
}
