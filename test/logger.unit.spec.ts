import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, redactSecrets } from '../src/logger.ts';

function capture(): { lines: () => string; stream: Writable } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { lines: () => chunks.join(''), stream };
}

describe('the logger', () => {
  it('masks URL passwords, bearer tokens, PATs and JWTs in free text', () => {
    const text = redactSecrets(
      'postgresql://alice:s3cr%40t@host:5432/db Bearer abc.def-ghi dapi0123456789abcdef0123456789abcdef eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig',
    );
    expect(text).not.toMatch(/s3cr|abc\.def|dapi0123|eyJhbGci/);
    expect(text).toContain('postgresql://alice:***@host:5432/db');
  });

  it('never writes a secret field, a secret in a message, or one inside an error', async () => {
    const out = capture();
    const logger = createLogger({ destination: out.stream });
    logger.info({ password: 'hunter2', nested: { token: 'tok-123' } }, 'connecting');
    logger.info('url is postgres://u:hunter3@h/db');
    logger.error({ err: new Error('login failed for postgres://u:hunter4@h/db') }, 'failed');
    logger.info({ detail: 'Authorization: Bearer tok-456' }, 'header');
    const written = out.lines();
    for (const secret of ['hunter2', 'tok-123', 'hunter3', 'hunter4', 'tok-456']) expect(written).not.toContain(secret);
    expect(written).toContain('connecting');
  });
});
