import net from 'node:net';

export interface LoadResponse {
  status: number;
  body: string;
}

const headerEnd = Buffer.from('\r\n\r\n');

/**
 * One keep-alive HTTP/1.1 connection to 127.0.0.1, one request at a time. It understands exactly
 * what the bench needs (responses with a Content-Length) and fails loudly on anything else.
 */
class LoadConnection {
  private readonly socket: net.Socket;
  private received: Buffer = Buffer.alloc(0);
  private pending: { resolve(response: LoadResponse): void; reject(error: Error): void } | undefined;
  closed = false;

  constructor(port: number) {
    this.socket = net.connect({ host: '127.0.0.1', port });
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (error) => this.fail(error));
    this.socket.on('close', () => this.fail(new Error('the server closed the connection')));
  }

  send(request: string): Promise<LoadResponse> {
    if (this.pending !== undefined) return Promise.reject(new Error('one request at a time per connection'));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.socket.write(request);
    });
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private fail(error: Error): void {
    this.closed = true;
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(error);
  }

  private onData(chunk: Buffer): void {
    this.received = this.received.length === 0 ? chunk : Buffer.concat([this.received, chunk]);
    const end = this.received.indexOf(headerEnd);
    if (end < 0) return;
    const head = this.received.toString('latin1', 0, end);
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (length === null) return this.fail(new Error(`a response without Content-Length: ${head.split('\r\n')[0]}`));
    const bodyEnd = end + headerEnd.length + Number(length[1]);
    if (this.received.length < bodyEnd) return;
    const response = { status: Number(head.slice(9, 12)), body: this.received.toString('utf8', end + headerEnd.length, bodyEnd) };
    this.received = this.received.subarray(bodyEnd);
    const pending = this.pending;
    this.pending = undefined;
    pending?.resolve(response);
  }
}

/**
 * The benchmarks' HTTP client: keep-alive connections to 127.0.0.1, reused, one request each at a
 * time, no retries. It is a few dozen lines over `net` rather than `node:http`'s client because the
 * load generator shares the machine's cores with the server and PostgreSQL: the less it costs per
 * request (about half of http.Agent's), the more the figures measure the server.
 */
export class LoadClient {
  private readonly idle: LoadConnection[] = [];
  private readonly all = new Set<LoadConnection>();

  constructor(private readonly port: number) {}

  async request(method: string, path: string, user: string, body?: unknown): Promise<LoadResponse> {
    const payload = body === undefined ? '' : JSON.stringify(body);
    const headers =
      `${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nx-demo-user: ${user}\r\n` +
      (body === undefined ? '' : `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(payload)}\r\n`);
    let connection = this.idle.pop();
    while (connection?.closed === true) {
      this.all.delete(connection);
      connection = this.idle.pop();
    }
    if (connection === undefined) {
      connection = new LoadConnection(this.port);
      this.all.add(connection);
    }
    const response = await connection.send(`${headers}\r\n${payload}`);
    this.idle.push(connection);
    return response;
  }

  close(): void {
    for (const connection of this.all) connection.close();
    this.all.clear();
    this.idle.length = 0;
  }
}
