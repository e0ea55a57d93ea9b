import { memoryReadModels } from './harness.ts';
import { describeReadModels } from './read-models.ts';

describeReadModels('in memory', () => memoryReadModels());
