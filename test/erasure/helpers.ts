export { allEvents } from './erase-user.ts';
export { databaseText } from './database-text.ts';
