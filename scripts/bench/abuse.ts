import { fork, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createPool } from 'slonik';
import WebSocket from 'ws';
import { chatStreamId } from '../../src/chats/index.ts';
import { eventStorePoolConfiguration, PostgresEventStore } from '../../src/event-store/index.ts';
import { runMigrations } from '../../src/migrate.ts';
import type { BenchContext, BenchResult, BenchScenario } from './scenario.ts';
import { percentile, round } from './support.ts';

/**
 * One ordinary user against a server with the default limits, in a process of its own on
 * PostgreSQL (issue 12):
 * - slow readers: three connections of twenty `user` subscriptions from the beginning of a log of
 *   1,000 messages of 8 KB, never reading; the server's RSS growth while they hang;
 * - churn and poison, for 10 s (after 10 s of the same without the poison): sixteen connections sending subscribe/unsubscribe pairs from
 *   `after: null` (reconnecting whenever closed), four sending a signal flood of 1,000/s, and 15 poison posts a
 *   second (a profile born in year 0, a trace summary nested 70 deep), while another user posts 20
 *   messages a second over HTTP: that user's post p99;
 * - recovery: from the end of the attack until a fresh reader of the whole chat has all of it and
 *   `/health` answers within 1 s.
 */

const attacker = 'mallory@bench.example';
const victim = 'victor@bench.example';
const messages = 1_000;
const attackMs = 10_000;
const victimPostsPerSecond = 20;
const poisonPerSecond = 15;
const signalsPerSecond = 1_000;
const MiB = 1024 * 1024;
const root = fileURLToPath(new URL('../..', import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

async function until(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`bench abuse: timed out waiting for ${what}`);
    await sleep(50);
  }
}

interface Target {
  url: string;
  wsUrl: string;
}

interface Server extends Target {
  rss(): number;
  /** The server process's CPU time so far (user + system), in milliseconds. */
  cpuMs(): number;
  stop(): Promise<void>;
}

async function startServer(databaseUrl: string): Promise<Server> {
  const port = await freePort();
  // BENCH_ABUSE_CPU_PROF=<folder> writes the server's CPU profile there (node --cpu-prof), for finding where the victim's time goes.
  const profile = process.env.BENCH_ABUSE_CPU_PROF;
  const child = spawn(process.execPath, [...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : []), '--import', 'tsx', 'src/server.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      HOST: '127.0.0.1',
      PORT: String(port),
      LAKEBASE_PG_URL: databaseUrl,
      LOG_LEVEL: 'warn',
      // The WebSocket limits given to the bench (WS_USER_CONNECTS_PER_SECOND=0 ...), to compare settings.
      ...Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('WS_'))),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  await until('the server to listen', async () => (await fetch(`${url}/health`).catch(() => undefined))?.ok === true);
  return {
    url,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    rss: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]) * 1024,
    cpuMs: () => {
      // Fields 14 and 15 of /proc/PID/stat (after the command's closing parenthesis): utime and stime, in ticks of 10 ms.
      const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(fields[11]) + Number(fields[12])) * 10;
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function http(server: Target, user: string, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method,
    headers: { 'x-demo-user': user, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

function open(server: Target, user: string): Promise<WebSocket> {
  const socket = new WebSocket(server.wsUrl, { headers: { 'x-demo-user': user }, perMessageDeflate: false });
  socket.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(socket));
    socket.once('close', () => reject(new Error('closed before opening')));
  });
}

async function pausedConnections(server: Server): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return Number(/^lakechat_ws_paused_connections (\d+)/m.exec(text)?.[1] ?? 0);
}

/** Three connections of twenty user-scope subscriptions from the beginning that never read: the RSS growth. */
async function slowReaders(server: Server): Promise<number> {
  const sockets = await Promise.all([0, 1, 2].map(() => open(server, attacker)));
  let max = server.rss();
  const before = max;
  const sampler = setInterval(() => (max = Math.max(max, server.rss())), 100);
  for (const socket of sockets) {
    socket.pause();
    for (let n = 0; n < 20; n++) socket.send(JSON.stringify({ type: 'subscribe', id: `u${n}`, scope: 'user', after: null }));
  }
  await until('the slow readers to be paused', async () => (await pausedConnections(server)) === 3);
  await sleep(3_000);
  clearInterval(sampler);
  for (const socket of sockets) socket.terminate();
  return (max - before) / MiB;
}

/** What the attacker made the server do: connections opened (and refused), frames sent, close codes seen. */
const attackCounts: Record<string, number> = {};
function count(what: string, by = 1): void {
  attackCounts[what] = (attackCounts[what] ?? 0) + by;
}

function openCounted(server: Target, user: string, kind: string): Promise<WebSocket | undefined> {
  return open(server, user).then(
    (socket) => {
      count(`${kind} connections`);
      socket.once('close', (code) => count(`${kind} closed ${code}`));
      return socket;
    },
    () => {
      count(`${kind} refused upgrades`);
      return undefined;
    },
  );
}

/** Subscribe/unsubscribe pairs from `after: null` on `connections` sockets, reconnecting whenever one is closed. */
async function churn(server: Target, connections: number, deadline: number): Promise<void> {
  const pairs = Array.from({ length: 1_000 }, (_, n) => [
    JSON.stringify({ type: 'subscribe', id: `c${n}`, scope: 'chat', chatId: 'big', after: null }),
    JSON.stringify({ type: 'unsubscribe', id: `c${n}` }),
  ]).flat();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < deadline) {
        const socket = await openCounted(server, attacker, 'churn');
        if (socket === undefined) {
          await sleep(100);
          continue;
        }
        const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
        for (const frame of pairs) socket.send(frame);
        count('churn frames', pairs.length);
        await Promise.race([closed, sleep(Math.max(0, deadline - Date.now()))]);
        socket.terminate();
      }
    }),
  );
}

/** `perSecond` signals from `connections` sockets, reconnecting whenever one is closed. */
async function signalFlood(server: Target, connections: number, perSecond: number, deadline: number): Promise<void> {
  const frame = JSON.stringify({ type: 'signal', chatId: 'big', kind: 'delta', data: { text: 'x'.repeat(200) } });
  const perTick = Math.max(1, Math.round(perSecond / connections / 100));
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < deadline) {
        const socket = await openCounted(server, attacker, 'signal');
        if (socket === undefined) {
          await sleep(100);
          continue;
        }
        while (Date.now() < deadline && socket.readyState === WebSocket.OPEN) {
          for (let i = 0; i < perTick; i++) socket.send(frame);
          count('signal frames', perTick);
          await sleep(10);
        }
        socket.terminate();
      }
    }),
  );
}

function nested(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = { leaf: true };
  for (let i = 1; i < levels; i++) value = { a: value };
  return value;
}

/** Posts the poison inputs at `perSecond`; returns how each was answered. */
async function poison(server: Target, perSecond: number, deadline: number): Promise<Map<number, number>> {
  const answers = new Map<number, number>();
  const pending: Promise<void>[] = [];
  for (let n = 0; Date.now() < deadline; n++) {
    const request =
      n % 2 === 0
        ? http(server, attacker, 'PUT', '/api/profile', { dateOfBirth: '0000-01-01' })
        : http(server, attacker, 'POST', '/api/chats/poison/messages', { content: 'deep', traceSummary: nested(70) });
    pending.push(
      request.then(
        async (response) => {
          await response.arrayBuffer();
          answers.set(response.status, (answers.get(response.status) ?? 0) + 1);
        },
        (error: unknown) => {
          answers.set(0, (answers.get(0) ?? 0) + 1);
          if (answers.get(0) === 1) process.stderr.write(`bench abuse: a poison request failed: ${String(error)}\n`);
        },
      ),
    );
    await sleep(1_000 / perSecond);
  }
  await Promise.all(pending);
  return answers;
}

/** The victim's posts at `perSecond`, each timed from request to answer. */
async function victimPosts(server: Server, perSecond: number, deadline: number): Promise<{ latencies: number[]; failed: number }> {
  const latencies: number[] = [];
  let failed = 0;
  const pending: Promise<void>[] = [];
  for (let n = 0; Date.now() < deadline; n++) {
    const started = performance.now();
    pending.push(
      http(server, victim, 'POST', '/api/chats/mine/messages', { content: `still here ${n}` }).then(
        async (response) => {
          await response.arrayBuffer();
          if (response.status === 201) latencies.push(performance.now() - started);
          else failed++;
        },
        () => void failed++,
      ),
    );
    await sleep(1_000 / perSecond);
  }
  await Promise.all(pending);
  return { latencies: latencies.sort((a, b) => a - b), failed };
}

/** A fresh reader of the whole chat receives every message and `/health` answers within 1 s. */
async function readsEverything(server: Server): Promise<boolean> {
  const healthStarted = performance.now();
  const health = await fetch(`${server.url}/health`, { signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
  if (health === undefined || performance.now() - healthStarted > 1_000) return false;
  const socket = await open(server, attacker).catch(() => undefined);
  if (socket === undefined) return false;
  try {
    let received = 0;
    const done = new Promise<boolean>((resolve) => {
      socket.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as { type: string; eventType?: string };
        if (frame.type === 'event' && frame.eventType === 'MessagePosted') received++;
        if (frame.type === 'caught_up') resolve(received === messages);
        if (frame.type === 'error') resolve(false);
      });
      socket.once('close', () => resolve(false));
    });
    socket.send(JSON.stringify({ type: 'subscribe', id: 'all', scope: 'chat', chatId: 'big', after: null }));
    return await Promise.race([done, sleep(30_000).then(() => false)]);
  } finally {
    socket.terminate();
  }
}

/**
 * Starts the attack in a child process for `durationMs`; resolves once it has started (the child's
 * start-up is not counted), with `done`: how the poison posts were answered.
 */
async function attackFrom(server: Target, durationMs: number, withPoison: boolean): Promise<{ done: Promise<Map<number, number>> }> {
  const child = fork(fileURLToPath(import.meta.url), ['--attacker', server.url, server.wsUrl, String(durationMs), withPoison ? 'poison' : 'clean'], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`bench abuse: the attacker exited (${code})`))));
  exited.catch(() => undefined);
  await Promise.race([new Promise<void>((resolve) => child.once('message', () => resolve())), exited]);
  const done = Promise.race([new Promise<Map<number, number>>((resolve) => child.once('message', (answers: [number, number][]) => resolve(new Map(answers)))), exited]);
  return { done };
}

if (process.argv[2] === '--attacker' && process.send !== undefined) {
  const [url, wsUrl, durationMs, mode] = process.argv.slice(3) as [string, string, string, string];
  const target = { url, wsUrl };
  process.send('started');
  const end = Date.now() + Number(durationMs);
  const [answers] = await Promise.all([
    mode === 'poison' ? poison(target, poisonPerSecond, end) : Promise.resolve(new Map<number, number>()),
    churn(target, 16, end),
    signalFlood(target, 4, signalsPerSecond, end),
  ]);
  process.stderr.write(`bench abuse: the attacker (${mode}) made: ${JSON.stringify(attackCounts)}\n`);
  process.send([...answers], () => process.exit(0));
}

export const abuseScenario: BenchScenario = {
  name: 'abuse',
  async run(context: BenchContext): Promise<BenchResult> {
    const databaseUrl = await context.createDatabase('bench_abuse');
    await runMigrations({ connectionString: databaseUrl });
    const server = await startServer(databaseUrl);
    const pool = await createPool(databaseUrl, eventStorePoolConfiguration({ maxPoolSize: 2, idleInTransactionTimeoutMs: 10_000 }));
    const store = new PostgresEventStore({ pool, listenerConfig: async () => ({ connectionString: databaseUrl }) });
    try {
      // The attacker's chat of 1,000 messages of 8 KB (appended as posts would, straight to the log),
      // a chat for the poison, and the victim's chat.
      for (const [user, chatId] of [
        [attacker, 'big'],
        [attacker, 'poison'],
        [victim, 'mine'],
      ] as const) {
        const response = await http(server, user, 'POST', '/api/chats', { id: chatId });
        if (response.status !== 201) throw new Error(`bench abuse: could not start ${chatId} (${response.status})`);
      }
      const streamId = chatStreamId(attacker, 'big');
      for (let done = 0; done < messages; done += 50) {
        const batch = Array.from({ length: 50 }, (_, i) => ({
          type: 'MessagePosted',
          data: { chatId: 'big', messageId: randomUUID(), position: done + i + 1, role: 'user', content: randomBytes(4_000).toString('hex') },
        }));
        await store.append(streamId, batch, { expectedVersion: done + 1, owner: attacker });
      }
      await until('the read models to show the chat', async () => {
        const response = await http(server, attacker, 'GET', `/api/chats/big/messages?after=${messages - 1}&limit=1`);
        return response.ok && ((await response.json()) as { messages: unknown[] }).messages.length === 1;
      });

      const rssGrowthMb = await slowReaders(server);
      await sleep(1_000);

      // The victim alone first: what the machine gives without any attack.
      const cpu = (): number => server.cpuMs();
      let cpuStart = cpu();
      const alone = await victimPosts(server, victimPostsPerSecond, Date.now() + 5_000);
      const aloneCpu = (cpu() - cpuStart) / 5;
      // Then without the poison (what the WebSocket bounds alone give), then with it. The attacker
      // runs in a process of its own, so its loops do not delay the victim's measurements.
      const quietAttack = await attackFrom(server, attackMs, false);
      cpuStart = cpu();
      const [quietResult] = await Promise.all([victimPosts(server, victimPostsPerSecond, Date.now() + attackMs), quietAttack.done]);
      const quietCpu = (cpu() - cpuStart) / (attackMs / 1_000);
      await sleep(1_000);
      const attack = await attackFrom(server, attackMs, true);
      cpuStart = cpu();
      const [victimResult, poisonAnswers] = await Promise.all([victimPosts(server, victimPostsPerSecond, Date.now() + attackMs), attack.done]);
      const attackCpu = (cpu() - cpuStart) / (attackMs / 1_000);
      const attackEnded = performance.now();
      await until('the instance to recover', () => readsEverything(server), 120_000);
      const recoveryS = (performance.now() - attackEnded) / 1_000;

      const p50 = percentile(victimResult.latencies, 50);
      const p99 = percentile(victimResult.latencies, 99);
      const quietP99 = percentile(quietResult.latencies, 99);
      const poisonSummary = [...poisonAnswers].map(([status, count]) => `${count}×${status}`).join(', ');
      return {
        rows: [
          { scenario: 'abuse', metric: 'slow readers (3 × 20 subscriptions, 8 MB log): server RSS growth', value: round(rssGrowthMb, 1), unit: 'MB', target: '< 150' },
          { scenario: 'abuse', metric: 'churn + signal flood + poison: recovery after the attack', value: round(recoveryS, 2), unit: 's', target: '< 10' },
          {
            scenario: 'abuse',
            metric: `victim posts (${victimPostsPerSecond}/s) with no attack, p99 (${alone.failed} failed)`,
            value: round(percentile(alone.latencies, 99), 1),
            unit: 'ms',
          },
          {
            scenario: 'abuse',
            metric: `victim posts (${victimPostsPerSecond}/s) during churn and signal flood only, p99 (${quietResult.failed} failed)`,
            value: round(quietP99, 1),
            unit: 'ms',
          },
          { scenario: 'abuse', metric: `victim posts (${victimPostsPerSecond}/s) during the attack with poison, p50`, value: round(p50, 1), unit: 'ms' },
          { scenario: 'abuse', metric: `victim posts during the attack, p99 (${victimResult.failed} failed)`, value: round(p99, 1), unit: 'ms', target: '< 100' },
          { scenario: 'abuse', metric: 'server CPU with no attack', value: round(aloneCpu, 0), unit: 'ms/s' },
          { scenario: 'abuse', metric: 'server CPU during churn and signal flood only', value: round(quietCpu, 0), unit: 'ms/s' },
          { scenario: 'abuse', metric: 'server CPU during the attack with poison', value: round(attackCpu, 0), unit: 'ms/s' },
          { scenario: 'abuse', metric: `poison posts answered (${poisonSummary})`, value: [...poisonAnswers.values()].reduce((a, b) => a + b, 0), unit: 'requests' },
        ],
        figures: {
          abuse_churn_recovery_s: round(recoveryS, 2),
          abuse_slow_reader_rss_mb: round(rssGrowthMb, 1),
          abuse_victim_p99_ms: round(p99, 1),
          abuse_victim_p99_no_poison_ms: round(quietP99, 1),
          abuse_victim_p99_alone_ms: round(percentile(alone.latencies, 99), 1),
        },
      };
    } finally {
      await store.close();
      await pool.end();
      await server.stop();
    }
  },
};
