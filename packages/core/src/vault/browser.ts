/**
 * What `@ballast/core/vault` resolves to under the `browser` export
 * condition: the vault holds master keys and decrypts secrets, so it must
 * never reach a browser bundle. Importing it there fails at once.
 */
import { VaultError } from './errors';

throw new VaultError(
  'vault',
  'browser_unsupported',
  '@ballast/core/vault is server-only: it holds master keys and decrypts secrets, which must never ship to a browser. ' +
    'Import it from server code (a route handler, an edge function, a worker), and keep only non-secret data in client bundles.',
);
