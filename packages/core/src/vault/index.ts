/** `@ballast/core/vault` — filled in by its issue. */
export {};
