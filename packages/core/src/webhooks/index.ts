/** `@ballast/core/webhooks` — filled in by its issue. */
export {};
