import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CursorGate, compareCursors } from '../../client/src/cursor-gate.ts';
import { encodeCursor, compareCursors as serverCompareCursors } from '../../src/event-store/cursor.ts';

describe('the cursor gate (dedupe of delivered events)', () => {
  it('lets each event through once', () => {
    const gate = new CursorGate();
    expect(['10-1', '10-2', '12-3'].map((cursor) => gate.admit(cursor))).toEqual([true, true, true]);
    expect(gate.admit('10-2')).toBe(false);
    expect(gate.admit('12-3')).toBe(false);
    expect(gate.lastCursor).toBe('12-3');
  });

  it('drops an event at or before the last cursor delivered, ordering by transaction then position', () => {
    const gate = new CursorGate();
    gate.admit('20-5');
    expect(gate.admit('19-9')).toBe(false); // an older transaction, though a higher position
    expect(gate.admit('20-4')).toBe(false);
    expect(gate.admit('21-3')).toBe(true); // a later transaction with a lower position comes after
  });

  it('compares cursors exactly as the store orders them', () => {
    const cursor = fc.record({ tx: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), position: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }) }).map(encodeCursor);
    fc.assert(fc.property(cursor, cursor, (a, b) => compareCursors(a, b) === serverCompareCursors(a, b)));
  });

  it('orders the cursors of a store that names itself (tx-position.store), and never across stores', () => {
    const gate = new CursorGate(2); // the recent ones alone would forget '10-1.m1'
    for (const cursor of ['10-1.m1', '10-2.m1', '11-3.m1']) expect(gate.admit(cursor)).toBe(true);
    expect(gate.admit('10-1.m1')).toBe(false);
    expect(gate.admit('10-9.m1')).toBe(false);
    // The subscription moved to another store (store_changed): its cursors start their own order.
    expect(gate.admit('3-1')).toBe(true);
    expect(gate.admit('2-9')).toBe(false);
    expect(gate.admit('4-2')).toBe(true);
  });

  it('compares suffixed cursors exactly as the store orders them, when they name the same store', () => {
    const cursor = fc.record({ tx: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), position: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }), store: fc.constant('m1') }).map(encodeCursor);
    fc.assert(fc.property(cursor, cursor, (a, b) => compareCursors(a, b) === serverCompareCursors(a, b)));
    expect(compareCursors('5-5.m1', '5-5.m2')).toBeNull();
    expect(compareCursors('5-5.m1', '5-5')).toBeNull();
  });

  it('orders cursors that name the same store (PostgreSQL cursors name their store), and never across two stores', () => {
    const gate = new CursorGate();
    gate.admit('20-5.p1mmin8082wie3d2ace1');
    expect(gate.admit('19-9.p1mmin8082wie3d2ace1')).toBe(false);
    expect(gate.admit('20-4.p1mmin8082wie3d2ace1')).toBe(false);
    expect(gate.admit('21-3.p1mmin8082wie3d2ace1')).toBe(true);
    // The instance moved store (memory to PostgreSQL): the new store's cursors are not compared with the old.
    expect(gate.admit('2-1.p9d3e1')).toBe(true);
  });

  it('compares named cursors of one store exactly as the store orders them', () => {
    const cursor = fc
      .record({ tx: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), position: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }), store: fc.constant('p1mmin8082wie3d2ace1') })
      .map(encodeCursor);
    fc.assert(fc.property(cursor, cursor, (a, b) => compareCursors(a, b) === serverCompareCursors(a, b)));
  });

  it('checks cursors of an unknown form against the recent ones only', () => {
    const gate = new CursorGate();
    expect(gate.admit('store-a:9')).toBe(true);
    expect(gate.admit('store-a:3')).toBe(true);
    expect(gate.admit('store-a:9')).toBe(false);
  });

  it('forgets everything on reset, so a restarted scope is delivered again', () => {
    const gate = new CursorGate();
    gate.admit('5-5');
    gate.reset();
    expect(gate.lastCursor).toBeNull();
    expect(gate.admit('1-1')).toBe(true);
  });

  it('remembers a bounded number of cursors', () => {
    const gate = new CursorGate(3);
    for (const cursor of ['a', 'b', 'c', 'd']) gate.admit(cursor);
    expect(gate.admit('a')).toBe(true); // forgotten
    expect(gate.admit('d')).toBe(false);
  });
});
