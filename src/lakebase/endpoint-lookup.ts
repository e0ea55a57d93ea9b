import { LakechatError } from '../errors.ts';
import { isNotFound, sdkFailure } from './sdk-failure.ts';
import type { WorkspaceClient } from './workspace-client.ts';

export interface EndpointInfo {
  name: string;
  host: string;
  /** ACTIVE, IDLE...: an idle (scaled-to-zero) endpoint wakes on connection. */
  state: string | undefined;
}

interface EndpointResponse {
  status?: { hosts?: { host?: unknown }; current_state?: unknown };
}

/**
 * Lakebase Autoscaling: `GET /api/2.0/postgres/{endpoint}` → `status.hosts.host`, the endpoint's
 * read-write host (Databricks' Postgres API reference, "Get endpoint"). No typed service in SDK 0.17.0.
 */
export async function lookupEndpoint(workspace: WorkspaceClient, endpoint: string): Promise<EndpointInfo> {
  let response: EndpointResponse;
  try {
    response = (await workspace.apiClient.request({
      path: `/api/2.0/postgres/${endpoint}`,
      method: 'GET',
      headers: new Headers({ Accept: 'application/json' }),
      raw: false,
    })) as EndpointResponse;
  } catch (error) {
    if (isNotFound(error)) {
      throw new LakechatError('LAKECHAT_ERR_LAKEBASE_ENDPOINT_LOOKUP_FAILED', `No Lakebase Autoscaling endpoint ${endpoint} in this workspace`, {
        cause: error,
        details: { httpStatus: 404 },
      });
    }
    throw sdkFailure('LAKECHAT_ERR_LAKEBASE_ENDPOINT_LOOKUP_FAILED', `Could not look up endpoint ${endpoint}`, error);
  }
  const host = response.status?.hosts?.host;
  if (typeof host !== 'string' || host === '') {
    throw new LakechatError('LAKECHAT_ERR_LAKEBASE_ENDPOINT_LOOKUP_FAILED', `Endpoint ${endpoint} reports no host; set PGHOST to the endpoint's host name`);
  }
  const state = response.status?.current_state;
  return { name: endpoint, host, state: typeof state === 'string' ? state : undefined };
}
