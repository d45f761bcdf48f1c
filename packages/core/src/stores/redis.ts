/** `@ballast/core/stores/redis`: Redis-backed drivers (ioredis). */
export {};
