import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../src/token-bucket.ts';

describe("the token bucket (WebSocket frames, and each user's HTTP requests)", () => {
  it('grants the burst at once, then says how long until the next token', () => {
    let now = 0;
    const bucket = new TokenBucket(4, 2, () => now);
    expect([bucket.take(), bucket.take()]).toEqual([0, 0]);
    expect(bucket.take()).toBe(250);
    now = 250;
    expect(bucket.take()).toBe(0);
    expect(bucket.take()).toBe(250);
  });

  it('never holds more than the burst, however long it waited', () => {
    let now = 0;
    const bucket = new TokenBucket(10, 3, () => now);
    now = 60_000;
    expect([bucket.take(), bucket.take(), bucket.take()]).toEqual([0, 0, 0]);
    expect(bucket.take()).toBeGreaterThan(0);
  });

  it('is full only once every token taken came back (a user share is forgotten only then)', () => {
    let now = 0;
    const bucket = new TokenBucket(2, 2, () => now);
    expect(bucket.full).toBe(true);
    bucket.take();
    expect(bucket.full).toBe(false);
    now = 400;
    expect(bucket.full).toBe(false);
    now = 500;
    expect(bucket.full).toBe(true);
    expect(new TokenBucket(0, 1, () => 0).full).toBe(true);
  });

  it('limits nothing at 0 per second', () => {
    const bucket = new TokenBucket(0, 1, () => 0);
    for (let n = 0; n < 100; n++) expect(bucket.take()).toBe(0);
  });
});
