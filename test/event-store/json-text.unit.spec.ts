import { describe, expect, it } from 'vitest';
import { encodeEventJson, unescapeJson } from '../../src/event-store/postgres/json-text.ts';

const roundTrip = (data: Record<string, unknown>, metadata: Record<string, unknown> = {}) => {
  const encoded = encodeEventJson(JSON.stringify(data), JSON.stringify(metadata));
  const read = (text: string) => {
    const value: unknown = JSON.parse(text);
    return encoded.escaped ? unescapeJson(value) : value;
  };
  return { encoded, data: read(encoded.data), metadata: read(encoded.metadata) };
};

describe('JSON text for jsonb', () => {
  it('leaves ordinary data untouched and unflagged, private-use characters included', () => {
    const { encoded, data } = roundTrip({ text: 'héllo 🚀 \uE000', n: 1, list: [true, null] });
    expect(encoded.escaped).toBe(false);
    expect(encoded.data).toBe(JSON.stringify({ text: 'héllo 🚀 \uE000', n: 1, list: [true, null] }));
    expect(data).toEqual({ text: 'héllo 🚀 \uE000', n: 1, list: [true, null] });
  });

  it('escapes U+0000 and unpaired surrogates into text jsonb accepts, and restores them', () => {
    const value = { a: '\u0000', b: '\uD800', c: '\uDFFF!', d: '\uE000\u0000\uE000e', ['k\u0000']: 1 };
    const { encoded, data } = roundTrip(value);
    expect(encoded.escaped).toBe(true);
    expect(encoded.data).not.toMatch(/\\u0000|\\ud[89a-f]/i);
    expect(data).toEqual(value);
  });

  it('does not mistake an escaped backslash followed by "u0000" for U+0000', () => {
    const value = { literal: '\\u0000', both: '\\\u0000', tail: '\\\\u0000' };
    const { data } = roundTrip(value);
    expect(data).toEqual(value);
  });

  it('escapes metadata with its data so that one flag covers the row', () => {
    const { encoded, data, metadata } = roundTrip({ mark: '\uE000' }, { client: '\u0000' });
    expect(encoded.escaped).toBe(true);
    expect(data).toEqual({ mark: '\uE000' });
    expect(metadata).toEqual({ client: '\u0000' });
  });

  it('keeps a key named __proto__ as a plain key when restoring', () => {
    const value = JSON.parse('{"__proto__": {"x": "\\u0000"}}') as Record<string, unknown>;
    const { data } = roundTrip(value);
    expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
    expect(Object.keys(data as object)).toEqual(['__proto__']);
  });
});
