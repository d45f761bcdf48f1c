import { defineConfig } from 'vitest/config';
import { ballastProject } from './scripts/vitest-preset.ts';

/**
 * One vitest project per package (each package's own vitest.config.ts).
 * `pnpm test` runs them all; `pnpm vitest --project core` runs one.
 */
export default defineConfig({
  test: {
    projects: [
      'packages/*',
      'examples',
      // The webhook tests again on the Web Crypto backend: without the `node` condition, `#crypto`
      // resolves to its `default` target, the Web Crypto module Deno, Bun and Workers get.
      {
        ...ballastProject('core-webcrypto', {
          include: ['src/webhooks/**/*.test.ts'],
          provide: { cryptoBackend: 'web' },
        }),
        root: 'packages/core',
        plugins: [
          {
            // Vite appends its default conditions (`node` among them) to any list it is given,
            // so the condition is removed once the config is resolved.
            name: 'ballast:without-node-condition',
            configResolved(config) {
              for (const environment of Object.values(config.environments)) {
                const conditions = environment.resolve.conditions;
                conditions.splice(0, conditions.length, ...conditions.filter((c) => c !== 'node'));
              }
            },
          },
        ],
      },
    ],
  },
});
