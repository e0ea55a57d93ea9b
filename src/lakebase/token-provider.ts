import { isLakechatError, LakechatError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { type Clock, systemClock, type Timer } from './clock.ts';
import type { IssuedToken, TokenSource, TokenSourceKind } from './token-source.ts';

const minute = 60_000;

export interface TokenProviderOptions {
  source: TokenSource;
  logger: Logger;
  clock?: Clock;
  /** Refresh this long after issue at the latest: the Lakebase guide's 45 minutes. */
  refreshAfterMs?: number;
  /** ...or this long before the expiry the issuer returned, whichever comes first. */
  refreshBeforeExpiryMs?: number;
  /** How long a token is taken to work when its issuer gives no expiry: Lakebase tokens live an hour. */
  assumedLifetimeMs?: number;
  /** Backoff between failed refreshes while the current token still works. */
  retryInitialDelayMs?: number;
  retryMaxDelayMs?: number;
  /** One request to the issuer is abandoned (aborted) after this long: 10 s. */
  fetchTimeoutMs?: number;
  /** Requests that time out are tried this many times in all (with backoff) before logins fail: 3. */
  fetchAttempts?: number;
}

interface CachedToken {
  token: string;
  issuedAt: number;
  expiresAt: number | undefined;
  /** When the background refresh is due. */
  refreshAt: number;
  /** After this the token is no longer offered: its expiry, or issue time plus the assumed lifetime. */
  validUntil: number;
}

/** What /health and the doctor may show about the token: times and counts, never the token. */
export interface TokenStatus {
  source: TokenSourceKind;
  issuedAt: string | null;
  expiresAt: string | null;
  refreshAt: string | null;
  /** Tokens obtained since start. */
  fetches: number;
  /** Refresh failures since start. */
  failures: number;
  /** Refresh failures in a row, and the last one's code. */
  consecutiveFailures: number;
  lastErrorCode: string | null;
}

const iso = (time: number | undefined): string | null => (time === undefined ? null : new Date(time).toISOString());

/**
 * Caches the PostgreSQL password token and keeps it fresh. One request is in flight at a time however
 * many connections ask (single flight); a timer refreshes it ahead of expiry and never keeps the
 * process alive; failed refreshes are retried with backoff while the current token still works; a
 * token the server rejected is dropped (`invalidate`) so the next login fetches a new one.
 */
export class TokenProvider {
  readonly kind: TokenSourceKind;
  readonly #source: TokenSource;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #refreshAfterMs: number;
  readonly #refreshBeforeExpiryMs: number;
  readonly #assumedLifetimeMs: number;
  readonly #retryInitialDelayMs: number;
  readonly #retryMaxDelayMs: number;
  readonly #fetchTimeoutMs: number;
  readonly #fetchAttempts: number;
  #cached: CachedToken | undefined;
  #inFlight: Promise<CachedToken> | undefined;
  #timer: Timer | undefined;
  #fetches = 0;
  #failures = 0;
  #failuresTotal = 0;
  #lastErrorCode: string | null = null;
  #closed = false;

  constructor(options: TokenProviderOptions) {
    this.kind = options.source.kind;
    this.#source = options.source;
    this.#logger = options.logger;
    this.#clock = options.clock ?? systemClock;
    this.#refreshAfterMs = options.refreshAfterMs ?? 45 * minute;
    this.#refreshBeforeExpiryMs = options.refreshBeforeExpiryMs ?? 5 * minute;
    this.#assumedLifetimeMs = options.assumedLifetimeMs ?? 60 * minute;
    this.#retryInitialDelayMs = options.retryInitialDelayMs ?? 1_000;
    this.#retryMaxDelayMs = options.retryMaxDelayMs ?? minute;
    this.#fetchTimeoutMs = options.fetchTimeoutMs ?? 10_000;
    this.#fetchAttempts = Math.max(1, options.fetchAttempts ?? 3);
  }

  /** A token to log in with: the cached one while it is fresh, else a new one. */
  async getToken(): Promise<string> {
    const now = this.#clock.now();
    const cached = this.#cached;
    if (cached !== undefined && now < cached.validUntil) {
      // Due but still working: the timer refreshes it; start one only if nothing is pending (a timer
      // can fire late, after a machine sleeps).
      if (now >= cached.refreshAt && this.#timer === undefined && this.#inFlight === undefined) this.#refreshInBackground();
      return cached.token;
    }
    return (await this.#refresh()).token;
  }

  /**
   * Drops the cached token after the server refused it. With `rejected`, only if it is still the
   * cached one: when many connections fail with the same old token, the first drop is the only one.
   */
  invalidate(rejected?: string): boolean {
    const cached = this.#cached;
    if (cached === undefined || (rejected !== undefined && cached.token !== rejected)) return false;
    this.#cached = undefined;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#logger.warn({ tokenSource: this.kind, expiresAt: iso(cached.expiresAt) }, 'the database refused the token; fetching a new one');
    return true;
  }

  status(): TokenStatus {
    const cached = this.#cached;
    return {
      source: this.kind,
      issuedAt: iso(cached?.issuedAt),
      expiresAt: iso(cached === undefined ? undefined : (cached.expiresAt ?? cached.validUntil)),
      refreshAt: iso(cached?.refreshAt),
      fetches: this.#fetches,
      failures: this.#failuresTotal,
      consecutiveFailures: this.#failures,
      lastErrorCode: this.#lastErrorCode,
    };
  }

  /** Stops the refresh timer; the provider still answers `getToken` on demand. */
  close(): void {
    this.#closed = true;
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #refresh(): Promise<CachedToken> {
    this.#inFlight ??= this.#fetch().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  #refreshInBackground(): void {
    // Failures are logged and rescheduled by #fetch; the next getToken sees the outcome.
    this.#refresh().catch(() => {});
  }

  async #fetch(): Promise<CachedToken> {
    let issued: IssuedToken;
    try {
      issued = await this.#fetchBounded();
    } catch (error) {
      throw this.#failed(error);
    }
    const cached = this.#cache(issued);
    this.#fetches += 1;
    this.#failures = 0;
    this.#lastErrorCode = null;
    this.#logger.info({ tokenSource: this.kind, expiresAt: iso(cached.expiresAt), refreshAt: iso(cached.refreshAt) }, 'obtained a database token');
    this.#schedule(cached.refreshAt - cached.issuedAt);
    return cached;
  }

  /**
   * Every login waits on the one request in flight, so a request that never settles would block
   * every new connection until a restart: each is abandoned (its signal aborted, a late answer
   * dropped) after `fetchTimeoutMs`, and tried again after a backoff, `fetchAttempts` times in all.
   */
  async #fetchBounded(): Promise<IssuedToken> {
    for (let attempt = 1; ; attempt++) {
      const controller = new AbortController();
      let timer: Timer | undefined;
      const timedOut = new Promise<never>((_resolve, reject) => {
        timer = this.#clock.schedule(() => {
          controller.abort();
          reject(
            new LakechatError('LAKECHAT_ERR_LAKEBASE_CREDENTIAL_FAILED', `The token request did not answer within ${this.#fetchTimeoutMs} ms`, {
              details: { timeoutMs: this.#fetchTimeoutMs, attempts: attempt },
            }),
          );
        }, this.#fetchTimeoutMs);
      });
      try {
        return await Promise.race([this.#source.fetch(controller.signal), timedOut]);
      } catch (error) {
        if (!controller.signal.aborted || attempt >= this.#fetchAttempts) throw error;
        const delay = Math.min(this.#retryInitialDelayMs * 2 ** (attempt - 1), this.#retryMaxDelayMs);
        this.#logger.warn({ tokenSource: this.kind, attempt, timeoutMs: this.#fetchTimeoutMs, retryInMs: delay }, 'the token request did not answer in time; abandoned it, retrying');
        await new Promise<void>((resolve) => this.#clock.schedule(resolve, delay));
      } finally {
        timer?.cancel();
      }
    }
  }

  #cache(issued: IssuedToken): CachedToken {
    const issuedAt = this.#clock.now();
    const validUntil = issued.expiresAt ?? issuedAt + this.#assumedLifetimeMs;
    let refreshAt = Math.min(issuedAt + this.#refreshAfterMs, validUntil - this.#refreshBeforeExpiryMs);
    // A token already inside its last five minutes is refreshed halfway to its end instead.
    if (refreshAt <= issuedAt) refreshAt = issuedAt + Math.max(0, (validUntil - issuedAt) / 2);
    const cached = { token: issued.token, issuedAt, expiresAt: issued.expiresAt, refreshAt, validUntil };
    this.#cached = cached;
    return cached;
  }

  #failed(error: unknown): LakechatError {
    const failure = isLakechatError(error) ? error : new LakechatError('LAKECHAT_ERR_LAKEBASE_CREDENTIAL_FAILED', 'Could not obtain a database token', { cause: error });
    this.#failures += 1;
    this.#failuresTotal += 1;
    this.#lastErrorCode = failure.code;
    const cached = this.#cached;
    const now = this.#clock.now();
    if (cached !== undefined && now < cached.validUntil) {
      const delay = Math.min(this.#retryInitialDelayMs * 2 ** (this.#failures - 1), this.#retryMaxDelayMs);
      this.#logger.warn(
        { err: failure, tokenSource: this.kind, failures: this.#failures, retryInMs: delay, expiresAt: iso(cached.validUntil) },
        'could not refresh the database token; the current one still works, retrying',
      );
      this.#schedule(delay);
    } else {
      this.#logger.error({ err: failure, tokenSource: this.kind, failures: this.#failures }, 'could not obtain a database token');
    }
    return failure;
  }

  #schedule(delayMs: number): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    if (this.#closed) return;
    this.#timer = this.#clock.schedule(
      () => {
        this.#timer = undefined;
        this.#refreshInBackground();
      },
      Math.max(0, delayMs),
    );
  }
}
