import { describe, expect, it, vi } from 'vitest';
import { isLakechatError } from '../../src/errors.ts';
import { type IssuedToken, TokenProvider, type TokenSource } from '../../src/lakebase/index.ts';
import { captureLog } from './support/log-capture.ts';
import { ManualClock } from './support/manual-clock.ts';

/**
 * A token issuer that answers as told: each call takes the next plan ('hang' never settles; a string
 * is the token to answer with), and remembers the abort signal it was given.
 */
function scriptedIssuer(plan: ('hang' | string)[]): TokenSource & { calls: number; signals: (AbortSignal | undefined)[] } {
  const issuer = {
    kind: 'database-credential' as const,
    calls: 0,
    signals: [] as (AbortSignal | undefined)[],
    fetch(signal?: AbortSignal): Promise<IssuedToken> {
      const step = plan[Math.min(issuer.calls, plan.length - 1)]!;
      issuer.calls += 1;
      issuer.signals.push(signal);
      return step === 'hang' ? new Promise(() => {}) : Promise.resolve({ token: step });
    },
  };
  return issuer;
}

describe('the single-flight token fetch', () => {
  it('abandons a request that never settles after its timeout, retries with backoff, and answers every waiting login', async () => {
    const clock = new ManualClock();
    const issuer = scriptedIssuer(['hang', 'fresh-token']);
    const log = captureLog();
    const provider = new TokenProvider({ source: issuer, logger: log.logger, clock, fetchTimeoutMs: 10_000, retryInitialDelayMs: 1_000 });
    const logins = Promise.all([provider.getToken(), provider.getToken(), provider.getToken()]);
    expect(issuer.calls).toBe(1); // single flight: three logins, one request
    clock.advance(10_000);
    expect(issuer.signals[0]?.aborted).toBe(true);
    // The retry waits for its backoff (1 s), on the same clock.
    await vi.waitFor(() => expect(clock.pending()).toBeGreaterThan(0));
    expect(issuer.calls).toBe(1);
    clock.advance(1_000);
    await expect(logins).resolves.toEqual(['fresh-token', 'fresh-token', 'fresh-token']);
    expect(issuer.calls).toBe(2);
    expect(log.text()).toContain('did not answer');
    provider.close();
  });

  it('gives up with CREDENTIAL_FAILED after its attempts, and the next login starts a new request instead of waiting forever', async () => {
    const clock = new ManualClock();
    const issuer = scriptedIssuer(['hang', 'hang', 'hang', 'later-token']);
    const provider = new TokenProvider({ source: issuer, logger: captureLog().logger, clock, fetchTimeoutMs: 5_000, retryInitialDelayMs: 100, fetchAttempts: 3 });
    const login = provider.getToken().then(
      () => undefined,
      (error: unknown) => error,
    );
    for (let attempt = 1; attempt <= 3; attempt++) {
      await vi.waitFor(() => expect(issuer.calls).toBe(attempt));
      clock.advance(5_000);
      if (attempt < 3) {
        await vi.waitFor(() => expect(clock.pending()).toBeGreaterThan(0));
        clock.advance(100 * 2 ** (attempt - 1));
      }
    }
    const error = await login;
    expect(isLakechatError(error, 'LAKECHAT_ERR_LAKEBASE_CREDENTIAL_FAILED')).toBe(true);
    expect(issuer.signals.slice(0, 3).every((signal) => signal?.aborted === true)).toBe(true);
    expect(await provider.getToken()).toBe('later-token');
    expect(provider.status()).toMatchObject({ fetches: 1, failures: 1 });
    provider.close();
  });
});
