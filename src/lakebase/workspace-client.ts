import { type ConfigOptions, Config as SdkConfig, WorkspaceClient } from '@databricks/sdk-experimental';
import type { Environment } from '../config.ts';

/** What the SDK needs from lakechat's parsed configuration. */
export type WorkspaceSettings = Pick<
  Environment,
  'DATABRICKS_HOST' | 'DATABRICKS_TOKEN' | 'DATABRICKS_CLIENT_ID' | 'DATABRICKS_CLIENT_SECRET' | 'DATABRICKS_AUTH_TYPE' | 'DATABRICKS_CONFIG_PROFILE' | 'DATABRICKS_CONFIG_FILE'
>;

/**
 * The SDK's options, built from the parsed configuration only. `env: {}` stops the SDK from reading
 * `process.env` itself, so src/config.ts stays the one reader of the environment and tests can run
 * side by side with different workspaces. One path still reads outside our configuration: with a
 * profile (DATABRICKS_CONFIG_PROFILE) or with no host and no credentials, the SDK reads
 * `~/.databrickscfg` (locating it through HOME), as the Databricks CLI does; that file is the point
 * of a profile, so it is left to the SDK. (The SDK's own debug logger also peeks at
 * DATABRICKS_DEBUG_HEADERS; its logger is silent unless configured, so that changes nothing here.)
 */
export function sdkOptions(settings: WorkspaceSettings): ConfigOptions {
  const options: ConfigOptions = {
    env: {},
    // The SDK retries 429s and transient errors for 5 minutes by default; start-up should not hang that long.
    retryTimeoutSeconds: 60,
  };
  if (settings.DATABRICKS_HOST !== undefined) options.host = settings.DATABRICKS_HOST;
  if (settings.DATABRICKS_TOKEN !== undefined) options.token = settings.DATABRICKS_TOKEN;
  if (settings.DATABRICKS_CLIENT_ID !== undefined) options.clientId = settings.DATABRICKS_CLIENT_ID;
  if (settings.DATABRICKS_CLIENT_SECRET !== undefined) options.clientSecret = settings.DATABRICKS_CLIENT_SECRET;
  if (settings.DATABRICKS_AUTH_TYPE !== undefined) options.authType = settings.DATABRICKS_AUTH_TYPE;
  if (settings.DATABRICKS_CONFIG_PROFILE !== undefined) options.profile = settings.DATABRICKS_CONFIG_PROFILE;
  if (settings.DATABRICKS_CONFIG_FILE !== undefined) options.configFile = settings.DATABRICKS_CONFIG_FILE;
  return options;
}

export function createWorkspaceClient(settings: WorkspaceSettings): WorkspaceClient {
  return new WorkspaceClient(sdkOptions(settings), { product: 'lakechat', productVersion: '0.1.0' });
}

/** A fresh SDK configuration: its first `authenticate` call obtains a new workspace token. */
export function createSdkConfig(settings: WorkspaceSettings): SdkConfig {
  return new SdkConfig(sdkOptions(settings));
}

export type { WorkspaceClient };
