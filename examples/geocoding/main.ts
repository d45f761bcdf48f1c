/**
 * The example's entry: reads the environment (the library never does), opens
 * the database, and serves the geocoding app on node:http, with the purge
 * job every hour.
 *
 *   node --conditions=@ballast/source --import tsx geocoding/main.ts
 *
 * Environment (all optional):
 *   DATABASE_URL          Postgres; without it, PGlite (in GEOCODING_DATA_DIR, else in memory)
 *   GEOCODING_DATA_DIR    a directory for PGlite's files, so the cache survives a restart
 *   GOOGLE_MAPS_API_KEY   a Geocoding API key; without it, a local fake Google
 *   PORT                  default 3000 (0: any free port; the URL is printed)
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPGlite } from '@ballast/core/stores/pglite';
import { createPostgres } from '@ballast/core/stores/postgres';
import type { SqlClient } from '@ballast/core/stores/sql';
import { secret } from '@ballast/core/vault';
import { googleMapsClient } from '@ballast/google-maps';
import { createFakeGoogleMaps } from '@ballast/google-maps/testing';
import { createGeocodingApp } from './app';

const env = process.env;
const db: SqlClient = env.DATABASE_URL
  ? await createPostgres(env.DATABASE_URL)
  : await createPGlite(env.GEOCODING_DATA_DIR);

let stopFake: (() => Promise<void>) | undefined;
let devOutage: ((mode: string) => void) | undefined;
let client: ReturnType<typeof googleMapsClient>;
if (env.GOOGLE_MAPS_API_KEY) {
  client = googleMapsClient({ key: secret(env.GOOGLE_MAPS_API_KEY) });
} else {
  // Offline: a local fake Google; POST /dev/outage/<mode> (http_503, hang, over_query_limit, ...) or /dev/outage/none.
  const fake = createFakeGoogleMaps();
  const server = await fake.listen();
  client = googleMapsClient({ key: 'AIzaLocalExample', baseUrl: server.url, timeoutMs: 2000 });
  devOutage = (mode) => fake.outage(mode === 'none' ? null : (mode as Parameters<typeof fake.outage>[0]));
  stopFake = () => server.close();
  console.log(`fake Google Maps on ${server.url}`);
}

const app = await createGeocodingApp({ db, client });

async function respond(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
  const request = new Request(`http://localhost${req.url ?? '/'}`, {
    method: req.method ?? 'GET',
    ...(body ? { body } : {}),
  });
  const outage = /^\/dev\/outage\/([a-z_0-9]+)$/.exec(new URL(request.url).pathname);
  let response: Response;
  if (outage?.[1] && devOutage && request.method === 'POST') {
    devOutage(outage[1]);
    response = Response.json({ outage: outage[1] });
  } else {
    response = await app.fetch(request);
  }
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(Buffer.from(await response.arrayBuffer()));
}

const server = createServer((req, res) => {
  respond(req, res).catch((error: unknown) => {
    console.error('[geocoding]', error);
    res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"internal_error"}');
  });
});
server.listen(Number(env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`geocoding on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});

// Google's terms: cached coordinates go after 30 days. The purge deletes them (place ids stay).
const purge = setInterval(() => {
  app.purge().then(
    (r) => r.coordinates > 0 && console.log(`[geocoding] purged the coordinates of ${r.coordinates} entries`),
    (e: unknown) => console.error('[geocoding] purge failed', e),
  );
}, 3_600_000);

async function shutdown(): Promise<void> {
  clearInterval(purge);
  server.close();
  await stopFake?.();
  await db.close();
}
process.once('SIGINT', () => void shutdown());
process.once('SIGTERM', () => void shutdown());
