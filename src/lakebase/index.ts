export { type Clock, systemClock, type Timer } from './clock.ts';
export { type ConnectionMode, detectMode, type ModeDecision, type PasswordKind } from './connection-mode.ts';
export { describeDatabaseError, errorCodes, isAuthenticationFailure, isConnectionLost } from './database-errors.ts';
export { type ConnectionStatus, createLakebasePool, type LakebasePool, type LakebasePoolOptions } from './lakebase-pool.ts';
export { pgClientConfig } from './listener-config.ts';
export { type PgTarget, type ResolveDependencies, type ResolvedConnection, resolveConnection } from './resolve-connection.ts';
export { TokenProvider, type TokenProviderOptions, type TokenStatus } from './token-provider.ts';
export type { IssuedToken, TokenSource, TokenSourceKind } from './token-source.ts';
export type { WorkspaceClient } from './workspace-client.ts';
