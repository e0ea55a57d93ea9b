export { type FallbackStatus, fallbackStorage } from './fallback-storage.ts';
