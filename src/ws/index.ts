export { registerWebSocket, type WebSocketOptions } from './register.ts';
export { WsHub, type WsStats } from './hub.ts';
export type { WsTraffic } from './connection.ts';
export { closeCodes } from './close-codes.ts';
