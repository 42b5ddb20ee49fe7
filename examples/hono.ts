/**
 * A Hono app and a compressed WebSocket on one port: Hono's `app.fetch` answers
 * HTTP requests through the `node:http` adapter, and `/ws` upgrades to a
 * WebSocket run by this module (permessage-deflate, limits), handled as the
 * standard `WebSocket` object through {@linkcode toWebSocket}.
 *
 * ```sh
 * deno run --allow-net examples/hono.ts [--port 8080]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { Server } from "node:http";
import { Hono } from "npm:hono@4.13.19";
import { Rejection } from "@wsx/websocket";
import { createNodeServer } from "@wsx/websocket/node";
import { toWebSocket } from "@wsx/websocket/web";

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>Hono + @wsx/websocket</title>
<pre id="log"></pre>
<script>
  const ws = new WebSocket(\`ws://\${location.host}/ws\`);
  const log = (line) => document.getElementById("log").textContent += line + "\\n";
  ws.onopen = () => { log("open " + ws.extensions); ws.send("hello from the page"); };
  ws.onmessage = (e) => log(e.data);
</script>`;

/** The Hono app: the page and a JSON route. */
export function createApp(): Hono {
  const app = new Hono();
  app.get("/", (c) => c.html(PAGE));
  app.get(
    "/api/hello",
    (c) => c.json({ hello: c.req.query("name") ?? "world" }),
  );
  return app;
}

/** The app and the WebSocket on one `node:http` server, not yet listening. */
export function createServer(): Server {
  const app = createApp();
  return createNodeServer({
    fetch: app.fetch,
    deflate: true,
    onRequest: (req) =>
      new URL(req.target, "http://x").pathname === "/ws"
        ? undefined
        : new Rejection(404),
    websocket: async (conn) => {
      const socket = toWebSocket(conn);
      socket.onmessage = (e) => socket.send(`echo: ${e.data}`);
      await conn.closed;
    },
  });
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { port: { type: "string", default: "8080" } },
  });
  const server = createServer();
  server.listen(Number(values.port), "127.0.0.1", () => {
    const { port } = server.address() as { port: number };
    console.log(`Listening on http://127.0.0.1:${port}/`);
  });
}
