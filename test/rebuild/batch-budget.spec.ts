/**
 * The rebuild's batches follow a time budget per transaction (a transaction that writes holds every
 * reader of the log back while it runs): how the next batch's size follows the last one's duration.
 */
import { describe, expect, it } from 'vitest';
import { nextLimit } from '../../src/rebuild/projector.ts';

describe('rebuild batches sized to a transaction budget', () => {
  it('shrink at once when a transaction took longer than the budget, never below 250 events', () => {
    expect(nextLimit(5_000, 200, 50, 5_000)).toBe(1_000);
    expect(nextLimit(1_000, 10_000, 50, 5_000)).toBe(250);
  });

  it('grow back by half at most while transactions are quick, up to the batch size', () => {
    expect(nextLimit(1_000, 5, 50, 5_000)).toBe(1_500);
    expect(nextLimit(4_000, 1, 50, 5_000)).toBe(5_000);
  });

  it('never exceed a batch size smaller than the floor', () => {
    expect(nextLimit(40, 10_000, 50, 40)).toBe(40);
    expect(nextLimit(40, 1, 50, 40)).toBe(40);
  });
});
