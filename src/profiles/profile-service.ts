import { type CommandContext, CommandHandler, metadataOf, StreamStates } from '../commands/index.ts';
import { LakechatError } from '../errors.ts';
import type { EventStore } from '../event-store/index.ts';
import type { ProfileHistoryEntry, ProfileRow, Projections } from '../projection-runner/index.ts';
import type { ProfileCommand } from './commands.ts';
import { decideProfile } from './decide.ts';
import { type ProfileEvent, parseProfileEvent } from './events.ts';
import { evolveProfile } from './evolve.ts';
import type { ProfileChanges } from './fields.ts';
import { initialProfileState, type ProfileState } from './state.ts';
import { profileStreamId } from './stream-id.ts';

export interface ProfileServiceOptions {
  store: EventStore;
  projections: Projections;
  /**
   * Erases a deleted profile's content (src/erasure): its updates up to the deletion become
   * tombstones, its rows outside the log go. Absent: a deletion only appends ProfileDeleted.
   */
  eraseContent?: (selection: { streamIds: readonly string[]; keepTypes: readonly string[]; throughVersion: number }) => Promise<number>;
}

/** Everything a user can do with their profile. Writes return once the read models show them. */
export class ProfileService {
  private readonly handler: CommandHandler<ProfileState, ProfileEvent>;
  private readonly states: StreamStates<ProfileState, ProfileEvent>;

  constructor(private readonly options: ProfileServiceOptions) {
    const states = (this.states = new StreamStates<ProfileState, ProfileEvent>(options.store, {
      initial: initialProfileState,
      evolve: evolveProfile,
      parse: parseProfileEvent,
    }));
    this.handler = new CommandHandler(options.store, states, parseProfileEvent);
  }

  /** The name the store gives itself in cursors: history entries stored with a bare cursor are shown with it. */
  get storeId(): string | null {
    return this.options.store.storeId ?? null;
  }

  async getProfile(owner: string): Promise<ProfileRow> {
    const profile = await this.options.projections.readModels.profiles.get(owner);
    if (profile === null) throw new LakechatError('LAKECHAT_ERR_PROFILE_NOT_FOUND');
    return profile;
  }

  /** PUT: the profile becomes exactly `fields` (fields left out are cleared). */
  replaceProfile(context: CommandContext, fields: ProfileChanges, ifMatch?: number): Promise<{ profile: ProfileRow; created: boolean }> {
    return this.write(context, { type: 'ReplaceProfile', userEmail: context.actor, fields }, ifMatch);
  }

  /** PATCH: only these fields change; the first change creates the profile. */
  changeProfile(context: CommandContext, changes: ProfileChanges, ifMatch?: number): Promise<{ profile: ProfileRow; created: boolean }> {
    return this.write(context, { type: 'ChangeProfile', userEmail: context.actor, changes }, ifMatch);
  }

  /** Deletes the profile and (with `eraseContent`) erases the values it held, its history with them. */
  async deleteProfile(context: CommandContext, ifMatch?: number): Promise<void> {
    const { version } = await this.execute(context, { type: 'DeleteProfile', userEmail: context.actor }, ifMatch);
    await this.options.eraseContent?.({ streamIds: [profileStreamId(context.actor)], keepTypes: ['ProfileDeleted'], throughVersion: version });
  }

  /** Drops the cached state of erased streams. */
  forgetStreams(streamIds: readonly string[]): void {
    for (const streamId of streamIds) this.states.forget(streamId);
  }

  async history(owner: string, options: { after: number; limit: number }): Promise<ProfileHistoryEntry[]> {
    return this.options.projections.readModels.profileHistory.list(owner, options);
  }

  private async write(context: CommandContext, command: ProfileCommand, ifMatch?: number): Promise<{ profile: ProfileRow; created: boolean }> {
    const { created } = await this.execute(context, command, ifMatch);
    return { profile: await this.getProfile(context.actor), created };
  }

  /** Says whether the command created the profile, and the stream's version after it. */
  private async execute(context: CommandContext, command: ProfileCommand, ifMatch?: number): Promise<{ created: boolean; version: number }> {
    let created = false;
    const outcome = await this.handler.handle({
      streamId: profileStreamId(context.actor),
      owner: context.actor,
      decide: (state) => {
        const events = decideProfile(state, command);
        created = state.status !== 'active' && events.length > 0;
        return events;
      },
      expectedVersion: ifMatch,
      metadata: metadataOf(context),
    });
    await this.options.projections.runner.waitFor(outcome.cursor);
    return { created: created && !outcome.duplicate, version: outcome.state.version };
  }
}
