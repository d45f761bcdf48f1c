/** `@ballast/core/resilience` — filled in by its issue. */
export {};
