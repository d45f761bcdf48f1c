import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithSupabaseVault, uniqueSchema } from '../../../../test-support/services';
import { migrate } from '../stores/migrate';
import { createPostgres } from '../stores/postgres';
import { createPostgresJs } from '../stores/postgresjs';
import type { SqlClient } from '../stores/sql';
import { createVault } from './create-vault';
import { isVaultError } from './errors';
import { isSecret } from './secret';
import { sqlVaultStore } from './sql-store';
import { moveSecrets, supabaseVault } from './supabase';
import { newMasterKey, vaultErrorCode } from './vault-contract';

describe('supabaseVault options', () => {
  const db = {
    query: async () => ({ rows: [], rowCount: 0 }),
    transaction: async () => undefined,
  } as unknown as SqlClient;
  it('refuses a missing client and a prefix that is not a plain word', () => {
    expect(() => supabaseVault(undefined as unknown as SqlClient)).toThrow(/db must be a SqlClient/);
    expect(() => supabaseVault(db, { prefix: 'a/b' })).toThrow(/prefix/);
    expect(() => supabaseVault(db, { prefix: '' })).toThrow(/prefix/);
  });
  it('names a secret <prefix>/<tenant>/<name>, percent-encoding both parts', () => {
    const vault = supabaseVault(db, { prefix: 'app' });
    expect(vault.secretName('acme', 'stripe_key')).toBe('app/acme/stripe_key');
    expect(vault.secretName('a/b', 'c/d')).toBe('app/a%2Fb/c%2Fd');
    expect(vault.secretName('a', 'b/c')).not.toBe(vault.secretName('a/b', 'c'));
  });
});

function suite(driver: string, open: (url: string) => Promise<SqlClient>) {
  describeWithSupabaseVault(`supabaseVault on ${driver}`, (url) => {
    let db: SqlClient;
    const prefix = uniqueSchema('sv');
    beforeAll(async () => {
      db = await open(url);
    });
    afterAll(async () => {
      await db.query('DELETE FROM vault.secrets WHERE starts_with(name, $1)', [`${prefix}/`]);
      await db.close();
    });

    it('puts, gets, lists, replaces and deletes, returning Secrets', async () => {
      const vault = supabaseVault(db, { prefix });
      await vault.put('acme', 'stripe/live', 'sk_live_1');
      await vault.put('acme', 'pipedrive', 'pd_token');
      await vault.put('other', 'stripe/live', 'sk_live_other');
      const key = await vault.get('acme', 'stripe/live');
      expect(isSecret(key)).toBe(true);
      expect(`${key}`).toBe('[redacted]');
      expect(key.reveal()).toBe('sk_live_1');
      expect((await vault.list('acme')).map((s) => s.name)).toEqual(['pipedrive', 'stripe/live']);
      expect(await vault.tenants()).toEqual(['acme', 'other']);

      await vault.put('acme', 'stripe/live', 'sk_live_2');
      expect((await vault.get('acme', 'stripe/live')).reveal()).toBe('sk_live_2');
      expect((await vault.get('other', 'stripe/live')).reveal()).toBe('sk_live_other');

      expect(await vault.delete('acme', 'stripe/live')).toBe(true);
      expect(await vault.delete('acme', 'stripe/live')).toBe(false);
      expect(await vaultErrorCode(() => vault.get('acme', 'stripe/live'))).toBe('not_found');
    });

    it('stores only ciphertext in vault.secrets, readable through vault.decrypted_secrets', async () => {
      const vault = supabaseVault(db, { prefix });
      await vault.put('scan', 'key', 'plaintext-that-must-not-be-stored');
      const raw = await db.query<{ secret: string }>('SELECT secret FROM vault.secrets WHERE name = $1', [
        vault.secretName('scan', 'key'),
      ]);
      expect(raw.rows).toHaveLength(1);
      expect(raw.rows[0]?.secret).not.toContain('plaintext');
      expect(Buffer.from(raw.rows[0]?.secret ?? '', 'base64').toString('latin1')).not.toContain('plaintext');
    });

    it('takes concurrent first writes of one name without a unique violation', async () => {
      const vault = supabaseVault(db, { prefix });
      await Promise.all(Array.from({ length: 8 }, (_, i) => vault.put('race', 'key', `v${i}`)));
      expect((await vault.get('race', 'key')).reveal()).toMatch(/^v[0-7]$/);
      expect(await vault.list('race')).toHaveLength(1);
    });

    it('rejects bad input with typed errors and never echoes the value', async () => {
      const vault = supabaseVault(db, { prefix });
      expect(await vaultErrorCode(() => vault.put('', 'n', 'v'))).toBe('invalid_argument');
      expect(await vaultErrorCode(() => vault.put('t', 'n', ''))).toBe('invalid_secret');
      const error = await vault.get('t', 'x'.repeat(300)).catch((e: unknown) => e);
      expect(isVaultError(error) && error.code).toBe('invalid_argument');
    });

    it('reports a role without Vault grants as store_failed with the grants it needs', async () => {
      const role = `${prefix}_anon`;
      await db.exec(`CREATE ROLE ${role} NOLOGIN`);
      try {
        const vault = supabaseVault(db, { prefix });
        await vault.put('acme', 'k', 'secret-value');
        const error = await db
          .transaction(async (tx) => {
            await tx.query(`SET LOCAL ROLE ${role}`);
            const scoped = { ...db, query: tx.query.bind(tx) } as SqlClient;
            return supabaseVault(scoped, { prefix }).get('acme', 'k');
          })
          .catch((e: unknown) => e);
        expect(isVaultError(error) && error.code).toBe('store_failed');
        expect((error as Error).message).toMatch(/permission denied/);
        expect((error as Error).message).not.toContain('secret-value');
      } finally {
        await db.exec(`DROP ROLE IF EXISTS ${role}`);
      }
    });

    it('moves secrets both ways between Supabase Vault and the Ballast vault', async () => {
      const schema = uniqueSchema('svmove');
      await migrate(db, { schema, modules: ['vault'] });
      try {
        const supa = supabaseVault(db, { prefix: `${prefix}_m` });
        const ballast = createVault({ keyring: `k1:${newMasterKey()}`, store: sqlVaultStore(db, { schema }) });
        await supa.put('t1', 'a', 'value-a');
        await supa.put('t1', 'b', 'value-b');
        await supa.put('t2', 'c', 'value-c');

        const there = await moveSecrets({
          from: supa,
          to: ballast,
          tenants: await supa.tenants(),
          deleteFromSource: true,
        });
        expect(there.moved).toEqual([
          { tenant: 't1', name: 'a' },
          { tenant: 't1', name: 'b' },
          { tenant: 't2', name: 'c' },
        ]);
        expect((await ballast.get('t1', 'b')).reveal()).toBe('value-b');
        expect(await supa.tenants()).toEqual([]);

        const back = await moveSecrets({ from: ballast, to: supa, tenants: ['t1', 't2'] });
        expect(back.moved).toHaveLength(3);
        expect((await supa.get('t2', 'c')).reveal()).toBe('value-c');
        expect((await ballast.get('t2', 'c')).reveal()).toBe('value-c'); // a copy unless asked to delete
        await db.query('DELETE FROM vault.secrets WHERE starts_with(name, $1)', [`${prefix}_m/`]);
      } finally {
        await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      }
    });
  });
}

suite('pg', (url) => createPostgres({ connectionString: url, max: 4 }));
suite('postgres.js', (url) => createPostgresJs(url, { max: 4 }));

describe('moveSecrets arguments', () => {
  it('refuses something that is not a vault', async () => {
    const error = await moveSecrets({ from: {} as never, to: {} as never, tenants: [] }).catch((e: unknown) => e);
    expect(isVaultError(error) && error.code).toBe('invalid_argument');
  });
});
