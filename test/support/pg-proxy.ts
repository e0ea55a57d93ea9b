import net from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 in front of a PostgreSQL server (plain text: the URL through it must say
 * `sslmode=disable`), reading the server's side of the protocol so it can lose exactly what a network
 * can lose: the answer to a write that committed. Also cuts every connection, or refuses new ones, on
 * demand (a restart or a failover as the app sees it).
 */
export class PgProxy {
  /** Connections cut after a committed append, before its answer. */
  commitAnswersLost = 0;
  /** Connections refused while paused. */
  refused = 0;
  /** Answers held back by `holdNextAppendAnswer`, not passed on yet. */
  held = 0;
  private armed = 0;
  private holdArmed = false;
  private paused = false;
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(target: { host: string; port: number }): Promise<PgProxy> {
    let proxy: PgProxy | undefined;
    const server = net.createServer((client) => proxy!.accept(client, target));
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
    });
    proxy = new PgProxy(server, port);
    return proxy;
  }

  /** The given URL (host, port, user, password, database), through the proxy and in plain text. */
  urlFor(databaseUrl: string): string {
    const url = new URL(databaseUrl);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    url.searchParams.set('sslmode', 'disable');
    return url.toString();
  }

  /**
   * The next `count` appends to the events table commit, then lose their connection before their
   * answer reaches the app: the server sent ReadyForQuery (the statement's implicit transaction had
   * committed) and the proxy cuts both sides instead of passing the answer on.
   */
  loseNextCommitAnswers(count = 1): void {
    this.armed += count;
  }

  /**
   * The next append's whole answer (up to its ReadyForQuery) is held back and passed on together
   * with whatever the server sends next on that connection, in one write: as a network may deliver
   * an answer and the FATAL of a server closing the connection just after it in one read.
   */
  holdNextAppendAnswer(): void {
    this.holdArmed = true;
  }

  /** Cuts every open connection, as a restart or a failover would. */
  cutAll(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  /** Cuts every connection and refuses new ones until `resume()` (the database is away). */
  pause(): void {
    this.paused = true;
    this.cutAll();
  }

  resume(): void {
    this.paused = false;
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket, target: { host: string; port: number }): void {
    if (this.paused) {
      this.refused += 1;
      client.destroy();
      return;
    }
    const server = net.connect(target.port, target.host);
    this.sockets.add(client);
    this.sockets.add(server);
    const cut = () => {
      client.destroy();
      server.destroy();
      this.sockets.delete(client);
      this.sockets.delete(server);
    };
    client.on('error', cut).on('close', cut);
    server.on('error', cut).on('close', cut);
    client.on('data', (chunk) => server.write(chunk));

    // The server's side, message by message: type byte, int32 length (itself included), body.
    let pending: Buffer = Buffer.alloc(0);
    let answersAppend = false; // this response's rows are an events insert's RETURNING
    let holding = false; // the answer of an armed append: never passed on
    let heldAnswer: Buffer[] = []; // held by holdNextAppendAnswer, passed on with the server's next bytes
    server.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      const passed: Buffer[] = heldAnswer;
      if (heldAnswer.length > 0) this.held -= 1;
      heldAnswer = [];
      while (pending.length >= 5) {
        const length = pending.readUInt32BE(1);
        if (pending.length < 1 + length) break;
        const message = pending.subarray(0, 1 + length);
        pending = pending.subarray(1 + length);
        const type = String.fromCharCode(message[0]!);
        if (type === 'T') answersAppend = describesAppendRows(message);
        // An append with the read models' steps is a WITH … SELECT: its tag is SELECT.
        const tag = message.toString('latin1', 5, 11);
        if (type === 'C' && answersAppend && this.armed > 0 && (tag === 'INSERT' || tag === 'SELECT')) {
          this.armed -= 1;
          holding = true;
        }
        if (holding) {
          if (type === 'Z') {
            // ReadyForQuery: the implicit transaction has committed. The app never hears of it.
            this.commitAnswersLost += 1;
            client.write(Buffer.concat(passed), () => cut());
            return;
          }
          continue;
        }
        passed.push(message);
        if (type === 'Z' && answersAppend && this.holdArmed && pending.length === 0) {
          this.holdArmed = false;
          this.held += 1;
          heldAnswer = passed.splice(0);
        }
        if (type === 'Z') answersAppend = false;
      }
      if (passed.length > 0) client.write(passed.length === 1 ? passed[0]! : Buffer.concat(passed));
    });
  }
}

/**
 * A RowDescription naming `event_id`, `tx` and `recorded_at` but no `stream_id`: what an append to the
 * events table returns (a read of the log names the stream; the version lookup has no recorded_at).
 */
function describesAppendRows(message: Buffer): boolean {
  const names = new Set<string>();
  let offset = 7; // type, length, field count
  for (let field = 0; field < message.readUInt16BE(5); field += 1) {
    const end = message.indexOf(0, offset);
    names.add(message.toString('utf8', offset, end));
    offset = end + 1 + 18; // table oid, column number, type oid, type size, type modifier, format
  }
  return names.has('event_id') && names.has('tx') && names.has('recorded_at') && !names.has('stream_id');
}
