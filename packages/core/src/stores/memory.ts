/** `@ballast/core/stores/memory`: in-memory drivers, for tests and throwaway use. */

export { memoryBulkCheckpoints } from '../bulk/checkpoint';
export { memoryIdempotencyStore, memoryVersionStore } from '../idempotency/memory-store';
export { memoryInbox } from '../inbox/memory';
export type { MemoryCacheOptions } from '../resilience/cache-memory';
export { memoryCache } from '../resilience/cache-memory';
export type { MemoryVaultStoreOptions } from '../vault/memory-store';
export { memoryVaultStore } from '../vault/memory-store';
