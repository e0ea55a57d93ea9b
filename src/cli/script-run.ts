import { isLakechatError } from '../errors.ts';
import { redactSecrets } from '../logger.ts';

/** Exit codes of the scripts (sysexits.h where one fits). */
export const exitCodes = { ok: 0, failed: 1, usage: 64, unavailable: 69, busy: 75, config: 78, interrupted: 130 } as const;

/**
 * Runs a script's body with an AbortSignal that Ctrl-C (SIGINT) and SIGTERM raise, and turns what it
 * throws into one line on stderr (the code and message, never a stack or a secret) and an exit code.
 */
export async function runScript(name: string, body: (signal: AbortSignal) => Promise<void>): Promise<never> {
  const controller = new AbortController();
  const stop = (): void => {
    if (controller.signal.aborted) process.exit(exitCodes.interrupted);
    process.stderr.write(`\n${name}: stopping (press Ctrl-C again to quit at once)\n`);
    controller.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    await body(controller.signal);
    process.exit(exitCodes.ok);
  } catch (error) {
    process.stderr.write(`${name}: ${describe(error)}\n`);
    process.exit(exitCodeOf(error, controller.signal.aborted));
  }
}

function describe(error: unknown): string {
  if (isLakechatError(error)) {
    const details = error.details === undefined ? '' : ` ${JSON.stringify(error.details)}`;
    return redactSecrets(`${error.code}: ${error.message}${details}`);
  }
  return redactSecrets(error instanceof Error ? error.message : String(error));
}

function exitCodeOf(error: unknown, aborted: boolean): number {
  if (aborted || isLakechatError(error, 'LAKECHAT_ERR_REBUILD_INTERRUPTED')) return exitCodes.interrupted;
  if (isLakechatError(error, 'LAKECHAT_ERR_CONFIG_INVALID')) return exitCodes.config;
  if (isLakechatError(error, 'LAKECHAT_ERR_REBUILD_IN_PROGRESS')) return exitCodes.busy;
  if (isLakechatError(error) && error.statusCode >= 400 && error.statusCode < 500 && error.statusCode !== 409) return exitCodes.usage;
  if (isLakechatError(error) && error.statusCode === 503) return exitCodes.unavailable;
  return exitCodes.failed;
}
