import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from './embedded-postgres.ts';
import { enableTestSsl } from './postgres-ssl.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A superuser URL of the PostgreSQL the tests use; each test file creates its own database in it. */
    adminDatabaseUrl: string;
    /** The server's self-signed TLS certificate (PEM) when the setup turned TLS on; empty otherwise. */
    postgresCertificate: string;
  }
}

export { freePort } from './embedded-postgres.ts';

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
  const server = await startEmbeddedPostgres();
  // TLS on, as on Lakebase, so sslmode=require is tested for real.
  const { certificate } = await enableTestSsl(server.url);
  project.provide('adminDatabaseUrl', server.url);
  project.provide('postgresCertificate', certificate);
  return () => server.stop();
}
