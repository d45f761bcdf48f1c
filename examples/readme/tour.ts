/**
 * The README's tour, as code that `pnpm typecheck` compiles: if an API the
 * README shows changes shape, this file stops compiling. Not run; the
 * placeholders (`config`, `fetchPersonsPage`, ...) are declared below.
 */
import { createServer } from 'node:http';
import { idempotent } from '@ballast/core/idempotency';
import { createWebhookHandler, toNodeHandler } from '@ballast/core/inbox';
import { adaptiveRateLimiter, circuitBreaker, resilientFetch } from '@ballast/core/resilience';
import { createPGlite } from '@ballast/core/stores/pglite';
import { migrate, sqlIdempotencyStore, sqlInbox, sqlVaultStore } from '@ballast/core/stores/sql';
import { cursorPages, mapper, syncTable } from '@ballast/core/sync';
import { createVault, keyring } from '@ballast/core/vault';
import { verifyWebhook } from '@ballast/core/webhooks';
import { z } from 'zod';

declare const request: Request;
declare const whsec: string;
declare const config: { vaultKeys: string };
declare function sendReceipt(payload: unknown): Promise<void>;
declare function chargeOrder(order: { id: string; cents: number }): Promise<{ chargeId: string }>;
interface Person {
  id: number;
  name: string;
}
declare function fetchPersonsPage(args: { cursor: string | null }): Promise<{ records: Person[]; next: string | null }>;
declare function upsertContacts(rows: Array<{ id: number; name: string }>, tx: unknown): Promise<void>;

export async function tour(): Promise<void> {
  const db = await createPGlite();
  await migrate(db);

  // Verify a webhook
  const event = await verifyWebhook(request, { scheme: 'stripe', secret: whsec });
  console.log(event.id, event.timestamp, event.scheme);

  // Store, answer 200, process later
  const webhook = createWebhookHandler({
    source: 'stripe',
    verify: { scheme: 'stripe', secret: whsec },
    inbox: sqlInbox(db),
    on: { 'invoice.paid': async (e) => sendReceipt(e.payload) },
  });
  createServer(toNodeHandler(webhook)).listen(3000);

  // Run something once per key
  const charge = idempotent(chargeOrder, {
    store: sqlIdempotencyStore(db),
    key: (o) => `charge:${o.id}`,
    lease: 30_000,
  });
  await charge({ id: 'o_1', cents: 500 });

  // Wrap your fetch
  const fetch = resilientFetch({
    deadlineMs: 10_000,
    cache: { maxStaleMs: 3_600_000 },
    breaker: circuitBreaker({ failureThreshold: 5, cooldownMs: 30_000 }),
    limiter: adaptiveRateLimiter({ limit: 20, interval: 2000 }),
  });
  await fetch('https://api.example.com/v1/prices/widget');

  // Sync into a raw table, map separately
  const persons = syncTable<Person>(db, { source: 'pipedrive', entity: 'persons' });
  await persons.run(cursorPages<Person>({ fetch: fetchPersonsPage }), { mode: 'full' });
  const Person = z.object({ id: z.number(), name: z.string() });
  await mapper({ schema: Person, version: 1, map: (p) => ({ id: p.id, name: p.name }), write: upsertContacts }).run(
    persons,
  );

  // Keep API keys encrypted
  const vault = createVault({ keyring: keyring(config.vaultKeys), store: sqlVaultStore(db) });
  await vault.put('acme', 'stripe_secret_key', 'sk_live_example');
  const key = await vault.get('acme', 'stripe_secret_key');
  console.log(`${key}`);
}
