import { z } from 'zod';

const noNul = (value: string): boolean => !value.includes('\u0000');
const nulMessage = 'must not contain the NUL character (\\u0000)';

/**
 * A string PostgreSQL can store: `text` and `jsonb` refuse the NUL character. Refused at the edge (a
 * 400), and an event holding one anyway fails its schema, so a read model skips it instead of
 * retrying a write that can never succeed.
 */
export function safeText(): z.ZodString {
  return z.string().refine(noNul, nulMessage) as unknown as z.ZodString;
}

function noNulAnywhere(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return noNul(value);
  if (typeof value !== 'object' || value === null || depth > 64) return true;
  if (Array.isArray(value)) return value.every((item) => noNulAnywhere(item, depth + 1));
  return Object.entries(value).every(([key, item]) => noNul(key) && noNulAnywhere(item, depth + 1));
}

/** Any JSON object, with no NUL character in any of its keys or strings. */
export function safeJsonObject() {
  return z.record(z.string(), z.unknown()).refine((value) => noNulAnywhere(value), nulMessage);
}
