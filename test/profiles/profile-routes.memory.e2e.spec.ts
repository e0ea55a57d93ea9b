import { memoryApp } from '../http/app-under-test.ts';
import { describeProfileRoutes, profileClock } from './profile-routes.ts';

describeProfileRoutes('in memory', () => memoryApp({ now: () => profileClock }));
