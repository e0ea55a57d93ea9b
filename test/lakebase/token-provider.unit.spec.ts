import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isLakechatError } from '../../src/errors.ts';
import { databaseCredentialSource } from '../../src/lakebase/database-credential.ts';
import { TokenProvider } from '../../src/lakebase/index.ts';
import { createWorkspaceClient } from '../../src/lakebase/workspace-client.ts';
import { workspaceTokenSource } from '../../src/lakebase/workspace-token.ts';
import { type FakeWorkspace, type FakeWorkspaceOptions, startFakeWorkspace } from '../support/fake-workspace.ts';
import { captureLog } from './support/log-capture.ts';
import { ManualClock } from './support/manual-clock.ts';

const minute = 60_000;
const pat = 'fakepat-token-provider';
const instance = 'personal-finance-db';

let workspace: FakeWorkspace | undefined;
const providers: TokenProvider[] = [];
afterEach(async () => {
  for (const provider of providers.splice(0)) provider.close();
  await workspace?.close();
  workspace = undefined;
});

async function setUp(options: Partial<FakeWorkspaceOptions> = {}) {
  workspace = await startFakeWorkspace({ userName: 'app@example.com', pat, instances: { [instance]: { host: '127.0.0.1' } }, ...options });
  const clock = new ManualClock();
  const log = captureLog();
  const client = createWorkspaceClient({ DATABRICKS_HOST: workspace.host, DATABRICKS_TOKEN: pat } as never);
  const provider = new TokenProvider({ source: databaseCredentialSource(client, instance), logger: log.logger, clock });
  providers.push(provider);
  return { workspace, clock, log, provider };
}

const credentials = (fake: FakeWorkspace) => fake.count('database-credential');

describe('the token provider', () => {
  it('asks for a token once and serves it from its cache until a refresh is due', async () => {
    const { workspace, clock, provider } = await setUp();
    const first = await provider.getToken();
    clock.advance(30 * minute);
    expect(await provider.getToken()).toBe(first);
    expect(credentials(workspace)).toBe(1);
    expect(first).toBe(workspace.issued('database-credential')[0]?.token);
  });

  it('refreshes 45 minutes after issue when the token lives an hour', async () => {
    const { workspace, clock, provider } = await setUp({ tokenLifetimeSeconds: 3600 });
    const first = await provider.getToken();
    clock.advance(44 * minute);
    expect(credentials(workspace)).toBe(1);
    clock.advance(1 * minute);
    await vi.waitFor(async () => expect(await provider.getToken()).not.toBe(first));
    expect(credentials(workspace)).toBe(2);
  });

  it('refreshes 5 minutes before the expiry the API returns when that comes first', async () => {
    const { workspace, clock, provider } = await setUp({ tokenLifetimeSeconds: 20 * 60 });
    const first = await provider.getToken();
    const status = provider.status();
    expect(Date.parse(status.refreshAt ?? '')).toBe(Date.parse(status.expiresAt ?? '') - 5 * minute);
    clock.advance(14 * minute);
    expect(credentials(workspace)).toBe(1);
    clock.advance(1 * minute + 1_000);
    await vi.waitFor(async () => expect(await provider.getToken()).not.toBe(first));
    expect(credentials(workspace)).toBe(2);
  });

  it('sends one request however many logins ask at once', async () => {
    const { workspace, provider } = await setUp();
    const tokens = await Promise.all(Array.from({ length: 50 }, () => provider.getToken()));
    expect(new Set(tokens).size).toBe(1);
    expect(credentials(workspace)).toBe(1);
  });

  it('keeps serving the current token while failed refreshes are retried with growing delays', async () => {
    const { workspace, clock, provider, log } = await setUp();
    const first = await provider.getToken();
    workspace.failNext('database-credential', { status: 500, errorCode: 'INTERNAL_ERROR', message: 'credential service down' }, 3);
    clock.advance(45 * minute);
    await vi.waitFor(() => expect(provider.status().consecutiveFailures).toBe(1));
    expect(await provider.getToken()).toBe(first);
    clock.advance(1_000);
    await vi.waitFor(() => expect(provider.status().consecutiveFailures).toBe(2));
    clock.advance(1_999);
    expect(credentials(workspace)).toBe(3);
    clock.advance(1);
    await vi.waitFor(() => expect(provider.status().consecutiveFailures).toBe(3));
    expect(await provider.getToken()).toBe(first);
    clock.advance(4_000);
    await vi.waitFor(async () => expect(await provider.getToken()).not.toBe(first));
    expect(credentials(workspace)).toBe(5);
    // /metrics counts every failure since start, so these stay counted after the recovery.
    expect(provider.status()).toMatchObject({ consecutiveFailures: 0, failures: 3, fetches: 2, lastErrorCode: null });
    const retries = log.lines().filter((line) => line.msg === 'could not refresh the database token; the current one still works, retrying');
    expect(retries.map((line) => line.retryInMs)).toEqual([1_000, 2_000, 4_000]);
  });

  it('fetches on demand once the token has expired, and reports a catalogued error when it cannot', async () => {
    const { workspace, clock, provider } = await setUp();
    const first = await provider.getToken();
    provider.close(); // no background refresh: the token simply ages
    clock.advance(61 * minute);
    workspace.failNext('database-credential', { status: 403, errorCode: 'PERMISSION_DENIED', message: 'no access to the instance' });
    const error = await provider.getToken().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(isLakechatError(error, 'LAKECHAT_ERR_LAKEBASE_WORKSPACE_AUTH_FAILED')).toBe(true);
    expect((error as Error).message).toContain('no access to the instance');
    expect((error as Error).message).not.toContain(first);
    workspace.failNext('database-credential', { status: 500, errorCode: 'INTERNAL_ERROR', message: 'down' });
    const second = await provider.getToken().catch((caught: unknown) => caught);
    expect(isLakechatError(second, 'LAKECHAT_ERR_LAKEBASE_CREDENTIAL_FAILED')).toBe(true);
    expect(await provider.getToken()).not.toBe(first);
  });

  it('drops a refused token once, however many connections report it', async () => {
    const { workspace, provider } = await setUp();
    const first = await provider.getToken();
    const dropped = Array.from({ length: 10 }, () => provider.invalidate(first));
    expect(dropped.filter(Boolean)).toHaveLength(1);
    const [a, b] = await Promise.all([provider.getToken(), provider.getToken()]);
    expect(a).toBe(b);
    expect(a).not.toBe(first);
    expect(provider.invalidate(first)).toBe(false);
    expect(credentials(workspace)).toBe(2);
  });

  it('shows times and counts in its status, never the token', async () => {
    const { provider } = await setUp();
    const token = await provider.getToken();
    const status = provider.status();
    expect(status).toMatchObject({ source: 'database-credential', fetches: 1, consecutiveFailures: 0 });
    expect(Date.parse(status.expiresAt ?? '')).toBeGreaterThan(Date.now());
    expect(JSON.stringify(status)).not.toContain(token);
  });

  it("takes a workspace OAuth token's expiry from its JWT claims", async () => {
    workspace = await startFakeWorkspace({
      userName: 'sp',
      clients: [{ id: 'sp-client', secret: 'sp-secret' }],
      tokenLifetimeSeconds: 1800,
      oauthTokens: 'jwt',
    });
    const clock = new ManualClock();
    const provider = new TokenProvider({
      source: workspaceTokenSource({ DATABRICKS_HOST: workspace.host, DATABRICKS_CLIENT_ID: 'sp-client', DATABRICKS_CLIENT_SECRET: 'sp-secret' } as never),
      logger: captureLog().logger,
      clock,
    });
    providers.push(provider);
    const token = await provider.getToken();
    expect(token).toBe(workspace.issued('oauth')[0]?.token);
    const status = provider.status();
    const lifetime = Date.parse(status.expiresAt ?? '') - clock.now();
    expect(lifetime).toBeGreaterThan(29 * minute);
    expect(lifetime).toBeLessThanOrEqual(30 * minute);
    expect(Date.parse(status.refreshAt ?? '')).toBe(Date.parse(status.expiresAt ?? '') - 5 * minute);
  });

  it('gives a fresh workspace token on each refresh rather than the SDK cached one', async () => {
    workspace = await startFakeWorkspace({ userName: 'sp', clients: [{ id: 'sp-client', secret: 'sp-secret' }], oauthTokens: 'opaque' });
    const provider = new TokenProvider({
      source: workspaceTokenSource({ DATABRICKS_HOST: workspace.host, DATABRICKS_CLIENT_ID: 'sp-client', DATABRICKS_CLIENT_SECRET: 'sp-secret' } as never),
      logger: captureLog().logger,
      clock: new ManualClock(),
    });
    providers.push(provider);
    const first = await provider.getToken();
    provider.invalidate(first);
    expect(await provider.getToken()).not.toBe(first);
    expect(workspace.count('oauth-token')).toBe(2);
  });
});

describe('the refresh timer', () => {
  it('never keeps the process alive', async () => {
    workspace = await startFakeWorkspace({ userName: 'app@example.com', pat, instances: { [instance]: { host: '127.0.0.1' } } });
    const script = new URL('./support/token-provider-exit.ts', import.meta.url).pathname;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script, workspace.host, pat, instance], {
      timeout: 20_000,
    });
    // The child obtained a token, armed the refresh timer and still exited by itself.
    expect(stdout).toContain('token obtained; refresh pending');
  });
});
