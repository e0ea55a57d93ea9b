/**
 * jsonb cannot hold U+0000 or an unpaired surrogate, which a JavaScript string can. Rather than
 * refuse such events (the in-memory store keeps them), the JSON text is escaped with the private-use
 * character U+E000: U+E000 itself becomes U+E000 "e", U+0000 becomes U+E000 "0", and an unpaired
 * surrogate becomes U+E000 "u" and four hex digits. Only rows that needed it are escaped (and flagged
 * `text_escaped`), so the common read path never walks the data.
 */

const escapeMark = '\uE000';
// JSON.stringify writes U+0000 and unpaired surrogates as \u escapes and everything else literally;
// `\\\\` consumes escaped backslashes so that a literal "\u0000" in the data is left alone.
const needsEscape = /\\u0000|\\ud[89a-f]/i;
const jsonTextToken = /\\\\|\\u0000|\\u(d[89a-f][0-9a-f]{2})|\uE000/gi;
const escapedToken = /\uE000(?:(e)|(0)|u([0-9a-f]{4}))/g;

export interface EventJson {
  data: string;
  metadata: string;
  /** Both texts are escaped when either needed it: one flag per row covers both. */
  escaped: boolean;
}

function escapeText(text: string): string {
  return text.replace(jsonTextToken, (token: string, surrogate: string | undefined) => {
    if (token === '\\\\') return token;
    if (token === escapeMark) return `${escapeMark}e`;
    if (surrogate !== undefined) return `${escapeMark}u${surrogate.toLowerCase()}`;
    return `${escapeMark}0`;
  });
}

/** An event's data and metadata JSON (as `JSON.stringify` wrote it), ready for jsonb. */
export function encodeEventJson(dataText: string, metadataText: string): EventJson {
  if (!needsEscape.test(dataText) && !needsEscape.test(metadataText)) {
    return { data: dataText, metadata: metadataText, escaped: false };
  }
  return { data: escapeText(dataText), metadata: escapeText(metadataText), escaped: true };
}

function unescapeString(text: string): string {
  if (!text.includes(escapeMark)) return text;
  return text.replace(escapedToken, (_match, mark: string | undefined, nul: string | undefined, hex: string | undefined) => {
    if (mark !== undefined) return escapeMark;
    if (nul !== undefined) return '\u0000';
    return String.fromCharCode(Number.parseInt(hex!, 16));
  });
}

/** Restores the strings (values and keys) of a value read from a row flagged `text_escaped`. */
export function unescapeJson(value: unknown): unknown {
  if (typeof value === 'string') return unescapeString(value);
  if (Array.isArray(value)) return value.map(unescapeJson);
  if (typeof value === 'object' && value !== null) {
    const restored: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      // defineProperty, so a key named "__proto__" stays a key.
      Object.defineProperty(restored, unescapeString(key), { value: unescapeJson(child), enumerable: true, writable: true, configurable: true });
    }
    return restored;
  }
  return value;
}
