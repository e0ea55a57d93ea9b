import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort } from '../support/global-setup.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The real server (`src/server.ts`) in a process of its own, so its memory is its alone. */
export interface ServerUnderAttack {
  pid: number;
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `ws://127.0.0.1:PORT/ws` */
  wsUrl: string;
  output(): string;
  /** The process's resident set size now, in bytes. */
  rss(): number;
  stop(): Promise<void>;
}

export async function startServerProcess(env: Record<string, string>): Promise<ServerUnderAttack> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-200_000)));
  child.stderr!.on('data', (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-200_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited:\n${output}`);
    try {
      const response = await fetch(`${url}/health`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the server did not answer /health:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    pid: child.pid!,
    url,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    output: () => output,
    rss: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kib = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
      return Number(kib) * 1024;
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Samples the server's RSS every 100 ms; `max()` is the highest seen since the last `reset()`. */
export function rssSampler(server: ServerUnderAttack): { max(): number; reset(): void; stop(): void } {
  let max = server.rss();
  const timer = setInterval(() => {
    try {
      max = Math.max(max, server.rss());
    } catch {
      // the process is gone
    }
  }, 100);
  return {
    max: () => max,
    reset: () => (max = server.rss()),
    stop: () => clearInterval(timer),
  };
}

/** Polls GET /health every 200 ms and keeps the slowest answer (a request still waiting counts as it goes). */
export function healthProbe(url: string): { slowestMs(): number; stop(): Promise<void> } {
  let slowest = 0;
  let running = true;
  let inFlightSince: number | undefined;
  const loop = (async () => {
    while (running) {
      inFlightSince = performance.now();
      try {
        await fetch(`${url}/health`, { signal: AbortSignal.timeout(30_000) });
      } catch {
        // a timeout is recorded as its duration
      }
      slowest = Math.max(slowest, performance.now() - inFlightSince);
      inFlightSince = undefined;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  return {
    slowestMs: () => Math.max(slowest, inFlightSince === undefined ? 0 : performance.now() - inFlightSince),
    async stop() {
      running = false;
      await loop;
    },
  };
}
