import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPgBouncer } from '../../../../test-support/pgbouncer';
import { describeWithPostgres, uniqueSchema } from '../../../../test-support/services';
import { StoreError } from '../stores/errors';
import { migrate } from '../stores/migrate';
import { createPGlite } from '../stores/pglite';
import { createPostgres } from '../stores/postgres';
import { createPostgresJs } from '../stores/postgresjs';
import type { SqlClient } from '../stores/sql';
import { vaultCrypto } from './crypto-node';
import { keyring } from './keyring';
import { sqlVaultStore } from './sql-store';
import { createVaultWith } from './vault';
import { describeVaultContract, newMasterKey, vaultErrorCode } from './vault-contract';

async function sqlHarness(open: () => Promise<SqlClient>) {
  const db = await open();
  const schema = uniqueSchema('vault');
  await migrate(db, { schema, modules: ['vault'] });
  return {
    db,
    schema,
    store: (name: string) => sqlVaultStore(db, { schema, name }),
    close: async () => {
      await db.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await db.close();
    },
  };
}

/** Every column of both vault tables, as Postgres prints them. */
async function tableText(db: SqlClient, schema: string): Promise<string> {
  const rows = await db.query<{ row: string }>(
    `SELECT t::text AS row FROM "${schema}".vault_secrets t UNION ALL SELECT d::text FROM "${schema}".vault_data_keys d`,
  );
  return rows.rows.map((r) => r.row).join('\n');
}

/** Checks that no form of `plain` (text, hex, base64) appears in `haystack`. */
function expectAbsent(haystack: string, plain: string): void {
  const bytes = Buffer.from(plain, 'utf8');
  expect(haystack).not.toContain(plain);
  expect(haystack.toLowerCase()).not.toContain(bytes.toString('hex'));
  expect(haystack).not.toContain(bytes.toString('base64').replace(/=+$/, ''));
}

function plaintextScan(label: string, open: () => Promise<SqlClient>): void {
  describe(`vault table contents: ${label}`, () => {
    let harness: Awaited<ReturnType<typeof sqlHarness>>;
    beforeAll(async () => {
      harness = await sqlHarness(open);
    });
    afterAll(() => harness?.close());

    it('holds ciphertext and metadata only: no plaintext secret and no key material', async () => {
      const master = newMasterKey();
      const vault = createVaultWith(vaultCrypto, {
        keyring: keyring({ primary: 'k1', keys: { k1: master } }),
        store: harness.store('scan'),
      });
      const values = Array.from({ length: 20 }, (_, i) => `sk_live_PLAINTEXT_${i}_${newMasterKey()}`);
      for (const [i, value] of values.entries()) await vault.put(`tenant-${i % 4}`, `key-${i}`, value);
      const text = await tableText(harness.db, harness.schema);
      expect(text).toContain('tenant-0');
      expect(text).toContain('key-7');
      for (const value of values) expectAbsent(text, value);
      expectAbsent(text, Buffer.from(master, 'base64').toString('latin1'));
      expect(text.toLowerCase()).not.toContain(Buffer.from(master, 'base64').toString('hex'));
      expect(text).not.toContain(master);
      // And the values still read back.
      expect((await vault.get('tenant-3', 'key-7')).reveal()).toBe(values[7]);
    });

    it('reports a missing table as store_failed', async () => {
      const vault = createVaultWith(vaultCrypto, {
        keyring: keyring({ primary: 'k1', keys: { k1: newMasterKey() } }),
        store: sqlVaultStore(harness.db, { schema: uniqueSchema('absent') }),
      });
      expect(await vaultErrorCode(() => vault.put('t', 'n', 'value'))).toBe('store_failed');
    });

    it('rejects a bad schema or store name', () => {
      expect(() => sqlVaultStore(harness.db, { schema: 'bad schema' })).toThrow(StoreError);
      expect(() => sqlVaultStore(harness.db, { name: '' })).toThrow(/store name/);
    });
  });
}

describeVaultContract('pglite', () => sqlHarness(() => createPGlite()));
plaintextScan('pglite', () => createPGlite());

describeWithPostgres('vault sql store', (url) => {
  describeVaultContract('postgres', () => sqlHarness(() => createPostgres(url)));
  plaintextScan('postgres', () => createPostgres(url));
  describeVaultContract('postgres.js', () => sqlHarness(() => createPostgresJs(url)));
});

describeWithPgBouncer('vault sql store', (url) => {
  describeVaultContract('postgres.js', () => sqlHarness(() => createPostgresJs(url)));
});
