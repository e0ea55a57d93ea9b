import { LakechatError } from '../errors.ts';

/** A stream's version as a strong entity tag: `"7"`. */
export function etagOf(version: number): string {
  return `"${version}"`;
}

const strongTag = /^"(\d{1,15})"$/;

/**
 * The version an `If-Match` header asks for: undefined when absent or `*` (any current version will
 * do). Only one strong tag is understood; anything else is a 400, never silently ignored.
 */
export function parseIfMatch(value: string | string[] | undefined): number | undefined {
  const raw = Array.isArray(value) ? value.join(',') : value;
  if (raw === undefined || raw.trim() === '' || raw.trim() === '*') return undefined;
  const match = strongTag.exec(raw.trim());
  if (match === null) {
    throw new LakechatError('LAKECHAT_ERR_HTTP_INVALID_IF_MATCH', undefined, { details: { expected: 'one strong entity tag, such as "3"' } });
  }
  return Number(match[1]);
}
