import WebSocket from 'ws';

/**
 * The client side of the `ws` benchmark, run in a child process so that clients and servers each
 * have a core of the two (and so the server's memory is measured without its clients). It obeys the
 * parent's commands over IPC and answers each with one message.
 */

export type ClientCommand =
  | { cmd: 'connect'; url: string; users: string[]; subscribe: 'chat' | 'user' | 'none'; chatOf?: Record<string, string> }
  | { cmd: 'latency'; url: string; users: string[]; chatOf: Record<string, string>; perSecond: number; warmupMs: number; durationMs: number }
  | { cmd: 'fanout'; url: string; user: string; chatId: string; durationMs: number; inFlight: number; drainMs: number }
  | { cmd: 'count'; durationMs: number }
  | { cmd: 'close' };

export type ClientReply =
  | { ok: true; connected: number }
  | { ok: true; latenciesMs: number[]; ackMs: number[]; posts: number; expected: number }
  | { ok: true; posts: number; deliveries: number; firstMs: number; lastMs: number }
  | { ok: true; deliveries: number; firstMs: number; lastMs: number }
  | { ok: true; closed: number }
  | { ok: false; error: string };

let sockets: WebSocket[] = [];
/** What the subscribers do with each frame; swapped per phase. */
let onFrame: (data: WebSocket.RawData) => void = () => undefined;

function open(url: string, user: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers: { 'x-demo-user': user }, perMessageDeflate: false });
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Opens sockets a batch at a time (a thousand upgrades at once only queue in the kernel). */
async function openMany(url: string, users: readonly string[]): Promise<WebSocket[]> {
  const opened: WebSocket[] = [];
  for (let i = 0; i < users.length; i += 100) opened.push(...(await Promise.all(users.slice(i, i + 100).map((user) => open(url, user)))));
  return opened;
}

async function subscribeAll(subscribers: WebSocket[], users: readonly string[], scope: 'chat' | 'user', chatOf: Record<string, string> = {}): Promise<void> {
  await Promise.all(
    subscribers.map(
      (socket, i) =>
        new Promise<void>((resolve, reject) => {
          const listener = (data: WebSocket.RawData) => {
            const frame = JSON.parse(data.toString()) as { type: string; code?: string };
            if (frame.type === 'caught_up') {
              socket.off('message', listener);
              resolve();
            } else if (frame.type === 'error') reject(new Error(frame.code));
          };
          socket.on('message', listener);
          const user = users[i]!;
          socket.send(JSON.stringify(scope === 'chat' ? { type: 'subscribe', id: 's', scope, chatId: chatOf[user] } : { type: 'subscribe', id: 's', scope }));
        }),
    ),
  );
  for (const socket of subscribers) socket.on('message', (data) => onFrame(data));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function latency(command: Extract<ClientCommand, { cmd: 'latency' }>): Promise<ClientReply> {
  const posters = await openMany(command.url, command.users);
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const acks: number[] = [];
  for (const poster of posters) {
    poster.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { type: string; id?: string };
      const sent = frame.type === 'ack' && frame.id !== undefined ? sentAt.get(frame.id) : undefined;
      if (sent !== undefined) acks.push(performance.now() - sent);
    });
  }
  onFrame = (data) => {
    const now = performance.now();
    const frame = JSON.parse(data.toString()) as { type: string; eventType?: string; data?: { clientMessageId?: string } };
    const id = frame.type === 'event' ? frame.data?.clientMessageId : undefined;
    const sent = id === undefined ? undefined : sentAt.get(id);
    if (sent !== undefined) latencies.push(now - sent);
  };
  // Posts of the warm-up (JIT, pools, caches) are sent at the same rate but not measured.
  const warmup = Math.round((command.perSecond * command.warmupMs) / 1_000);
  const total = warmup + Math.round((command.perSecond * command.durationMs) / 1_000);
  const started = performance.now();
  for (let n = 0; n < total; n++) {
    const due = started + (n * 1_000) / command.perSecond;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const user = n % posters.length;
    const id = `p${n}`;
    if (n >= warmup) sentAt.set(id, performance.now());
    posters[user]!.send(JSON.stringify({ type: 'post', id, chatId: command.chatOf[command.users[user]!], content: `latency probe ${n}` }));
  }
  const subscribersPerUser = sockets.length / command.users.length;
  const expected = (total - warmup) * subscribersPerUser;
  const deadline = performance.now() + 10_000;
  while (latencies.length < expected && performance.now() < deadline) await sleep(20);
  for (const poster of posters) poster.close();
  onFrame = () => undefined;
  return { ok: true, latenciesMs: latencies, ackMs: acks, posts: total - warmup, expected };
}

async function fanout(command: Extract<ClientCommand, { cmd: 'fanout' }>): Promise<ClientReply> {
  const poster = await open(command.url, command.user);
  let deliveries = 0;
  let firstMs = 0;
  let lastMs = 0;
  onFrame = () => {
    lastMs = performance.now();
    if (deliveries++ === 0) firstMs = lastMs;
  };
  let posts = 0;
  let acked = 0;
  poster.on('message', () => acked++);
  const started = performance.now();
  while (performance.now() - started < command.durationMs) {
    while (posts - acked < command.inFlight) {
      // The same text as the raw baseline's frames (scripts/bench/ws.ts).
      poster.send(JSON.stringify({ type: 'post', id: `f${posts}`, chatId: command.chatId, content: `fan-out ${posts + 100}: a line of chat about the weather, the news and lunch plans` }));
      posts++;
    }
    await sleep(1);
  }
  const expected = posts * sockets.length;
  const deadline = performance.now() + command.drainMs;
  while (deliveries < expected && performance.now() < deadline) await sleep(20);
  poster.close();
  onFrame = () => undefined;
  return { ok: true, posts, deliveries, firstMs, lastMs };
}

async function count(durationMs: number): Promise<ClientReply> {
  let deliveries = 0;
  let firstMs = 0;
  let lastMs = 0;
  onFrame = () => {
    lastMs = performance.now();
    if (deliveries++ === 0) firstMs = lastMs;
  };
  await sleep(durationMs);
  onFrame = () => undefined;
  return { ok: true, deliveries, firstMs, lastMs };
}

async function handle(command: ClientCommand): Promise<ClientReply> {
  switch (command.cmd) {
    case 'connect': {
      const opened = await openMany(command.url, command.users);
      if (command.subscribe === 'none') for (const socket of opened) socket.on('message', (data) => onFrame(data));
      else await subscribeAll(opened, command.users, command.subscribe, command.chatOf);
      sockets.push(...opened);
      return { ok: true, connected: sockets.length };
    }
    case 'latency':
      return latency(command);
    case 'fanout':
      return fanout(command);
    case 'count':
      return count(command.durationMs);
    case 'close': {
      const closing = sockets;
      sockets = [];
      await Promise.all(
        closing.map(
          (socket) =>
            new Promise<void>((resolve) => {
              if (socket.readyState === WebSocket.CLOSED) return resolve();
              socket.once('close', () => resolve());
              socket.close();
            }),
        ),
      );
      return { ok: true, closed: closing.length };
    }
  }
}

process.on('message', (command: ClientCommand) => {
  handle(command).then(
    (reply) => process.send!(reply),
    (error: unknown) => process.send!({ ok: false, error: String(error) }),
  );
});
process.on('disconnect', () => process.exit(0));
