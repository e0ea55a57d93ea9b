import { parseExpiry, requireToken } from './database-credential.ts';
import { sdkFailure } from './sdk-failure.ts';
import type { IssuedToken, TokenSource } from './token-source.ts';
import type { WorkspaceClient } from './workspace-client.ts';

/**
 * Lakebase Autoscaling: `POST /api/2.0/postgres/credentials { endpoint }` → `{ token, expire_time }`.
 * SDK 0.17.0 has no typed service for it, so the request goes through the client's `apiClient`.
 */
export function endpointCredentialSource(workspace: WorkspaceClient, endpoint: string): TokenSource {
  const what = `Could not generate a database credential for endpoint ${endpoint}`;
  return {
    kind: 'endpoint-credential',
    async fetch(): Promise<IssuedToken> {
      let response: Record<string, unknown>;
      try {
        response = (await workspace.apiClient.request({
          path: '/api/2.0/postgres/credentials',
          method: 'POST',
          headers: new Headers({ Accept: 'application/json', 'Content-Type': 'application/json' }),
          raw: false,
          payload: { endpoint },
        })) as Record<string, unknown>;
      } catch (error) {
        throw sdkFailure('LAKECHAT_ERR_LAKEBASE_CREDENTIAL_FAILED', what, error);
      }
      const expiresAt = parseExpiry(response.expire_time);
      const token = requireToken(response.token, what);
      return expiresAt === undefined ? { token } : { token, expiresAt };
    },
  };
}
