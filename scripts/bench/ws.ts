import { type ChildProcess, fork } from 'node:child_process';
import v8 from 'node:v8';
import vm from 'node:vm';
import { type WebSocket, WebSocketServer } from 'ws';
import { runMigrations } from '../../src/migrate.ts';
import { eventFrame } from '../../src/ws/index.ts';
import type { BenchContext, BenchResult, BenchScenario } from './scenario.ts';
import type { ClientCommand, ClientReply } from './ws-clients.ts';
import { benchSendBufferBytes, startBenchInstance } from './ws-instance.ts';

/**
 * The WebSocket transport under load: two lakechat instances on one database, A in a child process
 * (posts go to it) and B in this one (subscribers connect to it, and its memory is measured here),
 * and every client in another child process:
 * - latency: 1,000 subscribers on B over 100 chats, 200 posts/s sent over WebSocket to A; from the
 *   post frame leaving the client to each subscriber receiving the event (NOTIFY, B's live tail, B's socket);
 * - fan-out: 1,000 subscribers of one chat on B, posts to A as fast as they are acked for 10 s;
 *   events delivered per second until every subscriber has every event;
 * - raw: frames of the same chat (100 messages posted first) broadcast by a bare `ws` server to 1,000
 *   sockets with the same send buffer cap (no store, no JSON per socket), half before and half after
 *   the fan-out so that both see the same machine: the baseline the fan-out is compared with;
 * - idle: heap and external memory of the server per connected, subscribed, idle client.
 */

const subscribers = 1_000;
const chats = 100;
const postsPerSecond = 200;
/** Measured after 2 s of warm-up at the same rate. */
const latencyMs = 8_000;
const fanoutMs = 10_000;
/** The raw baseline, in two halves: before and after the fan-out. */
const rawMs = 6_000;
const fanoutContent = (n: number) => `fan-out ${n}: a line of chat about the weather, the news and lunch plans`;

/** Instance A in a process of its own: the instance posts go to. */
async function startRemoteInstance(databaseUrl: string): Promise<{ url: string; stop(): Promise<void> }> {
  const child = fork(new URL('./ws-instance.ts', import.meta.url), ['--child', databaseUrl], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const { url } = await new Promise<{ url: string }>((resolve, reject) => {
    child.once('message', (message: { url: string }) => resolve(message));
    child.once('exit', (code) => reject(new Error(`instance A exited (${code})`)));
  });
  return {
    url,
    async stop() {
      child.disconnect();
      await exited;
    },
  };
}

/** The child process that runs the clients; `ask` sends one command and waits for its answer. */
function startClients(): { ask<T extends ClientReply>(command: ClientCommand): Promise<T>; stop(): void } {
  const child: ChildProcess = fork(new URL('./ws-clients.ts', import.meta.url), { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return {
    ask<T extends ClientReply>(command: ClientCommand): Promise<T> {
      return new Promise((resolve, reject) => {
        const onExit = (code: number | null) => reject(new Error(`the clients' process exited (${code})`));
        child.once('exit', onExit);
        child.once('message', (reply: ClientReply) => {
          child.off('exit', onExit);
          if (reply.ok) resolve(reply as T);
          else reject(new Error(reply.error));
        });
        child.send(command);
      });
    },
    stop: () => void child.kill(),
  };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, probe: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`bench ws: timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A full collection, so two heap readings compare what is alive, not what is not yet collected. */
function collect(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

function serverMemory(gc: () => void): number {
  gc();
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

/** A bare `ws` broadcast of `payloads` for `durationMs`, pausing while any socket is over the cap. */
async function rawBroadcast(server: WebSocketServer, payloads: readonly string[], durationMs: number): Promise<number> {
  const clients = [...server.clients] as WebSocket[];
  const deadline = performance.now() + durationMs;
  let sent = 0;
  while (performance.now() < deadline) {
    for (let burst = 0; burst < 8; burst++) {
      const payload = payloads[sent++ % payloads.length]!;
      for (const client of clients) client.send(payload);
    }
    await new Promise((resolve) => setImmediate(resolve));
    while (clients.some((client) => client.bufferedAmount > benchSendBufferBytes) && performance.now() < deadline) await sleep(1);
  }
  return sent;
}

export const wsScenario: BenchScenario = {
  name: 'ws',
  async run(context: BenchContext): Promise<BenchResult> {
    const databaseUrl = await context.createDatabase('bench_ws');
    await runMigrations({ connectionString: databaseUrl });
    const a = await startRemoteInstance(databaseUrl);
    const b = await startBenchInstance(databaseUrl);
    const clients = startClients();
    const raw = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    try {
      const gc = collect();
      const ctx = (user: string) => ({ actor: user, correlationId: 'bench', client: 'bench' });

      // Latency: 100 users with one chat each, 10 subscribers per chat on B, posts to A.
      const users = Array.from({ length: chats }, (_, i) => `user${i}@bench.example`);
      const chatOf = Object.fromEntries(users.map((user, i) => [user, `chat-${i}`]));
      for (const user of users) await b.app.lakechat.chats.startChat(ctx(user), { id: chatOf[user] });
      await until('B to listen', () => b.store.listening);
      const subscriberUsers = Array.from({ length: subscribers }, (_, i) => users[i % chats]!);
      await clients.ask({ cmd: 'connect', url: b.url, users: subscriberUsers, subscribe: 'chat', chatOf });
      const latency = await clients.ask<Extract<ClientReply, { latenciesMs: number[] }>>({
        cmd: 'latency',
        url: a.url,
        users,
        chatOf,
        perSecond: postsPerSecond,
        warmupMs: 2_000,
        durationMs: latencyMs,
      });
      const sorted = latency.latenciesMs.sort((x, y) => x - y);
      const p50 = round(percentile(sorted, 50));
      const p99 = round(percentile(sorted, 99));
      const ackSorted = latency.ackMs.sort((x, y) => x - y);
      await clients.ask({ cmd: 'close' });

      // Fan-out: 1,000 subscribers of one chat on B, between two halves of the raw baseline (the
      // same frames, broadcast by a bare ws server to 1,000 sockets), so both see the same machine.
      const fanUser = 'fan@bench.example';
      await b.app.lakechat.chats.startChat(ctx(fanUser), { id: 'fan' });
      for (let n = 0; n < 100; n++) await b.app.lakechat.chats.postMessage(ctx(fanUser), 'fan', { role: 'user', content: fanoutContent(n), clientMessageId: `w${n}` });
      const fanEvents = await b.store.readStream(b.app.lakechat.chats.streamIdOf(fanUser, 'fan'), { limit: 1_000 });
      const payloads = fanEvents.events.filter((event) => event.type === 'MessagePosted').map((event) => eventFrame('s', event));
      await new Promise<void>((resolve) => (raw.address() === null ? raw.once('listening', resolve) : resolve()));
      const rawAddress = raw.address();
      const rawUrl = `ws://127.0.0.1:${typeof rawAddress === 'object' && rawAddress !== null ? rawAddress.port : 0}`;
      const rawHalf = async () => {
        await clients.ask({ cmd: 'connect', url: rawUrl, users: Array<string>(subscribers).fill('raw'), subscribe: 'none' });
        const counting = clients.ask<Extract<ClientReply, { deliveries: number; firstMs: number }>>({ cmd: 'count', durationMs: rawMs / 2 + 2_000 });
        const sent = await rawBroadcast(raw, payloads, rawMs / 2);
        const counted = await counting;
        await clients.ask({ cmd: 'close' });
        return { sent, deliveries: counted.deliveries, seconds: (counted.lastMs - counted.firstMs) / 1_000 };
      };
      const rawBefore = await rawHalf();

      await clients.ask({ cmd: 'connect', url: b.url, users: Array<string>(subscribers).fill(fanUser), subscribe: 'chat', chatOf: { [fanUser]: 'fan' } });
      const fan = await clients.ask<Extract<ClientReply, { posts: number; deliveries: number }>>({
        cmd: 'fanout',
        url: a.url,
        user: fanUser,
        chatId: 'fan',
        durationMs: fanoutMs,
        inFlight: 64,
        drainMs: 30_000,
      });
      const fanoutEps = Math.round(fan.deliveries / ((fan.lastMs - fan.firstMs) / 1_000));
      await clients.ask({ cmd: 'close' });

      const rawAfter = await rawHalf();
      const rawSent = rawBefore.sent + rawAfter.sent;
      const rawEps = Math.round((rawBefore.deliveries + rawAfter.deliveries) / (rawBefore.seconds + rawAfter.seconds));

      // Idle memory: the server's heap and external memory per connected, subscribed client.
      await until('every connection to close', () => b.app.lakechatWs.stats().connections === 0);
      await sleep(200);
      const before = serverMemory(gc);
      const rssBefore = process.memoryUsage().rss;
      await clients.ask({ cmd: 'connect', url: b.url, users: Array.from({ length: subscribers }, (_, i) => `idle${i}@bench.example`), subscribe: 'user' });
      await sleep(500);
      const after = serverMemory(gc);
      const idleKib = round((after - before) / subscribers / 1_024, 1);
      const rssKib = round((process.memoryUsage().rss - rssBefore) / subscribers / 1_024, 1);
      await clients.ask({ cmd: 'close' });

      const ratio = round(fanoutEps / rawEps);
      const delivered = `${latency.latenciesMs.length}/${latency.expected}`;
      return {
        rows: [
          { scenario: 'ws', metric: `post (A) -> subscriber (B), p50; ${delivered} deliveries`, value: p50, unit: 'ms' },
          { scenario: 'ws', metric: 'post (A) -> subscriber (B), p99; 1,000 subscribers, 100 chats, 200 posts/s', value: p99, unit: 'ms', target: '< 50 ms' },
          { scenario: 'ws', metric: 'post (A) -> ack (A), p50', value: round(percentile(ackSorted, 50)), unit: 'ms' },
          { scenario: 'ws', metric: 'post (A) -> ack (A), p99', value: round(percentile(ackSorted, 99)), unit: 'ms' },
          {
            scenario: 'ws',
            metric: `fan-out to 1,000 subscribers of one chat (${fan.posts} posts, ${fan.deliveries} deliveries)`,
            value: fanoutEps,
            unit: 'events/s',
            baseline: rawEps,
            ratio,
            target: 'ratio >= 0.5',
          },
          { scenario: 'ws', metric: `raw ws broadcast to 1,000 sockets (${rawSent} broadcasts)`, value: rawEps, unit: 'messages/s' },
          { scenario: 'ws', metric: 'server heap + external per idle subscribed connection', value: idleKib, unit: 'KiB', target: '< 50 KiB' },
          { scenario: 'ws', metric: 'server RSS per idle subscribed connection (noisy)', value: rssKib, unit: 'KiB' },
        ],
        figures: { ws_p50_ms: p50, ws_p99_ms: p99, ws_fanout_eps: fanoutEps, ws_fanout_ratio: ratio, ws_idle_kib: idleKib },
      };
    } finally {
      clients.stop();
      raw.close();
      await b.close();
      await a.stop();
    }
  },
};
