import { memoryIdempotencyStore } from './memory-store';
import { testIdempotencyStore } from './store-contract';

testIdempotencyStore({ name: 'memory', create: () => memoryIdempotencyStore() });
