import { ApiError, ConfigError as SdkConfigError } from '@databricks/sdk-experimental';
import { type ErrorCode, LakechatError } from '../errors.ts';
import { redactSecrets } from '../logger.ts';

/** One line about an SDK failure, safe to log: HTTP status, error code and the server's message. */
export function describeSdkError(error: unknown): string {
  if (error instanceof ApiError) {
    return redactSecrets(`HTTP ${error.statusCode} ${error.errorCode ?? ''}: ${error.message}`.replace(/\s+:/, ':'));
  }
  if (error instanceof Error) return redactSecrets(error.message);
  return 'unknown error';
}

export function httpStatusOf(error: unknown): number | undefined {
  return error instanceof ApiError ? error.statusCode : undefined;
}

export function isNotFound(error: unknown): boolean {
  return error instanceof ApiError && (error.statusCode === 404 || error.errorCode === 'RESOURCE_DOES_NOT_EXIST');
}

/** True when the SDK could not authenticate: bad or missing credentials, or the workspace refused them. */
export function isWorkspaceAuthFailure(error: unknown): boolean {
  return error instanceof SdkConfigError || (error instanceof ApiError && (error.statusCode === 401 || error.statusCode === 403));
}

/**
 * Wraps an SDK failure in a catalogued error; the SDK's error stays in `cause`, and no secret is in
 * the message. An authentication failure gets the workspace-auth code whatever the step was, since
 * its fix is the credentials, not the step.
 */
export function sdkFailure(code: ErrorCode, what: string, error: unknown): LakechatError {
  const status = httpStatusOf(error);
  const finalCode = isWorkspaceAuthFailure(error) ? 'LAKECHAT_ERR_LAKEBASE_WORKSPACE_AUTH_FAILED' : code;
  return new LakechatError(finalCode, `${what}: ${describeSdkError(error)}`, {
    cause: error,
    details: status === undefined ? {} : { httpStatus: status },
  });
}
