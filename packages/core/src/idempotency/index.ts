/** `@ballast/core/idempotency` — filled in by its issue. */
export {};
