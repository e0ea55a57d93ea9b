import { describe, expect, it } from 'vitest';
import { Backoff } from '../../client/src/backoff.ts';

describe('reconnection backoff', () => {
  it('doubles the bound of each delay up to the cap', () => {
    const backoff = new Backoff({ initialDelayMs: 100, maxDelayMs: 1_000 }, () => 0.999_999);
    expect(Array.from({ length: 7 }, () => backoff.next())).toEqual([99, 199, 399, 799, 999, 999, 999]);
  });

  it('draws each delay uniformly between 0 and the bound (full jitter)', () => {
    const draws = [0, 0.5, 0.25];
    const backoff = new Backoff({ initialDelayMs: 100, maxDelayMs: 10_000 }, () => draws.shift()!);
    expect([backoff.next(), backoff.next(), backoff.next()]).toEqual([0, 100, 100]);
  });

  it('spreads clients cut off together: their delays differ', () => {
    const delays = Array.from({ length: 50 }, () => {
      const backoff = new Backoff({ initialDelayMs: 1_000, maxDelayMs: 1_000 });
      return backoff.next();
    });
    expect(new Set(delays).size).toBeGreaterThan(25);
    expect(Math.max(...delays)).toBeLessThan(1_000);
  });

  it('starts short again after a success', () => {
    const backoff = new Backoff({ initialDelayMs: 100, maxDelayMs: 10_000 }, () => 0.999_999);
    for (let i = 0; i < 5; i++) backoff.next();
    backoff.reset();
    expect(backoff.next()).toBe(99);
  });

  it('never exceeds the cap however many attempts failed', () => {
    const backoff = new Backoff({ initialDelayMs: 250, maxDelayMs: 10_000 }, () => 0.999_999);
    for (let i = 0; i < 200; i++) expect(backoff.next()).toBeLessThan(10_000);
  });
});
