import { describe, expect, it } from 'vitest';
import type { ProfileEvent } from '../../src/profiles/events.ts';
import { evolveProfile } from '../../src/profiles/evolve.ts';
import { ageOn, emptyProfileFields } from '../../src/profiles/fields.ts';
import { initialProfileState } from '../../src/profiles/state.ts';

const userEmail = 'a@x.com';
const fold = (...events: ProfileEvent[]) => events.reduce(evolveProfile, initialProfileState);
const updated = (changes: Record<string, unknown>): ProfileEvent => ({ type: 'ProfileUpdated', data: { userEmail, changes } });

describe('evolving a profile', () => {
  it('starts absent with empty fields', () => {
    expect(fold()).toEqual({ status: 'absent', version: 0, fields: emptyProfileFields });
  });

  it('is created by its first update and keeps every field not changed since', () => {
    const state = fold(updated({ jobTitle: 'Engineer', annualIncome: 1 }), updated({ annualIncome: 2 }));
    expect(state).toEqual({ status: 'active', version: 2, fields: { ...emptyProfileFields, jobTitle: 'Engineer', annualIncome: 2 } });
  });

  it('forgets every field when deleted, and starts from empty when created again', () => {
    const state = fold(updated({ jobTitle: 'Engineer' }), { type: 'ProfileDeleted', data: { userEmail } });
    expect(state).toEqual({ status: 'deleted', version: 2, fields: emptyProfileFields });
    expect(evolveProfile(state, updated({ notes: 'n' })).fields).toEqual({ ...emptyProfileFields, notes: 'n' });
  });
});

describe('computing the age', () => {
  it('counts whole years, turning a year older on the birthday', () => {
    expect(ageOn('1990-05-17', new Date('2026-05-16T12:00:00Z'))).toBe(35);
    expect(ageOn('1990-05-17', new Date('2026-05-17T00:00:00Z'))).toBe(36);
    expect(ageOn('2000-12-31', new Date('2026-01-01T00:00:00Z'))).toBe(25);
  });

  it('has no age without a date of birth', () => {
    expect(ageOn(null, new Date())).toBeNull();
  });
});
