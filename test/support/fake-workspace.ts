import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small Databricks workspace on 127.0.0.1 that the real @databricks/sdk-experimental talks to
 * (DATABRICKS_HOST=http://127.0.0.1:PORT). It answers exactly what the SDK 0.17.0 asks, read from its
 * source: OIDC discovery (`GET /oidc/.well-known/oauth-authorization-server`), the client-credentials
 * token (`POST` to the discovered token endpoint, HTTP Basic client auth, form body), SCIM `Me`,
 * `GET /api/2.0/database/instances/{name}`, `POST /api/2.0/database/credentials`,
 * `GET /api/2.0/postgres/{endpoint}` and `POST /api/2.0/postgres/credentials`. API calls need a
 * bearer token it accepts: the PAT, or an OAuth token it issued and did not revoke.
 *
 * Tests bind its tokens to a real PostgreSQL role (`onTokenIssued`), count its requests, rotate and
 * revoke tokens, and make routes fail on demand.
 */

export type FakeRoute = 'oidc-discovery' | 'oauth-token' | 'scim-me' | 'instance' | 'database-credential' | 'endpoint' | 'postgres-credential';

export type IssuedKind = 'oauth' | 'database-credential' | 'postgres-credential';

export interface IssuedToken {
  kind: IssuedKind;
  token: string;
  expiresAt: Date;
}

export interface Failure {
  status: number;
  errorCode?: string;
  message?: string;
}

export interface FakeWorkspaceOptions {
  /** SCIM Me's userName: the PostgreSQL role of the identity. */
  userName: string;
  /** A personal access token the workspace accepts. */
  pat?: string;
  /** OAuth M2M clients (service principals). */
  clients?: readonly { id: string; secret: string }[];
  /** Provisioned instances by name (case-sensitive, as Databricks'). */
  instances?: Readonly<Record<string, { host: string; state?: string }>>;
  /** Autoscaling endpoints by resource name. */
  endpoints?: Readonly<Record<string, { host: string; state?: string }>>;
  tokenLifetimeSeconds?: number;
  /** OAuth access tokens as JWTs (as Databricks issues them), or opaque strings. */
  oauthTokens?: 'jwt' | 'opaque';
  /** Called before the response carrying a new token leaves, so a role's password can follow it. */
  onTokenIssued?: (issued: IssuedToken) => Promise<void> | void;
  /** Called when a token is revoked or expired by the test. */
  onTokenRevoked?: (issued: IssuedToken) => Promise<void> | void;
}

export interface FakeWorkspace {
  /** http://127.0.0.1:PORT */
  readonly host: string;
  count(route: FakeRoute): number;
  /** Every token issued, oldest first. */
  issued(kind?: IssuedKind): IssuedToken[];
  /** The next `times` requests to `route` fail with this status and error. */
  failNext(route: FakeRoute, failure: Failure, times?: number): void;
  /** Stops accepting a token (for API calls) and tells `onTokenRevoked`. */
  revoke(token: string): Promise<void>;
  close(): Promise<void>;
}

function opaqueToken(prefix: string): string {
  return `${prefix}-${randomBytes(24).toString('hex')}`;
}

function jwtToken(subject: string, expiresAt: Date): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const header = part({ alg: 'RS256', typ: 'JWT' });
  const claims = part({ sub: subject, exp: Math.floor(expiresAt.getTime() / 1000), jti: randomUUID() });
  return `${header}.${claims}.${randomBytes(32).toString('base64url')}`;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}

function fail(response: ServerResponse, failure: Failure): void {
  send(response, failure.status, {
    error_code: failure.errorCode ?? 'INTERNAL_ERROR',
    message: failure.message ?? 'The fake workspace was told to fail this request',
  });
}

export async function startFakeWorkspace(options: FakeWorkspaceOptions): Promise<FakeWorkspace> {
  const lifetimeMs = (options.tokenLifetimeSeconds ?? 3600) * 1000;
  const counts = new Map<FakeRoute, number>();
  const failures = new Map<FakeRoute, Failure[]>();
  const issued: IssuedToken[] = [];
  const revoked = new Set<string>();
  let host = '';

  async function issue(kind: IssuedKind, subject: string): Promise<IssuedToken> {
    const expiresAt = new Date(Date.now() + lifetimeMs);
    const token = kind === 'oauth' && (options.oauthTokens ?? 'jwt') === 'jwt' ? jwtToken(subject, expiresAt) : opaqueToken(kind === 'oauth' ? 'oauth' : 'dbcred');
    const record = { kind, token, expiresAt };
    issued.push(record);
    await options.onTokenIssued?.(record);
    return record;
  }

  function authorised(request: IncomingMessage): boolean {
    const match = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '');
    if (match === null) return false;
    const token = match[1] ?? '';
    if (options.pat !== undefined && token === options.pat) return true;
    return issued.some((record) => record.kind === 'oauth' && record.token === token && !revoked.has(token));
  }

  function route(method: string, pathname: string): FakeRoute | undefined {
    if (method === 'GET' && pathname === '/oidc/.well-known/oauth-authorization-server') return 'oidc-discovery';
    if (method === 'POST' && pathname === '/oidc/v1/token') return 'oauth-token';
    if (method === 'GET' && pathname === '/api/2.0/preview/scim/v2/Me') return 'scim-me';
    if (method === 'GET' && pathname.startsWith('/api/2.0/database/instances/')) return 'instance';
    if (method === 'POST' && pathname === '/api/2.0/database/credentials') return 'database-credential';
    if (method === 'POST' && pathname === '/api/2.0/postgres/credentials') return 'postgres-credential';
    if (method === 'GET' && pathname.startsWith('/api/2.0/postgres/projects/')) return 'endpoint';
    return undefined;
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', host);
    const name = route(request.method ?? 'GET', url.pathname);
    const body = await readBody(request);
    if (name === undefined) {
      send(response, 404, { error_code: 'ENDPOINT_NOT_FOUND', message: `No API found for '${request.method} ${url.pathname}'` });
      return;
    }
    counts.set(name, (counts.get(name) ?? 0) + 1);
    const planned = failures.get(name)?.shift();
    if (planned !== undefined) {
      fail(response, planned);
      return;
    }

    if (name === 'oidc-discovery') {
      send(response, 200, {
        issuer: `${host}/oidc`,
        authorization_endpoint: `${host}/oidc/v1/authorize`,
        token_endpoint: `${host}/oidc/v1/token`,
      });
      return;
    }
    if (name === 'oauth-token') {
      const basic = /^Basic (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
      const [id, secret] = Buffer.from(basic ?? '', 'base64')
        .toString('utf8')
        .split(':');
      const form = new URLSearchParams(body);
      const client = options.clients?.find((candidate) => candidate.id === id && candidate.secret === secret);
      if (client === undefined || form.get('grant_type') !== 'client_credentials') {
        send(response, 401, { error: 'invalid_client', error_description: 'Client authentication failed' });
        return;
      }
      const record = await issue('oauth', client.id);
      send(response, 200, {
        access_token: record.token,
        token_type: 'Bearer',
        expires_in: Math.floor(lifetimeMs / 1000),
        scope: form.get('scope') ?? 'all-apis',
      });
      return;
    }

    if (!authorised(request)) {
      send(response, 401, { error_code: '401', message: 'Credential was not sent or was of an unsupported type for this API.' });
      return;
    }
    const payload = (body === '' ? {} : JSON.parse(body)) as Record<string, unknown>;

    switch (name) {
      case 'scim-me':
        send(response, 200, { id: '4242', userName: options.userName, active: true, displayName: options.userName });
        return;
      case 'instance': {
        const instanceName = decodeURIComponent(url.pathname.slice('/api/2.0/database/instances/'.length));
        const instance = options.instances?.[instanceName];
        if (instance === undefined) {
          send(response, 404, { error_code: 'RESOURCE_DOES_NOT_EXIST', message: `Database instance '${instanceName}' does not exist.` });
          return;
        }
        send(response, 200, {
          name: instanceName,
          uid: randomUUID(),
          read_write_dns: instance.host,
          read_only_dns: instance.host,
          pg_version: 'PG_VERSION_16',
          state: instance.state ?? 'AVAILABLE',
          capacity: 'CU_1',
        });
        return;
      }
      case 'database-credential': {
        const names = payload.instance_names;
        const known = Array.isArray(names) && names.length > 0 && names.every((n) => typeof n === 'string' && options.instances?.[n] !== undefined);
        if (!known || typeof payload.request_id !== 'string') {
          send(response, 404, { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'Database instance does not exist.' });
          return;
        }
        const record = await issue('database-credential', options.userName);
        send(response, 200, { token: record.token, expiration_time: record.expiresAt.toISOString() });
        return;
      }
      case 'endpoint': {
        const endpointName = url.pathname.slice('/api/2.0/postgres/'.length);
        const endpoint = options.endpoints?.[endpointName];
        if (endpoint === undefined) {
          send(response, 404, { error_code: 'NOT_FOUND', message: `Endpoint '${endpointName}' not found.` });
          return;
        }
        send(response, 200, {
          name: endpointName,
          uid: randomUUID(),
          status: { endpoint_type: 'ENDPOINT_TYPE_READ_WRITE', hosts: { host: endpoint.host }, current_state: endpoint.state ?? 'ACTIVE' },
        });
        return;
      }
      case 'postgres-credential': {
        const endpointName = payload.endpoint;
        if (typeof endpointName !== 'string' || options.endpoints?.[endpointName] === undefined) {
          send(response, 404, { error_code: 'NOT_FOUND', message: 'Endpoint not found.' });
          return;
        }
        const record = await issue('postgres-credential', options.userName);
        send(response, 200, { token: record.token, expire_time: record.expiresAt.toISOString() });
        return;
      }
    }
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      send(response, 500, { error_code: 'INTERNAL_ERROR', message: `fake workspace: ${String(error)}` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    host,
    count: (name) => counts.get(name) ?? 0,
    issued: (kind) => issued.filter((record) => kind === undefined || record.kind === kind),
    failNext(name, failure, times = 1) {
      const queue = failures.get(name) ?? [];
      for (let i = 0; i < times; i += 1) queue.push(failure);
      failures.set(name, queue);
    },
    async revoke(token) {
      revoked.add(token);
      const record = issued.find((candidate) => candidate.token === token);
      if (record !== undefined) await options.onTokenRevoked?.(record);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
