import { LakechatError } from '../errors.ts';
import type { ExpectedVersion } from './types.ts';

/** The stream was not at the version the append expected; nothing was written. */
export class WrongExpectedVersionError extends LakechatError {
  readonly streamId: string;
  readonly expected: ExpectedVersion;
  readonly actual: number;

  constructor(streamId: string, expected: ExpectedVersion, actual: number) {
    super('LAKECHAT_ERR_STORE_WRONG_EXPECTED_VERSION', `Stream ${JSON.stringify(streamId)} is at version ${actual}, expected ${String(expected)}`, {
      details: { streamId, expected, actual },
    });
    this.streamId = streamId;
    this.expected = expected;
    this.actual = actual;
  }
}

export function checkExpectedVersion(streamId: string, expected: ExpectedVersion, actual: number): void {
  const ok = expected === 'any' || (expected === 'no_stream' && actual === 0) || (expected === 'stream_exists' && actual > 0) || expected === actual;
  if (!ok) throw new WrongExpectedVersionError(streamId, expected, actual);
}
