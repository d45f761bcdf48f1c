import { defineConfig } from 'vitest/config';

/**
 * One vitest project per package (each package's own vitest.config.ts).
 * `pnpm test` runs them all; `pnpm vitest --project core` runs one.
 */
export default defineConfig({
  test: {
    projects: ['packages/*', 'examples'],
  },
});
