import { postgresApp } from '../http/app-under-test.ts';
import { describeProfileRoutes, profileClock } from './profile-routes.ts';

describeProfileRoutes('PostgreSQL', () => postgresApp({ now: () => profileClock }));
