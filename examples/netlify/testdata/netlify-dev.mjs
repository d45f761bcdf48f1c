// Serves a Netlify project's functions over HTTP through Netlify's own local
// emulation (@netlify/functions-dev, the functions layer of `netlify dev`),
// offline: no linked site, the emulator's fixed geolocation. Run as a plain
// Node process (the emulator's dependencies do not load inside vitest's
// module graph). Prints {"port":N} once listening; a request no function
// matches gets 404 with `x-no-function: 1`.
//
//   node netlify-dev.mjs <project root> <build directory>
import { createServer } from 'node:http';
import { join } from 'node:path';
import { mockLocation, Reactive } from '@netlify/dev-utils';
import { FunctionsHandler } from '@netlify/functions-dev';

const [projectRoot, buildDirectory] = process.argv.slice(2);
const functions = new FunctionsHandler({
  config: new Reactive({ functions: { '*': {} } }),
  destPath: buildDirectory,
  projectRoot,
  settings: {},
  timeouts: { syncFunctions: 30, backgroundFunctions: 60 },
  geolocation: mockLocation,
  userFunctionsPath: join(projectRoot, 'netlify/functions'),
});

const server = createServer(async (req, res) => {
  try {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === 'string') headers.set(name, value);
    }
    const request = new Request(`http://${req.headers.host}${req.url}`, { method: req.method, headers, body });
    const match = await functions.match(request);
    if (!match) {
      res.writeHead(404, { 'x-no-function': '1' }).end();
      return;
    }
    const response = await match.handle(request);
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  } catch (error) {
    res.writeHead(500, { 'x-emulator-error': '1' }).end(String(error?.stack ?? error));
  }
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
