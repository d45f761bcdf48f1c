/** `@ballast/core/inbox` — filled in by its issue. */
export {};
