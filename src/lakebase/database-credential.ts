import { randomUUID } from 'node:crypto';
import { LakechatError } from '../errors.ts';
import { sdkFailure } from './sdk-failure.ts';
import type { IssuedToken, TokenSource } from './token-source.ts';
import type { WorkspaceClient } from './workspace-client.ts';

/** Parses an API timestamp; undefined when absent or unreadable, so the provider assumes an hour. */
export function parseExpiry(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : time;
}

export function requireToken(token: unknown, what: string): string {
  if (typeof token !== 'string' || token === '') {
    throw new LakechatError('LAKECHAT_ERR_LAKEBASE_CREDENTIAL_FAILED', `${what}: the response carried no token`);
  }
  return token;
}

/** Lakebase Provisioned: `generateDatabaseCredential` for one instance (POST /api/2.0/database/credentials). */
export function databaseCredentialSource(workspace: WorkspaceClient, instanceName: string): TokenSource {
  const what = `Could not generate a database credential for instance ${instanceName}`;
  return {
    kind: 'database-credential',
    async fetch(): Promise<IssuedToken> {
      let response;
      try {
        response = await workspace.database.generateDatabaseCredential({
          request_id: randomUUID(),
          instance_names: [instanceName],
        });
      } catch (error) {
        throw sdkFailure('LAKECHAT_ERR_LAKEBASE_CREDENTIAL_FAILED', what, error);
      }
      const expiresAt = parseExpiry(response.expiration_time);
      const token = requireToken(response.token, what);
      return expiresAt === undefined ? { token } : { token, expiresAt };
    },
  };
}
