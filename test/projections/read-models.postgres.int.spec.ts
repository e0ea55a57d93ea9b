import { postgresReadModels } from './harness.ts';
import { describeReadModels } from './read-models.ts';

describeReadModels('PostgreSQL', () => postgresReadModels());
