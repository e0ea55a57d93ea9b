// The write side's shared machinery: load a stream's state, decide, append with the expected version.

export { type AppendedDomainEvent, CommandHandler, type CommandOutcome, type CommandRequest, type DomainEvent } from './command-handler.ts';
export { type CommandContext, metadataOf } from './context.ts';
export { StreamStates } from './stream-state.ts';
