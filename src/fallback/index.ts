export { type FallbackOptions, type FallbackStatus, fallbackStorage } from './fallback-storage.ts';
