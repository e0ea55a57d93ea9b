import { buildApp } from './app.ts';
import { loadConfig, ConfigError } from './config.ts';
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
  const logger = createLogger({ level: config.logLevel });
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
    const forced = setTimeout(() => {
      logger.error('shutdown took longer than 10 s; exiting');
      process.exit(1);
    }, 10_000);
    forced.unref();
    await app.close();
    await storage.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  await app.listen({ host: config.host, port: config.port });
}

await main();
