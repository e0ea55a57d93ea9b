import './node-version.ts'; // first: on an older Node, say so before anything else loads
import { buildApp } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';
import { isLakechatError } from './errors.ts';
import { createLogger } from './logger.ts';
import { openStorage } from './storage.ts';

/** Runs lakechat: configuration, storage, listen, and a graceful stop on SIGTERM or SIGINT. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`lakechat: ${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  const logger = createLogger({ level: config.logLevel, format: config.logFormat });
  // A promise nobody awaited failed: log it with its stack (what to look for) and keep serving; one
  // stray rejection must not end an instance that holds every client's connection.
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason, unhandledRejection: true }, 'unhandled promise rejection (kept running)');
  });
  let storage;
  try {
    storage = await openStorage(config, logger);
  } catch (error) {
    // STORAGE_FALLBACK=fail and the database is unreachable: openStorage has logged why.
    if (isLakechatError(error)) process.exit(69); // EX_UNAVAILABLE
    throw error;
  }
  const app = await buildApp({ config, logger, storage });

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    // Databricks Apps kills the process 15 s after SIGTERM; leave well before, whatever hangs.
    const forced = setTimeout(() => {
      logger.error('shutdown took longer than 9 s; exiting');
      process.exit(1);
    }, 9_000);
    forced.unref();
    // Closing the app first refuses new WebSocket upgrades, closes every WebSocket client with 1012
    // (reconnect: another instance, or this one restarted, resumes them from their cursors), and
    // cuts off those that do not finish the close handshake within 2 s; then the HTTP server stops.
    await app.close();
    await storage.close();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  await app.listen({ host: config.host, port: config.port });
}

await main();
