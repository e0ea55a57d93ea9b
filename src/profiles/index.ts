export type { ProfileCommand } from './commands.ts';
export { decideProfile } from './decide.ts';
export { type ProfileEvent, type ProfileEventType, parseProfileEvent, profileEventTypes } from './events.ts';
export { evolveProfile } from './evolve.ts';
export { ageOn, emptyProfileFields, ProfileChanges, type ProfileFieldName, ProfileFields, profileFieldNames, profileFieldSchemas, profileInputChanges } from './fields.ts';
export { ProfileService, type ProfileServiceOptions } from './profile-service.ts';
export { initialProfileState, type ProfileState } from './state.ts';
export { profileStreamId, profileStreamPrefix } from './stream-id.ts';
