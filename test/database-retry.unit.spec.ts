import { BackendTerminatedError, ConnectionError } from 'slonik';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';
import { isTransientDatabaseFailure, retryTransient } from '../src/database-retry.ts';

const withCode = (code: string, message = code): Error => Object.assign(new Error(message), { code });

describe('which database failures are retried', () => {
  it('retries a dropped connection, a database restarting or unreachable, and a connection closed while it opened', () => {
    expect(isTransientDatabaseFailure(withCode('57P01'))).toBe(true); // admin_shutdown (pg_terminate_backend)
    expect(isTransientDatabaseFailure(withCode('57P03'))).toBe(true); // starting up, shutting down
    expect(isTransientDatabaseFailure(withCode('ECONNRESET'))).toBe(true);
    expect(isTransientDatabaseFailure(new ConnectionError('connect', { cause: withCode('ECONNREFUSED') }))).toBe(true);
    expect(isTransientDatabaseFailure(new ConnectionError('Connection terminated unexpectedly', { cause: new Error('Connection terminated unexpectedly') }))).toBe(true);
    expect(isTransientDatabaseFailure(new BackendTerminatedError(withCode('57P01')))).toBe(true);
    // A token refused on an open connection: a new connection logs in with a new one.
    expect(isTransientDatabaseFailure(withCode('28P01'))).toBe(true);
  });

  it('does not retry an answer of the server: a refused login, a unique violation, a data exception, a missing table', () => {
    expect(isTransientDatabaseFailure(new ConnectionError('login', { cause: withCode('28P01') }))).toBe(false);
    expect(isTransientDatabaseFailure(new ConnectionError('no database', { cause: withCode('3D000') }))).toBe(false);
    expect(isTransientDatabaseFailure(withCode('23505'))).toBe(false);
    expect(isTransientDatabaseFailure(withCode('22P02'))).toBe(false);
    expect(isTransientDatabaseFailure(withCode('42P01'))).toBe(false);
    expect(isTransientDatabaseFailure(new Error('a bug'))).toBe(false);
  });
});

describe('retrying until a deadline', () => {
  it('tries again until the operation succeeds', async () => {
    let calls = 0;
    const result = await retryTransient(
      async () => {
        calls += 1;
        if (calls < 4) throw withCode('57P01');
        return 'done';
      },
      { deadline: Date.now() + 60_000 },
    );
    expect(result).toBe('done');
    expect(calls).toBe(4);
  });

  it('gives up with the last failure once the deadline has passed, having tried at the deadline', async () => {
    let calls = 0;
    const started = Date.now();
    await expect(
      retryTransient(
        async () => {
          calls += 1;
          throw withCode('ECONNREFUSED', `refused ${calls}`);
        },
        { deadline: started + 200 },
      ),
    ).rejects.toThrow(/^refused \d+$/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(calls).toBeGreaterThan(2);
  });

  it('never retries a failure that is not transient', async () => {
    let calls = 0;
    await expect(
      retryTransient(
        async () => {
          calls += 1;
          throw withCode('23505');
        },
        { deadline: Date.now() + 60_000 },
      ),
    ).rejects.toThrow('23505');
    expect(calls).toBe(1);
  });

  it('takes DATABASE_RETRY_MS from the configuration: 15 s by default, 0 for no retry, nothing above 2 minutes', () => {
    expect(loadConfig({}).env.DATABASE_RETRY_MS).toBe(15_000);
    expect(loadConfig({ DATABASE_RETRY_MS: '0' }).env.DATABASE_RETRY_MS).toBe(0);
    expect(() => loadConfig({ DATABASE_RETRY_MS: '600000' })).toThrow(ConfigError);
    expect(() => loadConfig({ DATABASE_RETRY_MS: 'soon' })).toThrow(ConfigError);
  });
});
