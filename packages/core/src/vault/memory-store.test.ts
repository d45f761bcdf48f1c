import { memoryVaultStore } from './memory-store';
import { describeVaultContract } from './vault-contract';

describeVaultContract('memory', async () => {
  const stores = new Map<string, ReturnType<typeof memoryVaultStore>>();
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
});
