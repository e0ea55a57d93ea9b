import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { createLogger, redactSecrets } from '../src/logger.ts';

function capture(isTTY = false): { lines: () => string; stream: Writable & { isTTY?: boolean } } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { lines: () => chunks.join(''), stream: Object.assign(stream, { isTTY }) };
}

describe('the logger', () => {
  it('masks URL passwords, bearer tokens, PATs and JWTs in free text', () => {
    const text = redactSecrets('postgresql://alice:s3cr%40t@host:5432/db Bearer abc.def-ghi dapi0123456789abcdef0123456789abcdef eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig');
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

  it('writes pretty lines on a terminal and JSON lines elsewhere, unless LOG_FORMAT says which', () => {
    const terminal = capture(true);
    createLogger({ destination: terminal.stream }).info({ chat: 'c1', password: 'hunter5' }, 'posted');
    expect(terminal.lines()).toMatch(/INFO.*posted/);
    expect(() => JSON.parse(terminal.lines())).toThrow();
    expect(terminal.lines()).not.toContain('hunter5');
    const piped = capture(false);
    createLogger({ destination: piped.stream }).info('posted');
    expect(JSON.parse(piped.lines())).toMatchObject({ level: 30, msg: 'posted' });
    const forcedJson = capture(true);
    createLogger({ destination: forcedJson.stream, format: 'json' }).info('posted');
    expect(JSON.parse(forcedJson.lines())).toMatchObject({ msg: 'posted' });
    const forcedPretty = capture(false);
    createLogger({ destination: forcedPretty.stream, format: 'pretty' }).info('posted');
    expect(forcedPretty.lines()).toMatch(/INFO.*posted/);
  });

  it('LOG_FORMAT: auto by default in development, JSON in production, and either when asked', () => {
    const config = (env: Record<string, string>) => loadConfig(env, { envFile: false });
    expect(config({}).logFormat).toBe('auto');
    expect(config({ NODE_ENV: 'production' }).logFormat).toBe('json');
    expect(config({ DATABRICKS_APP_NAME: 'lakechat' }).logFormat).toBe('json');
    expect(config({ NODE_ENV: 'production', LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
    expect(config({ LOG_FORMAT: 'json' }).logFormat).toBe('json');
    expect(() => config({ LOG_FORMAT: 'yaml' })).toThrow(/LOG_FORMAT/);
  });

  it('logs an error whose message already quotes its cause without repeating the cause, and appends a cause it does not quote', () => {
    const out = capture();
    const logger = createLogger({ destination: out.stream });
    const driver = new Error('password authentication failed for user "postgres"');
    logger.fatal({ err: new Error(`The database refused the login of postgres@h:5432/db: 28P01: ${driver.message}`, { cause: driver }) }, 'start-up');
    logger.error({ err: new Error('export failed', { cause: new Error('disk full') }) }, 'export');
    const [login, exported] = out
      .lines()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { err: { message: string } });
    expect(login!.err.message).toBe('The database refused the login of postgres@h:5432/db: 28P01: password authentication failed for user "postgres"');
    expect(exported!.err.message).toBe('export failed: disk full');
  });
});
