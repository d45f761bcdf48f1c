/** `@ballast/core/sync` — filled in by its issue. */
export {};
