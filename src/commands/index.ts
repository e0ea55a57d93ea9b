// The write side's shared machinery: load a stream's state, decide, append with the expected version.
export { metadataOf, type CommandContext } from './context.ts';
export { CommandHandler, type AppendedDomainEvent, type CommandOutcome, type CommandRequest, type DomainEvent } from './command-handler.ts';
export { StreamStates } from './stream-state.ts';
