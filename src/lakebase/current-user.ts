import { ApiError } from '@databricks/sdk-experimental';
import { LakechatError } from '../errors.ts';
import { sdkFailure } from './sdk-failure.ts';
import type { WorkspaceClient } from './workspace-client.ts';

/**
 * The workspace identity's user name (SCIM `Me`): the user's email, or a service principal's
 * application id. Lakebase's PostgreSQL role for an identity has exactly this name.
 */
export async function lookupCurrentUser(workspace: WorkspaceClient): Promise<string> {
  let me;
  try {
    me = await workspace.currentUser.me();
  } catch (error) {
    // Anything but an API answer (a token exchange refused, no credentials found) is an auth failure.
    const code = error instanceof ApiError ? 'LAKECHAT_ERR_LAKEBASE_USER_LOOKUP_FAILED' : 'LAKECHAT_ERR_LAKEBASE_WORKSPACE_AUTH_FAILED';
    throw sdkFailure(code, 'Could not ask the workspace who we are (SCIM Me)', error);
  }
  if (typeof me.userName !== 'string' || me.userName === '') {
    throw new LakechatError('LAKECHAT_ERR_LAKEBASE_USER_LOOKUP_FAILED', 'The workspace identity has no user name; set PGUSER');
  }
  return me.userName;
}
