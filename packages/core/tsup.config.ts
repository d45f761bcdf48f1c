import { defineConfig } from 'tsup';
import { entriesFromExports } from '../../scripts/tsup-entries.ts';

export default defineConfig({
  entry: {
    ...entriesFromExports(new URL('./package.json', import.meta.url)),
    // the two targets of the package.json `imports` entry `#crypto`, picked by export condition
    'webhooks/crypto/node': './src/webhooks/crypto/node.ts',
    'webhooks/crypto/web': './src/webhooks/crypto/web.ts',
  },
  external: ['#crypto'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node22',
  splitting: true,
  treeshake: true,
});
