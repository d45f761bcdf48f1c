import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { TestingError } from './errors';

/** A handler in the shape of `fetch`: one web-standard request in, one response out. */
export type FetchHandler = (request: Request) => Promise<Response> | Response;

/** Options of {@link serveFetch}. */
export interface ServeFetchOptions {
  /** The port on 127.0.0.1; `0` (the default) takes any free port. */
  port?: number;
  /** The time source of `onArrival` (default `Date.now`), e.g. a fake's test clock. */
  clock?: () => number;
  /**
   * Called with each request before the handler sees it, and the clock's
   * reading when its headers arrived (before its body was read): a fake that
   * counts requests against a rate limit counts arrivals, as a real edge does.
   */
  onArrival?: (request: Request, arrivedAt: number) => void;
  /**
   * The response when the handler throws or rejects (default: a 500 with the
   * error's message as text). Not sent when the client has gone away.
   */
  crashResponse?: (error: unknown) => Response;
}

/** A running {@link serveFetch} server. */
export interface FetchServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly host: '127.0.0.1';
  readonly port: number;
  /**
   * Stops accepting connections and destroys the open ones: the port refuses
   * connections (a server that is down) until `resume()`.
   */
  pause(): Promise<void>;
  /**
   * Listens on the same port again after `pause()`. Rejects with a
   * `TestingError` `listen_failed` when the port was taken meanwhile, `closed`
   * after `close()`.
   */
  resume(): Promise<void>;
  /**
   * Stops for good: destroys every open connection (idle keep-alive ones and
   * ones waiting for an answer, whose handlers see their request's signal
   * abort) and resolves once the server has closed. Calling it again is a no-op.
   */
  close(): Promise<void>;
}

const HOST = '127.0.0.1';

function invalid(message: string): TestingError {
  return new TestingError('serveFetch', 'invalid_options', message);
}

/**
 * Serves a fetch-style handler on 127.0.0.1 over real sockets (Node only).
 *
 * Each incoming request becomes a web `Request`: its method, URL, headers
 * (in wire order; a repeated header is one value joined with `, `, as `Headers`
 * does, `set-cookie` aside), its body as bytes (none for GET and HEAD), and a
 * `signal` that aborts when the client closes the connection before the
 * response was sent. The handler's `Response` is written back with its
 * status, headers (every `set-cookie` kept) and body. A response of type
 * `'error'` (`Response.error()`) destroys the socket instead: the client sees
 * a connection reset, as from a server that died mid-request.
 *
 * @example
 * const server = await serveFetch(async (request) => Response.json({ path: new URL(request.url).pathname }));
 * await fetch(`${server.url}/hello`); // { path: '/hello' }
 * await server.close();
 */
export async function serveFetch(handler: FetchHandler, options: ServeFetchOptions = {}): Promise<FetchServer> {
  if (typeof handler !== 'function')
    throw invalid('handler must be a function (request: Request) => Promise<Response>');
  if (typeof options !== 'object' || options === null) throw invalid('options must be an object');
  const port = options.port ?? 0;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw invalid(`port must be an integer from 0 to 65535 (0: any free port), got ${String(port)}`);
  }
  for (const name of ['clock', 'onArrival', 'crashResponse'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') throw invalid(`${name} must be a function`);
  }
  const clock = options.clock ?? Date.now;
  const { onArrival, crashResponse } = options;

  const http = await import('node:http');
  const sockets = new Set<Socket>();
  const server: Server = http.createServer((req, res) => {
    const arrivedAt = clock();
    const controller = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) controller.abort(new Error('the client closed the connection before the response'));
    });
    // a client that goes away mid-body: the signal above says so, the stream error is not news
    req.on('error', () => {});
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => {
      if (controller.signal.aborted) return;
      let request: Request;
      try {
        request = toRequest(req, chunks, controller.signal, actual);
      } catch (error) {
        void send(req, res, plain(400, `bad request: ${messageOf(error)}`));
        return;
      }
      Promise.resolve()
        .then(() => {
          onArrival?.(request, arrivedAt);
          return handler(request);
        })
        .then(
          (response) => {
            if (!(response instanceof Response)) throw new TypeError('the handler did not return a Response');
            return send(req, res, response);
          },
          (error: unknown) => {
            if (controller.signal.aborted || res.destroyed) return;
            return send(req, res, crash(error));
          },
        )
        .catch((error: unknown) => {
          if (controller.signal.aborted || res.destroyed) return;
          return send(req, res, plain(500, `the handler failed: ${messageOf(error)}`));
        });
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  function crash(error: unknown): Response {
    if (!crashResponse) return plain(500, `the handler failed: ${messageOf(error)}`);
    try {
      const response = crashResponse(error);
      if (response instanceof Response) return response;
    } catch {
      // fall through to the default answer
    }
    return plain(500, `the handler failed: ${messageOf(error)}`);
  }

  const listen = (at: number) =>
    new Promise<void>((resolve, reject) => {
      const onError = (error: Error) =>
        reject(
          new TestingError('serveFetch', 'listen_failed', `could not listen on ${HOST}:${at}: ${error.message}`, {
            cause: error,
          }),
        );
      server.once('error', onError);
      server.listen(at, HOST, () => {
        server.off('error', onError);
        resolve();
      });
    });
  /** Stops listening, destroys every connection, resolves when the server has closed. */
  const stop = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
    });

  await listen(port);
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  let state: 'listening' | 'paused' | 'closed' = 'listening';
  let stopping: Promise<void> = Promise.resolve();
  /** The listen of a `resume()` in progress: a `pause()` or `close()` meanwhile must wait for it, or the port reopens after them. */
  let resuming: Promise<void> | undefined;

  const running: FetchServer = {
    url: `http://${HOST}:${actual}`,
    host: HOST,
    port: actual,
    pause() {
      if (resuming) return resuming.then(() => running.pause());
      if (state !== 'listening') return stopping;
      state = 'paused';
      stopping = stop();
      return stopping;
    },
    resume() {
      if (state === 'closed')
        return Promise.reject(new TestingError('serveFetch', 'closed', 'resume() after close(): the server is gone'));
      if (resuming) return resuming;
      if (state === 'listening') return Promise.resolve();
      const opening = (async () => {
        try {
          await stopping;
          await listen(actual);
          state = 'listening';
        } finally {
          resuming = undefined;
        }
      })();
      resuming = opening;
      return opening;
    },
    close() {
      // a resume in progress settles first (opened or failed), then whatever it left is closed
      if (resuming) return resuming.then(running.close, running.close);
      if (state === 'closed') return stopping;
      const wasListening = state === 'listening';
      state = 'closed';
      if (wasListening) {
        stopping = stop();
      } else {
        for (const socket of sockets) socket.destroy();
      }
      return stopping;
    },
  };
  return running;
}

function toRequest(req: IncomingMessage, chunks: Buffer[], signal: AbortSignal, port: number): Request {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i] as string, raw[i + 1] as string);
  const target = req.url ?? '/';
  const url = target.startsWith('/') ? `http://${req.headers.host ?? `${HOST}:${port}`}${target}` : target;
  const method = req.method ?? 'GET';
  const body = chunks.length > 0 && method !== 'GET' && method !== 'HEAD' ? Buffer.concat(chunks) : undefined;
  return new Request(url, { method, headers, signal, ...(body ? { body } : {}) });
}

async function send(req: IncomingMessage, res: ServerResponse, response: Response): Promise<void> {
  if (res.destroyed || res.headersSent) return;
  if (response.type === 'error') {
    req.socket.destroy();
    return;
  }
  let body: Buffer;
  try {
    body = Buffer.from(await response.arrayBuffer());
  } catch {
    // a body stream that failed: the client sees the connection drop, not a short body
    req.socket.destroy();
    return;
  }
  if (res.destroyed) return;
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of response.headers) if (name !== 'set-cookie') headers[name] = value;
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  if (response.statusText) res.writeHead(response.status, response.statusText, headers);
  else res.writeHead(response.status, headers);
  res.end(body);
}

function plain(status: number, text: string): Response {
  return new Response(text, { status, headers: { 'content-type': 'text/plain; charset=utf-8' } });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
