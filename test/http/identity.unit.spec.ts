import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { isLakechatError } from '../../src/errors.ts';
import { parseIfMatch } from '../../src/http/etag.ts';
import { resolveIdentity } from '../../src/http/identity.ts';
import { RateLimiter } from '../../src/http/rate-limit.ts';

const codeOf = (run: () => unknown): string | undefined => {
  try {
    run();
  } catch (error) {
    return isLakechatError(error) ? error.code : String(error);
  }
  return undefined;
};

describe('resolving the identity', () => {
  const options = { allowDemoUser: true, analystEmails: ['ana@example.com'] };

  it('prefers the proxy’s email, then its user, then the demo header', () => {
    expect(resolveIdentity({ 'x-forwarded-email': ' Ana@Example.com ', 'x-forwarded-user': 'u@w', 'x-demo-user': 'd@x' }, options)).toEqual({
      email: 'ana@example.com',
      source: 'x-forwarded-email',
      analyst: true,
    });
    expect(resolveIdentity({ 'x-forwarded-user': '42@7', 'x-demo-user': 'd@x' }, options)).toMatchObject({ email: '42@7', source: 'x-forwarded-user', analyst: false });
    expect(resolveIdentity({ 'x-demo-user': 'd@x' }, options)).toMatchObject({ email: 'd@x', source: 'x-demo-user' });
  });

  it('ignores the demo header unless demo users are allowed, and treats a blank header as absent', () => {
    expect(codeOf(() => resolveIdentity({ 'x-demo-user': 'd@x' }, { ...options, allowDemoUser: false }))).toBe('LAKECHAT_ERR_AUTH_MISSING_IDENTITY');
    expect(codeOf(() => resolveIdentity({ 'x-forwarded-email': '   ' }, options))).toBe('LAKECHAT_ERR_AUTH_MISSING_IDENTITY');
  });

  it('refuses identities with spaces, control characters or over 254 characters', () => {
    for (const value of ['a b@x', 'a\tb@x', `${'a'.repeat(250)}@x.com`]) {
      expect(
        codeOf(() => resolveIdentity({ 'x-forwarded-email': value }, options)),
        value,
      ).toBe('LAKECHAT_ERR_AUTH_INVALID_IDENTITY');
    }
  });
});

describe('reading If-Match', () => {
  it('reads one strong tag as the version expected, and * or nothing as no expectation', () => {
    expect(parseIfMatch('"7"')).toBe(7);
    expect(parseIfMatch(' "0" ')).toBe(0);
    expect(parseIfMatch('*')).toBeUndefined();
    expect(parseIfMatch(undefined)).toBeUndefined();
  });

  it('refuses weak tags, lists and anything else', () => {
    for (const value of ['W/"7"', '"1", "2"', '7', '"x"', '"-1"'])
      expect(
        codeOf(() => parseIfMatch(value)),
        value,
      ).toBe('LAKECHAT_ERR_HTTP_INVALID_IF_MATCH');
  });
});

describe('the rate limiter', () => {
  it('lets a burst through, refuses the next request with the seconds to wait, and refills with time', () => {
    let now = 0;
    const limiter = new RateLimiter({ perSecond: 2, burst: 3, now: () => now });
    for (let i = 0; i < 3; i++) limiter.take('a');
    let refused: unknown;
    try {
      limiter.take('a');
    } catch (error) {
      refused = error;
    }
    expect(refused).toMatchObject({ code: 'LAKECHAT_ERR_HTTP_RATE_LIMITED', details: { retryAfterSeconds: 1 } });
    limiter.take('b');
    now += 500;
    limiter.take('a');
    expect(codeOf(() => limiter.take('a'))).toBe('LAKECHAT_ERR_HTTP_RATE_LIMITED');
  });

  it('never refuses when turned off', () => {
    const limiter = new RateLimiter({ perSecond: 0, burst: 1, now: () => 0 });
    for (let i = 0; i < 100; i++) limiter.take('a');
  });

  it('says to retry after the whole seconds the next token takes at a slow rate', () => {
    const limiter = new RateLimiter({ perSecond: 0.4, burst: 1, now: () => 0 });
    limiter.take('a');
    let refused: unknown;
    try {
      limiter.take('a');
    } catch (error) {
      refused = error;
    }
    expect(refused).toMatchObject({ code: 'LAKECHAT_ERR_HTTP_RATE_LIMITED', details: { retryAfterSeconds: 3 } });
  });

  it('forgets the least recently seen user beyond maxUsers, who starts again with a full burst', () => {
    const limiter = new RateLimiter({ perSecond: 1, burst: 1, now: () => 0, maxUsers: 2 });
    limiter.take('a');
    limiter.take('b');
    expect(codeOf(() => limiter.take('a'))).toBe('LAKECHAT_ERR_HTTP_RATE_LIMITED'); // a is now the most recent
    limiter.take('c'); // forgets b, not a
    expect(codeOf(() => limiter.take('a'))).toBe('LAKECHAT_ERR_HTTP_RATE_LIMITED');
    limiter.take('b');
  });
});

describe('the demo user setting', () => {
  it('allows X-Demo-User by default outside production only, unless ALLOW_DEMO_USER says otherwise', () => {
    expect(loadConfig({}).allowDemoUser).toBe(true);
    expect(loadConfig({ NODE_ENV: 'production' }).allowDemoUser).toBe(false);
    expect(loadConfig({ DATABRICKS_APP_NAME: 'lakechat' }).allowDemoUser).toBe(false);
    expect(loadConfig({ DATABRICKS_APP_NAME: 'lakechat', ALLOW_DEMO_USER: 'true' }).allowDemoUser).toBe(true);
    expect(loadConfig({ ALLOW_DEMO_USER: 'false' }).allowDemoUser).toBe(false);
  });

  it('reads the analysts as a lower-cased list and the message limit in bytes', () => {
    const config = loadConfig({ ANALYST_EMAILS: ' Ana@X.com, bo@y.org ,', MAX_MESSAGE_BYTES: '1024' });
    expect(config.env.ANALYST_EMAILS).toEqual(['ana@x.com', 'bo@y.org']);
    expect(config.env.MAX_MESSAGE_BYTES).toBe(1024);
    expect(loadConfig({}).env.MAX_MESSAGE_BYTES).toBe(32 * 1024);
  });
});
