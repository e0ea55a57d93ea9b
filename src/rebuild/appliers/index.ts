import type { Logger } from 'pino';
import { chatsProjection } from '../../../projections/chats.ts';
import { messagesProjection } from '../../../projections/messages.ts';
import { profileHistoryProjection } from '../../../projections/profile-history.ts';
import { profilesProjection } from '../../../projections/profiles.ts';
import type { AnyProjection } from '../../projection-runner/projection.ts';
import type { TableNames } from '../../projection-runner/tables.ts';
import type { RebuildApplier } from './applier.ts';
import { chatsApplier } from './chats.ts';
import { handlersApplier } from './handlers-applier.ts';
import { messagesApplier } from './messages.ts';
import { profileHistoryApplier } from './profile-history.ts';
import { profilesApplier } from './profiles.ts';

export type { DecodedEvent, RebuildApplier } from './applier.ts';

/** How a rebuild applies events to `projection`: its rebuild applier, or its own handlers when it has none. */
export function applierFor(projection: AnyProjection, tables: TableNames, logger?: Logger): RebuildApplier {
  if (projection === chatsProjection) return chatsApplier(tables);
  if (projection === messagesProjection) return messagesApplier(tables);
  if (projection === profilesProjection) return profilesApplier(tables);
  if (projection === profileHistoryProjection) return profileHistoryApplier(tables);
  return handlersApplier(projection, tables, logger);
}

/** True when the projection has a rebuild applier (tens of thousands of events a second, not thousands). */
export function hasRebuildApplier(projection: AnyProjection): boolean {
  return [chatsProjection, messagesProjection, profilesProjection, profileHistoryProjection].includes(projection as never);
}
