export { closeCodes } from './close-codes.ts';
export type { WsTraffic } from './connection.ts';
export { WsHub, type WsStats } from './hub.ts';
export { registerWebSocket, type WebSocketOptions } from './register.ts';
export { eventFrame } from './server-frames.ts';
