import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';

/** Members of this role may log in over TLS only, as on Lakebase; the Lakebase tests' roles join it. */
export const sslOnlyGroup = 'lakechat_ssl_only';

async function waitForSsl(adminUrl: string): Promise<void> {
  // pg_reload_conf() only signals the server; the new settings apply a moment later.
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const client = new pg.Client({ connectionString: adminUrl, ssl: { rejectUnauthorized: false } });
    try {
      await client.connect();
      await client.end();
      return;
    } catch {
      await client.end().catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error('the test PostgreSQL did not start accepting TLS connections');
}

/**
 * Turns TLS on in a local test PostgreSQL with a self-signed certificate (CN localhost, SAN
 * 127.0.0.1) made here with openssl, and makes members of `lakechat_ssl_only` log in over TLS only.
 * The server must run on this machine (its data directory is written to). Returns the certificate.
 */
export async function enableTestSsl(adminUrl: string): Promise<{ certificate: string }> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const dataDirectory = String((await admin.query('SHOW data_directory')).rows[0].data_directory);
    const hbaFile = String((await admin.query('SHOW hba_file')).rows[0].hba_file);
    const certificate = path.join(dataDirectory, 'lakechat-test.crt');
    const key = path.join(dataDirectory, 'lakechat-test.key');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '3', '-keyout', key, '-out', certificate, '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
      { stdio: 'ignore' },
    );
    // PostgreSQL reads the key only if its own user owns it and nobody else can read it.
    const owner = statSync(dataDirectory);
    for (const file of [certificate, key]) chownSync(file, owner.uid, owner.gid);
    chmodSync(key, 0o600);

    await admin.query(`DO $$ BEGIN CREATE ROLE ${sslOnlyGroup} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
    const hba = readFileSync(hbaFile, 'utf8');
    const rule = `hostnossl all +${sslOnlyGroup} all reject`;
    if (!hba.includes(rule)) writeFileSync(hbaFile, `${rule}\n${hba}`);

    await admin.query(`ALTER SYSTEM SET ssl_cert_file = '${certificate}'`);
    await admin.query(`ALTER SYSTEM SET ssl_key_file = '${key}'`);
    await admin.query('ALTER SYSTEM SET ssl = on');
    await admin.query('SELECT pg_reload_conf()');
    await waitForSsl(adminUrl);
    return { certificate: readFileSync(certificate, 'utf8') };
  } finally {
    await admin.end();
  }
}
