/** `@ballast/core/stores/memory`: in-memory drivers, for tests and throwaway use. */
export {};
