import { createServer, type Server, type Socket } from 'node:net';
import { afterEach } from 'vitest';

/**
 * Raw HTTP servers (plain sockets) that answer every request with the
 * headers of a 200 (or another status) and the first bytes of its body, then stall or break the
 * connection: what a provider or proxy failing mid-body looks like to a
 * client. Servers opened in a test are closed after it.
 */

const open: { server: Server; sockets: Set<Socket> }[] = [];
afterEach(async () => {
  for (const { server, sockets } of open.splice(0)) {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});

/**
 * Starts such a server and returns its base URL. `then`: keep the socket open
 * without another byte (`stall`) or destroy it once the first bytes are out
 * (`reset`). `start` is the body's beginning, `headers` extra header lines,
 * `status` the status line's code and reason (`200 OK` unless given).
 */
export async function midBodyServer(
  then: 'stall' | 'reset',
  {
    start = '{"data":',
    headers = {},
    status = '200 OK',
  }: { start?: string; headers?: Record<string, string>; status?: string } = {},
): Promise<string> {
  const sockets = new Set<Socket>();
  const extra = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('data', () => {
      socket.write(
        `HTTP/1.1 ${status}\r\nContent-Type: application/json\r\n${extra}Content-Length: 500\r\n\r\n${start}`,
        () => {
          if (then === 'reset') socket.destroy();
        },
      );
    });
  });
  open.push({ server, sockets });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}
