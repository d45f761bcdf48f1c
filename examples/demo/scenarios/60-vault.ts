import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { migrate } from '@ballast/core/stores/sql';
import { createVault, isVaultError, keyring, type Secret, sqlVaultStore } from '@ballast/core/vault';
import type { Scenario } from '../run';

/**
 * Per-merchant Stripe keys kept encrypted in PGlite: what the table holds,
 * a key used on the server only, a row copied to another merchant refused,
 * and a master key rotation with the old key retired.
 */
const merchants = {
  acme: `sk_test_51Acme${randomBytes(12).toString('hex')}`,
  globex: `sk_test_51Globex${randomBytes(12).toString('hex')}`,
  initech: `sk_test_51Initech${randomBytes(12).toString('hex')}`,
};
const EXTRA_TENANTS = 50;

/** A stand-in for the provider: answers 200 only to the merchant's own key. */
async function fakeStripe(): Promise<{ url: string; close(): Promise<void> }> {
  const expected = new Set(Object.values(merchants).map((key) => `Bearer ${key}`));
  const server = createServer((req, res) => {
    res.statusCode = expected.has(req.headers.authorization ?? '') ? 200 : 401;
    res.end(JSON.stringify({ object: 'balance' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const scenario: Scenario = {
  title: 'Vault: per-merchant Stripe keys encrypted at rest, and a master key rotation',
  async run(report, context) {
    // What an app would read from its secret manager or an environment variable.
    const k1 = randomBytes(32).toString('base64');
    const k2 = randomBytes(32).toString('base64');
    const db = await context.db();
    const stripe = await fakeStripe();
    try {
      await migrate(db, { modules: ['vault'] });
      const store = sqlVaultStore(db);
      const vault = createVault({ keyring: keyring(`k1:${k1}`), store });

      for (const [merchant, key] of Object.entries(merchants)) await vault.put(merchant, 'stripe_secret_key', key);
      for (let i = 0; i < EXTRA_TENANTS; i++) {
        await vault.put(`merchant-${i}`, 'stripe_secret_key', `sk_test_${randomBytes(16).toString('hex')}`);
      }
      report.line(`stored ${3 + EXTRA_TENANTS} merchants' Stripe secret keys under master key k1`);

      // What the table holds.
      const rows = await db.query<{ tenant: string; name: string; data_key: number; bytes: number; head: string }>(
        `SELECT tenant, name, data_key, octet_length(envelope) AS bytes, encode(substr(envelope, 1, 24), 'hex') AS head
         FROM ballast.vault_secrets WHERE tenant = ANY($1) ORDER BY tenant`,
        [Object.keys(merchants)],
      );
      report.line('ballast.vault_secrets (first 24 bytes of each envelope: magic ba11, version 01, key id, nonce...):');
      report.table(
        rows.rows.map((r) => ({
          tenant: r.tenant,
          name: r.name,
          key: `dk${r.data_key}`,
          bytes: r.bytes,
          envelope: `${r.head}…`,
        })),
      );
      const keys = await db.query<{ tenant: string; generation: number; master_key_id: string; bytes: number }>(
        `SELECT tenant, generation, master_key_id, octet_length(wrapped) AS bytes
         FROM ballast.vault_data_keys WHERE tenant = ANY($1) ORDER BY tenant`,
        [Object.keys(merchants)],
      );
      report.line("ballast.vault_data_keys (each merchant's data key, wrapped by the master key):");
      report.table(
        keys.rows.map((r) => ({
          tenant: r.tenant,
          key: `dk${r.generation}`,
          'wrapped by': r.master_key_id,
          bytes: r.bytes,
        })),
      );
      const dump = await db.query<{ row: string }>(
        'SELECT t::text AS row FROM ballast.vault_secrets t UNION ALL SELECT d::text FROM ballast.vault_data_keys d',
      );
      const text = dump.rows.map((r) => r.row).join('\n');
      const leaked = Object.values(merchants).filter(
        (key) => text.includes(key) || text.includes(Buffer.from(key).toString('hex')),
      );
      const keyLeak = [k1, k2].some((k) => text.includes(k) || text.includes(Buffer.from(k, 'base64').toString('hex')));
      if (leaked.length === 0 && !keyLeak) {
        report.ok(`scanned ${dump.rows.length} rows of both vault tables as text: no Stripe key, no master key`);
      } else {
        report.fail(`the vault tables hold plaintext (${leaked.length} Stripe keys, master key: ${keyLeak})`);
      }

      // Used on the server: decrypted just before the call, redacted everywhere else.
      const acmeKey: Secret = await vault.get('acme', 'stripe_secret_key');
      const response = await fetch(`${stripe.url}/v1/balance`, {
        headers: { authorization: `Bearer ${acmeKey.reveal()}` },
      });
      const logged = `calling Stripe for acme with ${acmeKey} ${JSON.stringify({ key: acmeKey })}`;
      if (response.status === 200 && !logged.includes(merchants.acme)) {
        report.ok(`acme's key works against the fake Stripe (200), and logs as: ${logged}`);
      } else {
        report.fail(`acme's key: status ${response.status}, logged "${logged}"`);
      }

      // A ciphertext copied to another merchant's row does not decrypt.
      const acmeRow = await store.getSecret('acme', 'stripe_secret_key');
      if (acmeRow) await store.putSecret('globex', 'stripe_secret_key', acmeRow.envelope, acmeRow.dataKey);
      try {
        await vault.get('globex', 'stripe_secret_key');
        report.fail("acme's ciphertext copied into globex's row decrypted");
      } catch (error) {
        if (isVaultError(error) && error.code === 'decrypt_failed') {
          report.ok(`acme's ciphertext copied into globex's row is refused: ${error.code}`);
        } else throw error;
      }
      await vault.put('globex', 'stripe_secret_key', merchants.globex);

      // Snapshot one merchant's rows, as a backup taken before the rotation would hold them.
      const snapshot = {
        dataKey: (await store.dataKeys('initech'))[0],
        secret: await store.getSecret('initech', 'stripe_secret_key'),
      };

      // Rotation: k2 becomes primary; data keys are re-wrapped and, asked for here, renewed with re-encryption.
      const before = await vault.keyStatus();
      const rotating = createVault({ keyring: keyring(`k2:${k2},k1:${k1}`), store });
      const started = performance.now();
      const progress = await rotating.rotate({
        reencrypt: true,
        batchSize: 25,
        onProgress: (p) => report.progress(`${p.phase}: ${p.secretsReencrypted}/${p.secretsTotal} secrets`),
      });
      const ms = (performance.now() - started).toFixed(0);
      const after = await rotating.keyStatus();
      report.table([
        {
          when: 'before',
          primary: before.primary,
          'data keys by master key': JSON.stringify(before.dataKeysByMasterKey),
          'secrets on old data keys': before.secretsOnOldDataKeys,
        },
        {
          when: 'after',
          primary: after.primary,
          'data keys by master key': JSON.stringify(after.dataKeysByMasterKey),
          'secrets on old data keys': after.secretsOnOldDataKeys,
        },
      ]);
      report.line(
        `rotation in ${ms} ms: ${progress.dataKeysRewrapped} data keys re-wrapped, ${progress.dataKeysCreated} created, ${progress.secretsReencrypted}/${progress.secretsTotal} secrets re-encrypted`,
      );

      // Retire k1: the app now configures only k2. Everything still reads.
      const retired = createVault({ keyring: keyring({ primary: 'k2', keys: { k2 }, retired: ['k1'] }), store });
      let intact = 0;
      for (const [merchant, key] of Object.entries(merchants)) {
        if ((await retired.get(merchant, 'stripe_secret_key')).equals(key)) intact++;
      }
      const allOnNew = (await retired.list('acme')).every((s) => s.keyId === 'dk2');
      if (
        progress.failures.length === 0 &&
        after.secretsOnOldDataKeys === 0 &&
        !after.dataKeysByMasterKey.k1 &&
        intact === 3 &&
        allOnNew
      ) {
        report.ok('k1 retired: every key reads with k2 alone, all on new data keys, none left on k1');
      } else {
        report.fail(
          `after rotation: ${intact}/3 intact, ${after.secretsOnOldDataKeys} on old data keys, failures ${progress.failures.length}`,
        );
      }

      // A backup from before the rotation still needs k1: restoring it gives an error naming the key.
      const restored = createVault({ keyring: keyring({ primary: 'k2', keys: { k2 }, retired: ['k1'] }), store });
      const [dk1] = await store.dataKeys('initech');
      if (dk1 && snapshot.dataKey && snapshot.secret) {
        await store.rewrapDataKey('initech', 1, dk1.wrapped, snapshot.dataKey.wrapped, 'k1');
        await store.putSecret('initech', 'stripe_secret_key', snapshot.secret.envelope, snapshot.secret.dataKey);
      }
      try {
        await restored.get('initech', 'stripe_secret_key');
        report.fail('a secret restored from before the rotation decrypted without k1');
      } catch (error) {
        if (isVaultError(error) && error.code === 'key_retired' && error.keyId === 'k1') {
          report.ok(`a row restored from a pre-rotation backup fails clearly: ${error.code} (${error.message})`);
        } else throw error;
      }
    } finally {
      await stripe.close();
    }
  },
};

export default scenario;
