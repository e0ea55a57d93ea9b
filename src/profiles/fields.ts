import { z } from 'zod';
import { safeText } from '../safe-text.ts';

/** The profile's fields, as the original personal-finance app has them. Every one may be cleared. */

const isoDate = z.iso.date();

export const maritalStatusSchema = z.enum(['single', 'married', 'divorced', 'widowed', 'separated']);
export const employmentStatusSchema = z.enum(['employed_full_time', 'employed_part_time', 'self_employed', 'unemployed', 'retired', 'student']);
export const riskToleranceSchema = z.enum(['conservative', 'moderately_conservative', 'moderate', 'moderately_aggressive', 'aggressive']);
export const taxFilingStatusSchema = z.enum(['single', 'married_filing_jointly', 'married_filing_separately', 'head_of_household', 'qualifying_widow']);

const shortText = safeText().max(200);

export const profileFieldSchemas = {
  dateOfBirth: isoDate.nullable(),
  maritalStatus: maritalStatusSchema.nullable(),
  numberOfDependents: z.number().int().min(0).max(100),
  employmentStatus: employmentStatusSchema.nullable(),
  employerName: shortText.nullable(),
  jobTitle: shortText.nullable(),
  yearsEmployed: z.number().min(0).max(100).nullable(),
  annualIncome: z.number().min(0).max(1e13).nullable(),
  riskTolerance: riskToleranceSchema.nullable(),
  taxFilingStatus: taxFilingStatusSchema.nullable(),
  financialGoals: z.array(safeText().min(1).max(500)).max(50),
  investmentExperienceYears: z.number().int().min(0).max(100).nullable(),
  retirementAgeTarget: z.number().int().min(0).max(120).nullable(),
  notes: safeText().max(10_000).nullable(),
} as const;

const earliestDateOfBirth = '1900-01-01';

/** Today's date where it is already tomorrow (UTC+14): a date of birth of today anywhere is not in the future. */
function latestDateOfBirth(): string {
  return new Date(Date.now() + 14 * 3_600_000).toISOString().slice(0, 10);
}

/**
 * A date of birth a client may set: from 1900-01-01 to today. Checked where input arrives only
 * (profileInputChanges): events already in a log keep reading with the plain date.
 */
export const dateOfBirthInput = isoDate
  .refine((date) => date >= earliestDateOfBirth, `must not be before ${earliestDateOfBirth}`)
  .refine((date) => date <= latestDateOfBirth(), 'must not be in the future');

/** A complete profile: every field present. */
export const ProfileFields = z.object(profileFieldSchemas);
/** Some fields: what a change carries. Unknown fields are refused rather than silently dropped. */
export const ProfileChanges = ProfileFields.partial().strict();

/** Changes as a client sends them: ProfileChanges with the date of birth in range. */
export const profileInputChanges = ProfileFields.extend({ dateOfBirth: dateOfBirthInput.nullable() }).partial().strict();

export type ProfileFields = z.infer<typeof ProfileFields>;
export type ProfileChanges = z.infer<typeof ProfileChanges>;
export type ProfileFieldName = keyof ProfileFields;

export const profileFieldNames = Object.keys(profileFieldSchemas) as ProfileFieldName[];

export const emptyProfileFields: ProfileFields = Object.freeze({
  dateOfBirth: null,
  maritalStatus: null,
  numberOfDependents: 0,
  employmentStatus: null,
  employerName: null,
  jobTitle: null,
  yearsEmployed: null,
  annualIncome: null,
  riskTolerance: null,
  taxFilingStatus: null,
  financialGoals: [],
  investmentExperienceYears: null,
  retirementAgeTarget: null,
  notes: null,
}) as ProfileFields;

export function sameFieldValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => item === b[i]);
  return a === b;
}

/** Applies changes to a complete profile, returning a new one. */
export function applyProfileChanges(fields: ProfileFields, changes: ProfileChanges): ProfileFields {
  const next: Record<string, unknown> = { ...fields };
  for (const name of profileFieldNames) {
    if (Object.hasOwn(changes, name) && changes[name] !== undefined) next[name] = changes[name];
  }
  return next as ProfileFields;
}

/** Whole years from the date of birth to `today`; null without a date of birth. */
export function ageOn(dateOfBirth: string | null, today: Date): number | null {
  if (dateOfBirth === null) return null;
  const [year, month, day] = dateOfBirth.split('-').map(Number) as [number, number, number];
  let age = today.getUTCFullYear() - year;
  const beforeBirthday = today.getUTCMonth() + 1 < month || (today.getUTCMonth() + 1 === month && today.getUTCDate() < day);
  if (beforeBirthday) age--;
  return age;
}
