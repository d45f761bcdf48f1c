import { defaultClientConditions, defaultServerConditions } from 'vite';
import { defineProject, type ViteUserConfig } from 'vitest/config';

/**
 * The per-package vitest project: resolves workspace packages to their
 * TypeScript sources (the `@ballast/source` export condition), so tests and
 * examples need no build step.
 */
export function ballastProject(name: string, extra: ViteUserConfig['test'] = {}): ViteUserConfig {
  return defineProject({
    resolve: { conditions: ['@ballast/source', ...defaultClientConditions] },
    ssr: { resolve: { conditions: ['@ballast/source', ...defaultServerConditions] } },
    test: {
      name,
      environment: 'node',
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: 20_000,
      hookTimeout: 60_000,
      ...extra,
    },
  });
}
