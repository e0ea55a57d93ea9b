import { createTestDatabase, type TestDatabase } from '../../support/database.ts';
import { type FakeWorkspace, type FakeWorkspaceOptions, startFakeWorkspace } from '../../support/fake-workspace.ts';
import { createTokenRole, type TokenRole } from './token-role.ts';

export interface LakebaseWorld {
  database: TestDatabase;
  role: TokenRole;
  workspace: FakeWorkspace;
  /** Host and port of the test PostgreSQL. */
  pgHost: string;
  pgPort: number;
  /** Variables that point lakechat at this world; tests add the mode's own. */
  baseEnv: Record<string, string>;
  cleanup(): Promise<void>;
}

export const instanceName = 'personal-finance-db';
export const endpointName = 'projects/finance/branches/main/endpoints/primary';
export const pat = 'fakepat-0123456789abcdef';
export const client = { id: '6b3c1d2e-0000-4000-8000-00000000c11e', secret: 'fake-client-secret-value' };

/**
 * A fresh test database, a token role in it, and a fake workspace whose tokens become the role's
 * password as they are issued (and stop working when revoked), like Lakebase's.
 */
export async function createLakebaseWorld(options: { canCreate?: boolean; workspace?: Partial<FakeWorkspaceOptions>; bindTokens?: 'database' | 'oauth' } = {}): Promise<LakebaseWorld> {
  const database = await createTestDatabase('lakebase');
  const role = await createTokenRole(database.url, options.canCreate === undefined ? {} : { canCreate: options.canCreate });
  const url = new URL(database.url);
  const bind = options.bindTokens ?? 'database';
  const workspace = await startFakeWorkspace({
    userName: role.name,
    pat,
    clients: [client],
    instances: { [instanceName]: { host: url.hostname } },
    endpoints: { [endpointName]: { host: url.hostname } },
    onTokenIssued: async (issued) => {
      const isDatabase = issued.kind !== 'oauth';
      if ((bind === 'database') === isDatabase) await role.setPassword(issued.token, issued.expiresAt);
    },
    onTokenRevoked: async () => {
      await role.expire();
    },
    ...options.workspace,
  });
  return {
    database,
    role,
    workspace,
    pgHost: url.hostname,
    pgPort: Number(url.port),
    baseEnv: { DATABRICKS_HOST: workspace.host, PGPORT: url.port, LAKEBASE_DATABASE_NAME: database.name },
    async cleanup() {
      await workspace.close();
      await role.drop();
      await database.drop();
    },
  };
}
