import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../support/global-setup.ts';

const serverScript = fileURLToPath(new URL('../../../src/server.ts', import.meta.url));
const tsx = import.meta.resolve('tsx');

export interface ServerProcess {
  url: string;
  output(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

/**
 * Runs the real server (`src/server.ts`) in a child process with exactly `env` (plus PATH and HOME)
 * on a free port of 127.0.0.1, in `cwd` (where it looks for .env.local; an empty folder by default,
 * so no developer's .env.local is read).
 */
export async function startServer(env: Record<string, string>, cwd?: string): Promise<ServerProcess> {
  const port = await freePort();
  const ownFolder = cwd === undefined ? mkdtempSync(path.join(tmpdir(), 'lakechat-server-')) : undefined;
  const child: ChildProcess = spawn(process.execPath, ['--import', tsx, serverScript], {
    cwd: cwd ?? ownFolder,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      if (ownFolder !== undefined) rmSync(ownFolder, { recursive: true, force: true });
      resolve(code);
    }),
  );
  return {
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    exited,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** GET /health once the server listens (or throws if it exited or never listened within 20 s). */
export async function health(server: ServerProcess): Promise<Record<string, unknown>> {
  let exited = false;
  void server.exited.then(() => (exited = true));
  for (let attempt = 0; attempt < 200 && !exited; attempt += 1) {
    try {
      const response = await fetch(`${server.url}/health`);
      return (await response.json()) as Record<string, unknown>;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`the server did not answer /health:\n${server.output()}`);
}
