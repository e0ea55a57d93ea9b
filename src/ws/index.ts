export { registerWebSocket, type WebSocketOptions } from './register.ts';
export { WsHub, type WsStats, type WsTraffic } from './hub.ts';
export { closeCodes } from './close-codes.ts';
