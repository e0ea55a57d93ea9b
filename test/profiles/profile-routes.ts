/**
 * The profile routes' specification, end to end through the whole app; run over memory and PostgreSQL.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { historyView, profileView } from '../../src/http/routes/profile-schemas.ts';
import type { AppUnderTest } from '../http/app-under-test.ts';

const alice = 'alice@example.com';
const bob = 'bob@example.com';

/** `open` builds the app with its clock pinned to this moment, for the computed age. */
export const profileClock = new Date('2026-06-15T12:00:00Z');

export function describeProfileRoutes(name: string, open: () => Promise<AppUnderTest>): void {
  describe(`profile routes (${name})`, () => {
    let t: AppUnderTest;
    beforeEach(async () => {
      t = await open();
    });
    afterEach(async () => {
      await t.close();
    });

    it('has no profile until the first change creates it (201), with the computed age', async () => {
      const missing = await t.as(alice, 'GET', '/api/profile');
      expect(missing.statusCode).toBe(404);
      expect(missing.json().error.code).toBe('LAKECHAT_ERR_PROFILE_NOT_FOUND');
      const created = await t.as(alice, 'PATCH', '/api/profile', { body: { dateOfBirth: '1990-07-01', annualIncome: 85_000.5, financialGoals: ['house'] } });
      expect(created.statusCode).toBe(201);
      expect(created.headers.etag).toBe('"1"');
      const profile = profileView.parse(created.json());
      expect(profile).toMatchObject({
        email: alice,
        dateOfBirth: '1990-07-01',
        age: 35,
        annualIncome: 85_000.5,
        financialGoals: ['house'],
        numberOfDependents: 0,
        maritalStatus: null,
        version: 1,
      });
      expect(profileView.parse((await t.as(alice, 'GET', '/api/profile')).json())).toEqual(profile);
    });

    it('changes only the fields given with PATCH, and clears a field set to null', async () => {
      await t.as(alice, 'PATCH', '/api/profile', { body: { jobTitle: 'Engineer', employerName: 'Acme', riskTolerance: 'moderate' } });
      const changed = await t.as(alice, 'PATCH', '/api/profile', { body: { employerName: null, yearsEmployed: 2.5 } });
      expect(changed.statusCode).toBe(200);
      expect(changed.json()).toMatchObject({ jobTitle: 'Engineer', employerName: null, riskTolerance: 'moderate', yearsEmployed: 2.5, version: 2 });
    });

    it('replaces the whole profile with PUT: fields left out are cleared', async () => {
      await t.as(alice, 'PUT', '/api/profile', { body: { jobTitle: 'Engineer', numberOfDependents: 2, notes: 'n' } });
      const replaced = await t.as(alice, 'PUT', '/api/profile', { body: { maritalStatus: 'married', taxFilingStatus: 'married_filing_jointly' } });
      expect(replaced.statusCode).toBe(200);
      expect(replaced.json()).toMatchObject({
        maritalStatus: 'married',
        taxFilingStatus: 'married_filing_jointly',
        jobTitle: null,
        numberOfDependents: 0,
        notes: null,
        version: 2,
      });
    });

    it('appends nothing when a change changes nothing', async () => {
      await t.as(alice, 'PATCH', '/api/profile', { body: { notes: 'same' } });
      const again = await t.as(alice, 'PATCH', '/api/profile', { body: { notes: 'same' } });
      expect(again.statusCode).toBe(200);
      expect(again.json().version).toBe(1);
      expect((await t.store.readAll({ owner: alice })).events).toHaveLength(1);
    });

    it('refuses values outside the schema and unknown fields', async () => {
      const response = await t.as(alice, 'PATCH', '/api/profile', {
        body: { maritalStatus: 'complicated', annualIncome: -1, numberOfDependents: 1.5, dateOfBirth: '1990-02-30', favouriteColour: 'red' },
      });
      expect(response.statusCode).toBe(400);
      expect(response.json().error.code).toBe('LAKECHAT_ERR_HTTP_VALIDATION');
      expect(response.json().error.details.issues.length).toBeGreaterThanOrEqual(5);
      expect((await t.as(alice, 'GET', '/api/profile')).statusCode).toBe(404);
    });

    it('honours If-Match on PUT, PATCH and DELETE, failing a stale one with 412', async () => {
      await t.as(alice, 'PATCH', '/api/profile', { body: { notes: 'v1' } });
      await t.as(alice, 'PATCH', '/api/profile', { body: { notes: 'v2' }, headers: { 'if-match': '"1"' } });
      for (const [method, body] of [
        ['PATCH', { notes: 'x' }],
        ['PUT', {}],
        ['DELETE', undefined],
      ] as const) {
        const stale = await t.as(alice, method, '/api/profile', { body, headers: { 'if-match': '"1"' } });
        expect(stale.statusCode, method).toBe(412);
        expect(stale.json().error.details.currentVersion).toBe(2);
      }
      expect((await t.as(alice, 'GET', '/api/profile')).json().notes).toBe('v2');
    });

    it('deletes the profile; it is gone, and the next change creates a fresh one', async () => {
      await t.as(alice, 'PATCH', '/api/profile', { body: { jobTitle: 'Engineer' } });
      const deleted = await t.as(alice, 'DELETE', '/api/profile');
      expect(deleted.statusCode).toBe(204);
      expect((await t.as(alice, 'GET', '/api/profile')).statusCode).toBe(404);
      expect((await t.as(alice, 'DELETE', '/api/profile')).statusCode).toBe(404);
      const recreated = await t.as(alice, 'PATCH', '/api/profile', { body: { notes: 'back' } });
      expect(recreated.statusCode).toBe(201);
      expect(recreated.json()).toMatchObject({ jobTitle: null, notes: 'back', version: 3 });
    });

    it('lists every change with when, who, and old and new values', async () => {
      await t.as(alice, 'PATCH', '/api/profile', { body: { annualIncome: 50_000, jobTitle: 'Analyst' } });
      await t.as(alice, 'PATCH', '/api/profile', { body: { annualIncome: 60_000 } });
      await t.as(alice, 'DELETE', '/api/profile');
      await t.as(alice, 'PATCH', '/api/profile', { body: { jobTitle: 'Manager' } });
      await t.as(alice, 'PATCH', '/api/profile', { body: { annualIncome: 70_000 } });
      const history = historyView.parse((await t.as(alice, 'GET', '/api/profile/history')).json());
      expect(history.next).toBeNull();
      // Deleting the profile erased the values it held, its changes with them (issue 13): the
      // deletion itself stays, and the new profile's changes follow it.
      expect(history.entries.map(({ version, kind, changes, actor }) => ({ version, kind, changes, actor }))).toEqual([
        { version: 3, kind: 'deleted', actor: alice, changes: [] },
        { version: 4, kind: 'created', actor: alice, changes: [{ field: 'jobTitle', from: null, to: 'Manager' }] },
        { version: 5, kind: 'updated', actor: alice, changes: [{ field: 'annualIncome', from: null, to: 70_000 }] },
      ]);
      const page = historyView.parse((await t.as(alice, 'GET', '/api/profile/history?after=1&limit=2')).json());
      expect(page.entries.map((entry) => entry.version)).toEqual([3, 4]);
      expect(page.next).toBe(4);
    });

    it("keeps each user's profile to themselves", async () => {
      await t.as(alice, 'PATCH', '/api/profile', { body: { notes: 'alice' } });
      expect((await t.as(bob, 'GET', '/api/profile')).statusCode).toBe(404);
      expect((await t.as(bob, 'GET', '/api/profile/history')).json().entries).toEqual([]);
      expect((await t.as(bob, 'DELETE', '/api/profile')).statusCode).toBe(404);
      expect((await t.as(alice, 'GET', '/api/profile')).json().notes).toBe('alice');
    });

    it('answers 401 on every profile route without an identity', async () => {
      for (const method of ['GET', 'PUT', 'PATCH', 'DELETE']) {
        expect((await t.as(null, method, '/api/profile', { body: {} })).statusCode, method).toBe(401);
      }
      expect((await t.as(null, 'GET', '/api/profile/history')).statusCode).toBe(401);
    });

    it('shows each write in the next read under concurrent changes', async () => {
      await Promise.all(
        Array.from({ length: 10 }, async (_, n) => {
          const user = `user${n}@example.com`;
          expect((await t.as(user, 'PATCH', '/api/profile', { body: { notes: `n${n}` } })).statusCode).toBe(201);
          expect((await t.as(user, 'GET', '/api/profile')).json().notes).toBe(`n${n}`);
          expect((await t.as(user, 'GET', '/api/profile/history')).json().entries).toHaveLength(1);
        }),
      );
    });
  });
}
