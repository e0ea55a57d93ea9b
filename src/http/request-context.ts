import type { FastifyRequest } from 'fastify';
import type { CommandContext } from '../commands/index.ts';
import type { Identity } from './identity.ts';

const requestIdPattern = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** The request id: the proxy's `X-Request-Id` when it is sane, otherwise one made here. */
export function requestIdFrom(header: string | string[] | undefined, generate: () => string): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && requestIdPattern.test(value) ? value : generate();
}

/** Who acts and through which request: what every event appended by this request records. */
export function commandContextOf(request: FastifyRequest, identity: Identity): CommandContext {
  const agent = request.headers['user-agent'];
  return {
    actor: identity.email,
    correlationId: request.id,
    client: typeof agent === 'string' && agent !== '' ? agent.slice(0, 200) : 'unknown',
  };
}
