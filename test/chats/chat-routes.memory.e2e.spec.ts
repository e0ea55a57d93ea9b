import { memoryApp } from '../http/app-under-test.ts';
import { describeChatRoutes } from './chat-routes.ts';

describeChatRoutes('in memory', () => memoryApp());
