import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPostgres, uniqueSchema } from '../../../../test-support/services';
import { migrate } from '../stores/migrate';
import { createPGlite } from '../stores/pglite';
import { createPostgres } from '../stores/postgres';
import type { SqlClient } from '../stores/sql';
import { vaultCrypto } from './crypto-node';
import { keyring } from './keyring';
import type { RotationProgress } from './rotation';
import { sqlVaultStore } from './sql-store';
import type { VaultStore } from './store';
import { createVaultWith } from './vault';
import { newMasterKey } from './vault-contract';

const TENANTS = 20;
const PER_TENANT = 500; // 10,000 secrets in all
const value = (t: number, i: number): string => `sk_live_${t}_${i}_${'x'.repeat(40)}`;

/**
 * The rotation proof: 10,000 secrets, a new master key made primary, a
 * re-encryption job stopped midway while another process keeps reading, then
 * resumed by a fresh process; everything ends readable and on the new keys.
 */
function describeRotation(label: string, open: () => Promise<SqlClient>): void {
  describe(`resumable rotation over 10,000 secrets: ${label}`, () => {
    let db: SqlClient;
    let store: VaultStore;
    const schema = uniqueSchema('vault_rot');
    const k1 = newMasterKey();
    const k2 = newMasterKey();

    beforeAll(async () => {
      db = await open();
      await migrate(db, { schema, modules: ['vault'] });
      store = sqlVaultStore(db, { schema });
      const writer = createVaultWith(vaultCrypto, { keyring: keyring({ primary: 'k1', keys: { k1 } }), store });
      for (let t = 0; t < TENANTS; t++) {
        const puts: Promise<void>[] = [];
        for (let i = 0; i < PER_TENANT; i++) puts.push(writer.put(`tenant-${t}`, `key-${i}`, value(t, i)));
        await Promise.all(puts);
      }
    }, 120_000);
    afterAll(async () => {
      await db?.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await db?.close();
    });

    it('stops midway, keeps every secret readable, and resumes to finish on the new keys', async () => {
      const both = keyring({ primary: 'k2', keys: { k1, k2 } });
      const controller = new AbortController();
      const seen: RotationProgress[] = [];
      const first = createVaultWith(vaultCrypto, { keyring: both, store });

      // Another process keeps reading while the job runs.
      const reader = createVaultWith(vaultCrypto, { keyring: both, store });
      let reading = true;
      let reads = 0;
      const readerLoop = (async () => {
        while (reading) {
          const t = reads % TENANTS;
          const i = (reads * 37) % PER_TENANT;
          expect((await reader.get(`tenant-${t}`, `key-${i}`)).reveal()).toBe(value(t, i));
          reads++;
        }
      })();

      const stopped = first.rotate({
        reencrypt: true,
        batchSize: 250,
        signal: controller.signal,
        onProgress: (progress) => {
          seen.push(progress);
          if (progress.secretsReencrypted >= 5_000) controller.abort(new Error('stopped for the test'));
        },
      });
      await expect(stopped).rejects.toThrow('stopped for the test');
      reading = false;
      await readerLoop;
      expect(reads).toBeGreaterThan(0);

      const last = seen.at(-1);
      expect(last?.phase).toBe('reencrypt');
      expect(last?.dataKeysRewrapped).toBe(TENANTS);
      expect(last?.dataKeysCreated).toBe(TENANTS);
      expect(last?.secretsTotal).toBe(TENANTS * PER_TENANT);
      expect(last?.secretsReencrypted).toBeGreaterThanOrEqual(5_000);
      expect(last?.secretsReencrypted).toBeLessThan(TENANTS * PER_TENANT);
      // Progress only grows.
      for (let n = 1; n < seen.length; n++) {
        expect(seen[n]?.secretsReencrypted).toBeGreaterThanOrEqual(seen[n - 1]?.secretsReencrypted ?? 0);
      }

      // Midway: some secrets on the new data keys, some still on the old, all readable.
      const midway = createVaultWith(vaultCrypto, { keyring: both, store });
      const midStatus = await midway.keyStatus();
      expect(midStatus.secretsOnOldDataKeys).toBe(TENANTS * PER_TENANT - (last?.secretsReencrypted ?? 0));
      expect((await midway.get('tenant-0', 'key-0')).reveal()).toBe(value(0, 0));
      expect((await midway.get(`tenant-${TENANTS - 1}`, 'key-499')).reveal()).toBe(value(TENANTS - 1, 499));

      // A fresh process resumes: no new data keys, only the rest re-encrypted.
      const resumed = await createVaultWith(vaultCrypto, { keyring: both, store }).rotate({ reencrypt: true });
      expect(resumed.failures).toEqual([]);
      expect(resumed.dataKeysCreated).toBe(0);
      expect(resumed.dataKeysRewrapped).toBe(0);
      expect(resumed.secretsTotal).toBe(midStatus.secretsOnOldDataKeys);
      expect(resumed.secretsReencrypted).toBe(midStatus.secretsOnOldDataKeys);

      // Done: k1 retired, every secret on data key dk2 (wrapped by k2), every value intact.
      const after = createVaultWith(vaultCrypto, {
        keyring: keyring({ primary: 'k2', keys: { k2 }, retired: ['k1'] }),
        store,
      });
      const status = await after.keyStatus();
      expect(status).toEqual({
        primary: 'k2',
        dataKeysByMasterKey: { k2: TENANTS * 2 },
        // The dk1s were created under k1 and hold nothing any more; the dk2s were created under k2.
        exposure: {
          k1: { dataKeys: TENANTS, tenants: 0, secrets: 0 },
          k2: { dataKeys: TENANTS * 2, tenants: TENANTS, secrets: TENANTS * PER_TENANT },
        },
        tenants: TENANTS,
        secretsOnOldDataKeys: 0,
      });
      for (let t = 0; t < TENANTS; t++) {
        const list = await after.list(`tenant-${t}`);
        expect(list).toHaveLength(PER_TENANT);
        expect(list.every((s) => s.keyId === 'dk2')).toBe(true);
        const reads: Promise<void>[] = [];
        for (let i = 0; i < PER_TENANT; i++) {
          reads.push(after.get(`tenant-${t}`, `key-${i}`).then((s) => expect(s.reveal()).toBe(value(t, i))));
        }
        await Promise.all(reads);
      }
      // A third run finds nothing left to do.
      const idle = await after.rotate({ reencrypt: true });
      expect(idle).toMatchObject({ dataKeysRewrapped: 0, dataKeysCreated: 0, secretsTotal: 0, secretsReencrypted: 0 });
    }, 180_000);
  });
}

describeRotation('pglite', () => createPGlite());
describeWithPostgres('vault rotation', (url) => describeRotation('postgres', () => createPostgres(url)));
