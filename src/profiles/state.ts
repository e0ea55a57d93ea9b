import { emptyProfileFields, type ProfileFields } from './fields.ts';

export interface ProfileState {
  readonly status: 'absent' | 'active' | 'deleted';
  readonly version: number;
  readonly fields: ProfileFields;
}

export const initialProfileState: ProfileState = Object.freeze({ status: 'absent', version: 0, fields: emptyProfileFields });
