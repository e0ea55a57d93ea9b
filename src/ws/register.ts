import fastifyWebsocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.ts';
import type { EventStore } from '../event-store/index.ts';
import type { LakechatServices } from '../http/api.ts';
import type { Logger } from '../logger.ts';
import { WsHub } from './hub.ts';
import { wsLimitsFrom } from './limits.ts';

export interface WebSocketOptions {
  config: Config;
  logger: Logger;
  store: EventStore;
  services: LakechatServices;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The WebSocket connections of this instance (stats, shutdown). */
    lakechatWs: WsHub;
  }
}

/**
 * `GET /ws`: the live protocol of docs/protocol.md. Closing the app closes every client with 1012
 * before the HTTP server stops (fastify runs preClose hooks first).
 */
export async function registerWebSocket(app: FastifyInstance, { config, logger, store, services }: WebSocketOptions): Promise<WsHub> {
  const limits = wsLimitsFrom(config);
  const hub = new WsHub({
    store,
    chats: services.chats,
    projections: services.projections,
    limits,
    logger,
    identify: services.identify,
    allowDemoUser: config.allowDemoUser,
    allowedOrigins: config.env.WS_ALLOWED_ORIGINS,
    erasedStreamsOf: (owner) => services.erasures.erasedStreamsOf(owner),
  });
  await app.register(fastifyWebsocket, {
    options: { maxPayload: limits.maxPayloadBytes, clientTracking: false, perMessageDeflate: false },
    preClose: async () => {
      await hub.shutdown();
    },
    // The ws library closes the socket itself on a protocol error (1009 for a frame over
    // maxPayload, 1007 for bad UTF-8...); a reset socket closes too. Log, nothing more to do.
    errorHandler: (error, _socket, request) => {
      request.log.info({ err: error }, 'WebSocket error');
    },
  });
  app.get('/ws', { websocket: true, preValidation: async (request) => hub.admitUpgrade(request) }, (socket, request) => hub.accept(socket, request));
  app.decorate('lakechatWs', hub);
  return hub;
}
