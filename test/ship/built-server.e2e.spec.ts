import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { freePort } from '../support/global-setup.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

let database: TestDatabase;
let server: ChildProcess | undefined;
beforeAll(async () => {
  database = await createTestDatabase();
  // What Databricks Apps runs after `npm install`: the build, then app.yaml's command.
  const build = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: root, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}${build.stderr}`);
});
afterAll(async () => {
  server?.kill('SIGKILL');
  await database.drop();
});

/** app.yaml's `command`, written as a flow sequence of strings (JSON) on one line. */
function appCommand(): string[] {
  const line = readFileSync(`${root}app.yaml`, 'utf8').match(/^command:\s*(\[.*\])\s*$/m);
  if (line?.[1] === undefined) throw new Error('app.yaml has no one-line command');
  return JSON.parse(line[1]) as string[];
}

async function get(url: string, exited: () => boolean): Promise<Response> {
  for (let attempt = 0; attempt < 300 && !exited(); attempt += 1) {
    try {
      return await fetch(url);
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`no answer from ${url}`);
}

describe('the built server', () => {
  it('starts from dist/ with plain node, migrates PostgreSQL from the copied migrations, and answers /health', async () => {
    const port = await freePort();
    let output = '';
    // app.yaml's command as Databricks Apps runs it: plain node on the compiled JavaScript, no tsx.
    const [program, ...args] = appCommand();
    expect(program).toBe('node');
    server = spawn(process.execPath, args, {
      cwd: root,
      env: { PATH: process.env.PATH, HOST: '127.0.0.1', DATABRICKS_APP_PORT: String(port), LAKEBASE_PG_URL: database.url, STORAGE_FALLBACK: 'fail' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let exited = false;
    server.once('exit', () => (exited = true));
    server.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    server.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));

    const health = await get(`http://127.0.0.1:${port}/health`, () => exited);
    expect(health.status, output).toBe(200);
    expect(await health.json()).toMatchObject({ storage: 'postgres', degraded: false });
    const ready = await get(`http://127.0.0.1:${port}/ready`, () => exited);
    expect(ready.status, output).toBe(200);

    // Production logs: one JSON object per line on stdout.
    const lines = output.trim().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();

    server.kill('SIGTERM');
    expect(await new Promise((resolve) => (exited ? resolve(server!.exitCode) : server!.once('exit', resolve)))).toBe(0);
    server = undefined;
  });

  it('stops gracefully when a supervisor sends SIGTERM to `npm start` (the process it started), leaving no server behind', async () => {
    const port = await freePort();
    let output = '';
    // What Docker's `CMD npm start` or systemd with KillMode=process do. The build ran in beforeAll:
    // --ignore-scripts skips only `prestart`.
    const npm = spawn('npm', ['start', '--ignore-scripts'], {
      cwd: root,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, HOST: '127.0.0.1', PORT: String(port), LAKEBASE_PG_URL: database.url, STORAGE_FALLBACK: 'fail' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server = npm;
    let exited = false;
    npm.once('exit', () => (exited = true));
    npm.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    npm.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    expect((await get(`http://127.0.0.1:${port}/ready`, () => exited)).status, output).toBe(200);
    const serverPid = Number(/"pid":(\d+)/.exec(output)?.[1]);
    expect(serverPid).toBeGreaterThan(0);

    npm.kill('SIGTERM');
    await new Promise((resolve) => (exited ? resolve(undefined) : npm.once('exit', resolve)));
    server = undefined;
    const alive = () => {
      try {
        process.kill(serverPid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let attempt = 0; attempt < 150 && alive(); attempt += 1) await new Promise((resolve) => setTimeout(resolve, 100));
    if (alive()) process.kill(serverPid, 'SIGKILL');
    expect(alive(), output).toBe(false);
    expect(output).toContain('"msg":"stopped"');
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
  }, 120_000);
});
