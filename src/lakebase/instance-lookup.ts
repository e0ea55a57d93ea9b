import { LakechatError } from '../errors.ts';
import { isNotFound, sdkFailure } from './sdk-failure.ts';
import type { WorkspaceClient } from './workspace-client.ts';

export interface InstanceInfo {
  name: string;
  /** The read-write host to connect to. */
  host: string;
  /** AVAILABLE, STARTING, STOPPED...: anything but AVAILABLE refuses connections. */
  state: string | undefined;
  pgVersion: string | undefined;
}

/** Lakebase Provisioned: `GET /api/2.0/database/instances/{name}` for its read-write host. */
export async function lookupInstance(workspace: WorkspaceClient, name: string): Promise<InstanceInfo> {
  let instance;
  try {
    instance = await workspace.database.getDatabaseInstance({ name });
  } catch (error) {
    if (isNotFound(error)) {
      throw new LakechatError('LAKECHAT_ERR_LAKEBASE_INSTANCE_LOOKUP_FAILED', `No Lakebase instance named ${name} in this workspace (names are case-sensitive)`, {
        cause: error,
        details: { httpStatus: 404 },
      });
    }
    throw sdkFailure('LAKECHAT_ERR_LAKEBASE_INSTANCE_LOOKUP_FAILED', `Could not look up Lakebase instance ${name}`, error);
  }
  const host = instance.read_write_dns;
  if (typeof host !== 'string' || host === '') {
    throw new LakechatError('LAKECHAT_ERR_LAKEBASE_INSTANCE_LOOKUP_FAILED', `Lakebase instance ${name} has no read-write host yet (state ${instance.state ?? 'unknown'})`);
  }
  return { name, host, state: instance.state, pgVersion: instance.pg_version };
}
