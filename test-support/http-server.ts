import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';

/**
 * A node:http server for one test: listening on a free 127.0.0.1 port, and
 * closed with its open connections after the test.
 */

const open: Server[] = [];
afterEach(async () => {
  for (const server of open.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/**
 * Starts `server` on a free port (unless it listens already, as the server
 * `@hono/node-server`'s `serve()` returns does) and returns its base URL.
 */
export async function listenForTest(server: Server): Promise<string> {
  if (!server.listening) {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  }
  open.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
