import { createHash } from 'node:crypto';

/** lakechat's own namespace for name-based ids (a random UUID, fixed forever). */
const namespace = Buffer.from('6f1d3c52a8e04b7c9d2e5a4b3c1f0e9d', 'hex');

/**
 * A UUID version 5 (RFC 9562) of `name`: the same name always gives the same id. Stream ids and
 * the event ids of idempotent commands are derived this way, so a retry lands on the same event.
 */
export function nameBasedId(name: string): string {
  const hash = createHash('sha1').update(namespace).update(name, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
