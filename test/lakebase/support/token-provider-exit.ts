/**
 * Run as a child process by token-provider.unit.spec.ts: gets a token with the real system clock,
 * which arms the refresh timer, then leaves the event loop alone. The process must exit by itself.
 */

import { databaseCredentialSource } from '../../../src/lakebase/database-credential.ts';
import { TokenProvider } from '../../../src/lakebase/token-provider.ts';
import { createWorkspaceClient } from '../../../src/lakebase/workspace-client.ts';
import { createLogger } from '../../../src/logger.ts';

const [host, pat, instance] = process.argv.slice(2);
const client = createWorkspaceClient({ DATABRICKS_HOST: host, DATABRICKS_TOKEN: pat } as never);
const provider = new TokenProvider({ source: databaseCredentialSource(client, instance ?? ''), logger: createLogger({ level: 'silent' }) });
await provider.getToken();
process.stdout.write(provider.status().refreshAt === null ? 'no refresh scheduled\n' : 'token obtained; refresh pending\n');
