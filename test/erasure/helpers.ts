export { databaseText } from './database-text.ts';
export { allEvents } from './erase-user.ts';
