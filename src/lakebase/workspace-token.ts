import { LakechatError } from '../errors.ts';
import { jwtExpiry } from './jwt-expiry.ts';
import { sdkFailure } from './sdk-failure.ts';
import type { IssuedToken, TokenSource } from './token-source.ts';
import { createSdkConfig, type WorkspaceSettings } from './workspace-client.ts';

const bearer = /^Bearer\s+(\S+)$/;

/**
 * The workspace's own OAuth token (or PAT) as the PostgreSQL password, as Databricks' Provisioned app
 * template does. Each fetch authenticates a fresh SDK configuration, so an OAuth M2M token is newly
 * issued (the SDK would otherwise hand back its cached one until 40 s before it expires) and its age
 * is known. The SDK gives no expiry; a JWT's `exp` claim is used when there is one.
 */
export function workspaceTokenSource(settings: WorkspaceSettings): TokenSource {
  return {
    kind: 'workspace-token',
    async fetch(): Promise<IssuedToken> {
      const headers = new Headers();
      try {
        await createSdkConfig(settings).authenticate(headers);
      } catch (error) {
        throw sdkFailure('LAKECHAT_ERR_LAKEBASE_WORKSPACE_AUTH_FAILED', 'Could not obtain a workspace token', error);
      }
      const token = bearer.exec(headers.get('Authorization') ?? '')?.[1];
      if (token === undefined) {
        throw new LakechatError(
          'LAKECHAT_ERR_LAKEBASE_WORKSPACE_AUTH_FAILED',
          'The workspace authentication is not a bearer token, so it cannot be a PostgreSQL password (use a PAT or OAuth)',
        );
      }
      const expiresAt = jwtExpiry(token);
      return expiresAt === undefined ? { token } : { token, expiresAt };
    },
  };
}
