import { createPool, sql } from 'slonik';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../support/global-setup.ts';
import { type AppUnderTest, memoryApp } from './app-under-test.ts';

describe('the HTTP plumbing', () => {
  let t: AppUnderTest | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  describe('identity', () => {
    it('takes X-Forwarded-Email first, lower-cased, then X-Forwarded-User, then X-Demo-User', async () => {
      t = await memoryApp();
      const make = (headers: Record<string, string>) => t!.as(null, 'POST', '/api/chats', { body: { id: 'c' }, headers });
      await make({ 'x-forwarded-email': 'Alice@Example.COM', 'x-forwarded-user': 'someone@else', 'x-demo-user': 'demo@x.com' });
      await make({ 'x-forwarded-user': '1234@5678' });
      await make({ 'x-demo-user': 'demo@x.com' });
      const owners = (await t.store.readAll()).events.map((event) => event.owner);
      expect(owners).toEqual(['alice@example.com', '1234@5678', 'demo@x.com']);
    });

    it('ignores X-Demo-User in production unless ALLOW_DEMO_USER says otherwise', async () => {
      t = await memoryApp({ env: { NODE_ENV: 'production' } });
      const refused = await t.as('demo@x.com', 'GET', '/api/chats');
      expect(refused.statusCode).toBe(401);
      expect(refused.json().error.code).toBe('LAKECHAT_ERR_AUTH_MISSING_IDENTITY');
      expect((await t.as(null, 'GET', '/api/chats', { headers: { 'x-forwarded-email': 'a@x.com' } })).statusCode).toBe(200);
      await t.close();
      t = await memoryApp({ env: { DATABRICKS_APP_NAME: 'lakechat', ALLOW_DEMO_USER: 'true' } });
      expect((await t.as('demo@x.com', 'GET', '/api/chats')).statusCode).toBe(200);
    });

    it('refuses a malformed identity with 401', async () => {
      t = await memoryApp();
      const response = await t.as(null, 'GET', '/api/chats', { headers: { 'x-forwarded-email': 'two words@x.com' } });
      expect(response.statusCode).toBe(401);
      expect(response.json().error).toEqual({
        code: 'LAKECHAT_ERR_AUTH_INVALID_IDENTITY',
        message: 'The user identity on the request is malformed',
        details: { header: 'x-forwarded-email' },
      });
    });

    it('answers 401 before reading the body, so a stranger learns nothing from a 400 or a 413', async () => {
      t = await memoryApp();
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/chats/x/messages',
        headers: { 'content-type': 'application/json' },
        payload: '{not json',
      });
      expect(response.statusCode).toBe(401);
    });
  });

  describe('the error envelope', () => {
    it('wraps fastify’s own errors: bad JSON, wrong media type, unknown route', async () => {
      t = await memoryApp();
      const badJson = await t.app.inject({ method: 'POST', url: '/api/chats', headers: { 'x-demo-user': 'a@x.com', 'content-type': 'application/json' }, payload: '{"id":' });
      expect(badJson.statusCode).toBe(400);
      expect(badJson.json()).toEqual({ error: { code: 'LAKECHAT_ERR_HTTP_INVALID_JSON', message: 'The request body is not valid JSON' } });
      const poisoned = await t.app.inject({ method: 'POST', url: '/api/chats', headers: { 'x-demo-user': 'a@x.com', 'content-type': 'application/json' }, payload: '{"__proto__":{"x":1}}' });
      expect(poisoned.statusCode).toBe(400);
      expect(poisoned.json().error.code).toBe('LAKECHAT_ERR_HTTP_INVALID_JSON');
      const text = await t.app.inject({ method: 'POST', url: '/api/chats', headers: { 'x-demo-user': 'a@x.com', 'content-type': 'text/plain' }, payload: 'hello' });
      expect(text.statusCode).toBe(415);
      expect(text.json().error.code).toBe('LAKECHAT_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE');
      const route = await t.as('a@x.com', 'GET', '/api/nothing-here?x=1');
      expect(route.statusCode).toBe(404);
      expect(route.json()).toEqual({ error: { code: 'LAKECHAT_ERR_HTTP_ROUTE_NOT_FOUND', message: 'No such route', details: { method: 'GET', url: '/api/nothing-here' } } });
    });

    it('answers an unexpected failure with a generic 500 and logs the cause with the request id', async () => {
      const lines: string[] = [];
      t = await memoryApp({ logLines: lines });
      t.app.get('/boom', async () => {
        throw new Error('connection to postgres://app:hunter2@db failed at internal.ts:42');
      });
      const response = await t.as(null, 'GET', '/boom', { headers: { 'x-request-id': 'req-boom' } });
      expect(response.statusCode).toBe(500);
      expect(response.json()).toEqual({ error: { code: 'LAKECHAT_ERR_HTTP_INTERNAL', message: 'Internal server error' } });
      expect(response.body).not.toContain('internal.ts');
      const logged = lines.map((line) => JSON.parse(line)).find((line) => line.msg === 'request failed');
      expect(logged).toMatchObject({ reqId: 'req-boom', code: 'LAKECHAT_ERR_HTTP_INTERNAL' });
      expect(logged.err.message).toContain('internal.ts:42');
      expect(lines.join('\n')).not.toContain('hunter2');
    });

    it('answers 503 when the database cannot be reached', async () => {
      t = await memoryApp();
      const url = `postgres://nobody:secret@127.0.0.1:${await freePort()}/none`;
      t.app.get('/needs-db', async () => {
        const pool = await createPool(url, { connectionTimeout: 2_000 });
        return pool.query(sql.unsafe`SELECT 1`);
      });
      const response = await t.as(null, 'GET', '/needs-db');
      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBe('1');
      expect(response.json()).toEqual({ error: { code: 'LAKECHAT_ERR_STORE_UNAVAILABLE', message: 'The event store is unavailable' } });
    });

    it('answers 503 when the event store is closed', async () => {
      t = await memoryApp();
      await t.store.close();
      const response = await t.as('a@x.com', 'POST', '/api/chats');
      expect(response.statusCode).toBe(503);
      expect(response.json().error.code).toBe('LAKECHAT_ERR_STORE_CLOSED');
    });
  });

  describe('rate limits', () => {
    it('answers 429 with Retry-After once a user spends the burst, without touching other users', async () => {
      t = await memoryApp({ env: { RATE_LIMIT_PER_SECOND: '1', RATE_LIMIT_BURST: '3' } });
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await t.as('a@x.com', 'GET', '/api/chats')).statusCode);
      expect(statuses).toEqual([200, 200, 200, 429]);
      const limited = await t.as('a@x.com', 'GET', '/api/chats');
      expect(limited.headers['retry-after']).toBe('1');
      expect(limited.json().error).toMatchObject({ code: 'LAKECHAT_ERR_HTTP_RATE_LIMITED', details: { retryAfterSeconds: 1 } });
      expect((await t.as('b@x.com', 'GET', '/api/chats')).statusCode).toBe(200);
    });
  });

  describe('OpenAPI', () => {
    it('describes every API route, its parameters, bodies, responses and error codes', async () => {
      t = await memoryApp();
      const response = await t.as(null, 'GET', '/openapi.json');
      expect(response.statusCode).toBe(200);
      const document = response.json();
      expect(document.openapi).toBe('3.1.0');
      const operations = Object.entries(document.paths as Record<string, Record<string, { operationId: string }>>).flatMap(([path, methods]) =>
        Object.entries(methods).map(([method, operation]) => `${method.toUpperCase()} ${path} ${operation.operationId}`),
      );
      expect(operations.sort()).toEqual(
        [
          'GET /api/chats listChats',
          'POST /api/chats createChat',
          'DELETE /api/chats deleteAllChats',
          'GET /api/chats/{chatId} getChat',
          'PATCH /api/chats/{chatId} renameChat',
          'DELETE /api/chats/{chatId} deleteChat',
          'POST /api/chats/{chatId}/messages postMessage',
          'GET /api/chats/{chatId}/messages listMessages',
          'GET /api/events replayEvents',
          'GET /api/profile getProfile',
          'PUT /api/profile replaceProfile',
          'PATCH /api/profile changeProfile',
          'DELETE /api/profile deleteProfile',
          'GET /api/profile/history profileHistory',
          'DELETE /api/me eraseMe',
          'GET /api/me/erasure getMyErasure',
        ].sort(),
      );
      const post = document.paths['/api/chats/{chatId}/messages'].post;
      expect(post.parameters).toEqual([expect.objectContaining({ name: 'chatId', in: 'path', required: true })]);
      expect(post.requestBody.content['application/json'].schema.required).toEqual(['content']);
      expect(post.requestBody.content['application/json'].schema.properties.role.enum).toEqual(['user', 'assistant', 'system', 'tool']);
      expect(Object.keys(post.responses).sort()).toEqual(['200', '201', '400', '401', '404', '409', '413', '429', '500', '503']);
      expect(post.responses['413'].description).toContain('LAKECHAT_ERR_CHAT_MESSAGE_TOO_LARGE');
      expect(document.paths['/api/chats/{chatId}'].patch.parameters.map((p: { name: string }) => p.name)).toEqual(['chatId', 'If-Match']);
    });
  });

  describe('health and readiness', () => {
    it('reports storage and projection lag, and is ready once the projections have caught up', async () => {
      t = await memoryApp();
      await t.as('a@x.com', 'POST', '/api/chats');
      const health = await t.as(null, 'GET', '/health');
      expect(health.statusCode).toBe(200);
      expect(health.json()).toMatchObject({ status: 'ok', storage: 'memory', projections: { state: 'running', lagEvents: 0, lagSeconds: 0, lastError: null } });
      const ready = await t.as(null, 'GET', '/ready');
      expect(ready.statusCode).toBe(200);
      expect(ready.json()).toMatchObject({ status: 'ready', checks: { migrations: true, projections: true } });
    });

    it('is not ready, and says so in /health, once the projections stop; writes then answer 503', async () => {
      t = await memoryApp();
      await t.app.lakechat.projections.runner.stop();
      await t.store.append('chat-x', [{ type: 'Other', data: {} }]);
      const ready = await t.as(null, 'GET', '/ready');
      expect(ready.statusCode).toBe(503);
      expect(ready.json()).toMatchObject({ status: 'not_ready', checks: { projections: false } });
      expect((await t.as(null, 'GET', '/health')).json()).toMatchObject({ status: 'degraded', projections: { state: 'stopped', lagEvents: 1 } });
      const write = await t.as('a@x.com', 'POST', '/api/chats');
      expect(write.statusCode).toBe(503);
      expect(write.json().error.code).toBe('LAKECHAT_ERR_PROJECTION_STOPPED');
    });
  });
});
