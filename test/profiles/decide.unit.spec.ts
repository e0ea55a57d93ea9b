import { describe, it } from 'vitest';
import type { ProfileCommand } from '../../src/profiles/commands.ts';
import { decideProfile } from '../../src/profiles/decide.ts';
import type { ProfileEvent } from '../../src/profiles/events.ts';
import { evolveProfile } from '../../src/profiles/evolve.ts';
import { initialProfileState } from '../../src/profiles/state.ts';
import { decider } from '../chats/given-when-then.ts';

const given = decider<typeof initialProfileState, ProfileEvent, ProfileCommand>({
  initial: initialProfileState,
  evolve: evolveProfile,
  decide: decideProfile,
});

const userEmail = 'a@x.com';
const updated = (changes: Record<string, unknown>): ProfileEvent => ({ type: 'ProfileUpdated', data: { userEmail, changes } });
const deleted: ProfileEvent = { type: 'ProfileDeleted', data: { userEmail } };

describe('deciding profile commands', () => {
  describe('ChangeProfile (PATCH)', () => {
    it('creates the profile with the fields given', () => {
      given()
        .when({ type: 'ChangeProfile', userEmail, changes: { annualIncome: 85_000, riskTolerance: 'moderate' } })
        .then([updated({ annualIncome: 85_000, riskTolerance: 'moderate' })]);
    });

    it('creates the profile even when nothing differs from the defaults', () => {
      given()
        .when({ type: 'ChangeProfile', userEmail, changes: { numberOfDependents: 0 } })
        .then([updated({})]);
    });

    it('carries only the fields that changed', () => {
      given(updated({ annualIncome: 85_000, jobTitle: 'Engineer' }))
        .when({ type: 'ChangeProfile', userEmail, changes: { annualIncome: 90_000, jobTitle: 'Engineer', financialGoals: ['house'] } })
        .then([updated({ annualIncome: 90_000, financialGoals: ['house'] })]);
    });

    it('changes nothing when every field already has the value given', () => {
      given(updated({ financialGoals: ['house', 'school'] }))
        .when({ type: 'ChangeProfile', userEmail, changes: { financialGoals: ['house', 'school'] } })
        .then([]);
    });

    it('clears a field set to null', () => {
      given(updated({ employerName: 'Acme' }))
        .when({ type: 'ChangeProfile', userEmail, changes: { employerName: null } })
        .then([updated({ employerName: null })]);
    });

    it('creates the profile again, from empty fields, after it was deleted', () => {
      given(updated({ jobTitle: 'Engineer' }), deleted)
        .when({ type: 'ChangeProfile', userEmail, changes: { notes: 'back' } })
        .then([updated({ notes: 'back' })]);
    });
  });

  describe('ReplaceProfile (PUT)', () => {
    it('clears every field left out and sets the ones given', () => {
      given(updated({ jobTitle: 'Engineer', annualIncome: 85_000, numberOfDependents: 2 }))
        .when({ type: 'ReplaceProfile', userEmail, fields: { annualIncome: 85_000, maritalStatus: 'married' } })
        .then([updated({ maritalStatus: 'married', numberOfDependents: 0, jobTitle: null })]);
    });

    it('changes nothing when the profile already is exactly that', () => {
      given(updated({ annualIncome: 1 }))
        .when({ type: 'ReplaceProfile', userEmail, fields: { annualIncome: 1 } })
        .then([]);
    });

    it('creates a profile that does not exist', () => {
      given()
        .when({ type: 'ReplaceProfile', userEmail, fields: { dateOfBirth: '1990-05-17' } })
        .then([updated({ dateOfBirth: '1990-05-17' })]);
    });
  });

  describe('DeleteProfile', () => {
    it('deletes the profile', () => {
      given(updated({ notes: 'x' }))
        .when({ type: 'DeleteProfile', userEmail })
        .then([deleted]);
    });

    it('does not find a profile that was never created', () => {
      given().when({ type: 'DeleteProfile', userEmail }).thenFailsWith('LAKECHAT_ERR_PROFILE_NOT_FOUND');
    });

    it('does not find a profile that is already deleted', () => {
      given(updated({}), deleted).when({ type: 'DeleteProfile', userEmail }).thenFailsWith('LAKECHAT_ERR_PROFILE_NOT_FOUND');
    });
  });
});
