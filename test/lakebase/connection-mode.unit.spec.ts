import { describe, expect, it } from 'vitest';
import { detectMode } from '../../src/lakebase/index.ts';

const url = 'postgresql://app:pw@db.example.com:5432/app?sslmode=require';

describe('choosing the connection mode', () => {
  it('takes LAKEBASE_PG_URL first, and names what it ignores', () => {
    const decision = detectMode({ LAKEBASE_PG_URL: url, PGHOST: 'db.example.com', PGPASSWORD: undefined, LAKEBASE_INSTANCE_NAME: 'finance', LAKEBASE_ENDPOINT: undefined });
    expect(decision.mode).toBe('url');
    expect(decision.password).toBe('url');
    expect(decision.ignored).toEqual(['PGHOST', 'LAKEBASE_INSTANCE_NAME']);
  });

  it('takes PGHOST next, with PGPASSWORD when set', () => {
    const decision = detectMode({ LAKEBASE_PG_URL: undefined, PGHOST: 'db.example.com', PGPASSWORD: 'pw', LAKEBASE_INSTANCE_NAME: 'finance', LAKEBASE_ENDPOINT: undefined });
    expect(decision).toMatchObject({ mode: 'pg-env', password: 'pgpassword' });
  });

  it('logs in with PGHOST and a database credential when an instance or endpoint is also set', () => {
    expect(detectMode({ LAKEBASE_PG_URL: undefined, PGHOST: 'h', PGPASSWORD: undefined, LAKEBASE_INSTANCE_NAME: 'finance', LAKEBASE_ENDPOINT: undefined }).password).toBe(
      'database-credential',
    );
    expect(
      detectMode({ LAKEBASE_PG_URL: undefined, PGHOST: 'h', PGPASSWORD: undefined, LAKEBASE_INSTANCE_NAME: undefined, LAKEBASE_ENDPOINT: 'projects/p/branches/b/endpoints/e' }).password,
    ).toBe('endpoint-credential');
  });

  it("logs in with PGHOST and the workspace's own token when nothing else says how (Databricks Apps)", () => {
    const decision = detectMode({ LAKEBASE_PG_URL: undefined, PGHOST: 'h', PGPASSWORD: undefined, LAKEBASE_INSTANCE_NAME: undefined, LAKEBASE_ENDPOINT: undefined });
    expect(decision).toMatchObject({ mode: 'pg-env', password: 'workspace-token' });
  });

  it('looks the instance up, or the endpoint, when no host is given', () => {
    expect(detectMode({ LAKEBASE_PG_URL: undefined, PGHOST: undefined, PGPASSWORD: undefined, LAKEBASE_INSTANCE_NAME: 'finance', LAKEBASE_ENDPOINT: undefined })).toMatchObject({
      mode: 'instance',
      password: 'database-credential',
    });
    expect(
      detectMode({ LAKEBASE_PG_URL: undefined, PGHOST: undefined, PGPASSWORD: undefined, LAKEBASE_INSTANCE_NAME: undefined, LAKEBASE_ENDPOINT: 'projects/p/branches/b/endpoints/e' }),
    ).toMatchObject({ mode: 'endpoint', password: 'endpoint-credential' });
  });

  it('falls to memory when no mode is configured, saying which variables it looked for', () => {
    const decision = detectMode({ LAKEBASE_PG_URL: undefined, PGHOST: undefined, PGPASSWORD: undefined, LAKEBASE_INSTANCE_NAME: undefined, LAKEBASE_ENDPOINT: undefined });
    expect(decision.mode).toBe('memory');
    expect(decision.reason).toContain('LAKEBASE_PG_URL');
    expect(decision.reason).toContain('LAKEBASE_INSTANCE_NAME');
  });
});
