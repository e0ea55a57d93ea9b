import { postgresApp } from '../http/app-under-test.ts';
import { describeChatRoutes } from './chat-routes.ts';

describeChatRoutes('PostgreSQL', () => postgresApp());
