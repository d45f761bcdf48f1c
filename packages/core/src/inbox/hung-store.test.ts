import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { expect, it } from 'vitest';
import { createPostgres } from '../stores/postgres';
import { signWebhook } from '../webhooks/sign';
import { toNodeHandler } from './adapters';
import { createWebhookHandler } from './handler';
import { sqlInbox } from './sql';

const SECRET = 'whsec_hung';

it('a store that accepts connections and never answers: every request gets 503 in time, and at most maxInFlight connections are opened', async () => {
  // a "database" that takes TCP connections and never says a word
  const sockets = new Set<Socket>();
  const hung = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  hung.listen(0, '127.0.0.1');
  await once(hung, 'listening');
  const db = await createPostgres(
    { connectionString: `postgres://nobody@127.0.0.1:${(hung.address() as AddressInfo).port}/none`, max: 10 },
    { onError: () => {} },
  );
  const webhook = createWebhookHandler({
    source: 'shop',
    verify: { scheme: 'stripe', secret: SECRET },
    inbox: sqlInbox(db, { groupCommit: { timeoutMs: 200, maxInFlight: 2, minParallelBatch: 1 } }),
    onError: () => {},
  });
  const server = createHttpServer(toNodeHandler(webhook));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const answers: Promise<[number, string | null, unknown]>[] = [];
    for (let i = 0; i < 20; i++) {
      const body = JSON.stringify({ id: `evt_${i}`, type: 't' });
      const signed = await signWebhook({ scheme: 'stripe', secret: SECRET, body });
      answers.push(
        fetch(base, { method: 'POST', headers: signed.headers, body }).then(async (res) => [
          res.status,
          res.headers.get('retry-after'),
          ((await res.json()) as { error?: string }).error,
        ]),
      );
      await new Promise((resolve) => setTimeout(resolve, 50)); // deliveries spread over a second
    }
    const got = await Promise.all(answers);
    expect(got).toEqual(Array.from({ length: 20 }, () => [503, '5', 'store_unavailable']));
    // each batch kept its slot while its write hung: no more connections than maxInFlight
    expect(sockets.size).toBeLessThanOrEqual(2);
    expect(sockets.size).toBeGreaterThan(0);
  } finally {
    server.closeAllConnections();
    server.close();
    for (const s of sockets) s.destroy();
    hung.close();
    await webhook.close();
    await Promise.race([db.close(), new Promise((resolve) => setTimeout(resolve, 1000))]);
  }
}, 15_000);
