export { systemClock, type Clock, type Timer } from './clock.ts';
export { detectMode, type ConnectionMode, type ModeDecision, type PasswordKind } from './connection-mode.ts';
export { describeDatabaseError, isAuthenticationFailure, isConnectionLost } from './database-errors.ts';
export { createLakebasePool, type ConnectionStatus, type LakebasePool, type LakebasePoolOptions } from './lakebase-pool.ts';
export { pgClientConfig } from './listener-config.ts';
export { resolveConnection, type PgTarget, type ResolvedConnection, type ResolveDependencies } from './resolve-connection.ts';
export { TokenProvider, type TokenProviderOptions, type TokenStatus } from './token-provider.ts';
export type { IssuedToken, TokenSource, TokenSourceKind } from './token-source.ts';
