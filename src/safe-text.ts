import { z } from 'zod';

/** NUL, or half of a surrogate pair: what `text` and `jsonb` cannot store, and not Unicode text either. */
const unstorable = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const unstorableMessage = 'must not contain the NUL character (\\u0000) or an unpaired surrogate';

/** True when PostgreSQL's `text` and `jsonb` can keep the string as it is. */
export function isStorableText(value: string): boolean {
  return !unstorable.test(value);
}

/**
 * A string PostgreSQL can store: `text` and `jsonb` refuse the NUL character and unpaired UTF-16
 * surrogates (half of an emoji, say: not a character at all). Refused at the edge (a 400), and an
 * event holding one anyway fails its schema, so a read model skips it instead of retrying a write
 * that can never succeed.
 */
export function safeText(): z.ZodString {
  return z.string().refine(isStorableText, unstorableMessage) as unknown as z.ZodString;
}

/** How deep a client's JSON may nest: more is no trace summary, and JSON.stringify recurses per level. */
export const maxJsonDepth = 64;

/**
 * What is wrong with a JSON value for PostgreSQL, or null: an unstorable key or string anywhere, or
 * (with `beyondDepth: 'refuse'`) objects and arrays nested deeper than `maxJsonDepth` levels. One
 * walk with its own stack, so no depth of nesting can overflow the call stack. `'ignore'` stops
 * looking below that depth instead: what stored events were checked with before the edge refused
 * deep values, kept so an event already in a log still reads.
 */
export function jsonProblem(value: unknown, beyondDepth: 'refuse' | 'ignore'): string | null {
  const pending: [unknown, number][] = [[value, 1]];
  while (pending.length > 0) {
    const [current, level] = pending.pop()!;
    if (typeof current === 'string') {
      if (!isStorableText(current)) return unstorableMessage;
      continue;
    }
    if (typeof current !== 'object' || current === null) continue;
    if (level > maxJsonDepth) {
      if (beyondDepth === 'refuse') return `must not nest objects and arrays more than ${maxJsonDepth} levels deep`;
      continue;
    }
    if (Array.isArray(current)) {
      for (const item of current) pending.push([item, level + 1]);
      continue;
    }
    for (const [key, item] of Object.entries(current)) {
      if (!isStorableText(key)) return unstorableMessage;
      pending.push([item, level + 1]);
    }
  }
  return null;
}

function jsonObject(beyondDepth: 'refuse' | 'ignore') {
  return z.record(z.string(), z.unknown()).superRefine((value, context) => {
    const problem = jsonProblem(value, beyondDepth);
    if (problem !== null) context.addIssue({ code: 'custom', message: problem });
  });
}

/** A stored JSON object (an event's): no unstorable key or string in its first 64 levels. */
export function safeJsonObject() {
  return jsonObject('ignore');
}

/**
 * A JSON object a client sends: no unstorable key or string at any depth, and at most 64 levels
 * deep, so whatever the API accepts every read model can keep (refused with a 400 otherwise).
 */
export function safeJsonInput() {
  return jsonObject('refuse');
}
