import { vaultCrypto as webCrypto } from './crypto-web';
import { memoryVaultStore } from './memory-store';
import type { VaultStore } from './store';
import { describeVaultContract, type VaultStoreHarness } from './vault-contract';

function memoryHarness(): VaultStoreHarness {
  const stores = new Map<string, VaultStore>();
  return {
    store: (name) => {
      let store = stores.get(name);
      if (!store) {
        store = memoryVaultStore({ name });
        stores.set(name, store);
      }
      return store;
    },
  };
}

describeVaultContract('memory', async () => memoryHarness());
describeVaultContract('memory, Web Crypto', async () => memoryHarness(), webCrypto);
