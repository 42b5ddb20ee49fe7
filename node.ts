/**
 * WebSockets on a `node:http` server, for sharing one port with an HTTP app:
 * {@linkcode acceptNode} runs the full engine (hooks, limits, compression) on an
 * `upgrade` event's socket, and {@linkcode createNodeServer} pairs a
 * `Deno.serve`-style `fetch` handler with a WebSocket handler.
 *
 * A separate entry point, so that other servers do not load `node:http`.
 *
 * @example One port for a page and its WebSocket
 * ```ts ignore
 * import { createNodeServer } from "@wsx/websocket/node";
 *
 * createNodeServer({
 *   fetch: () => new Response("<h1>hello</h1>", { headers: { "content-type": "text/html" } }),
 *   websocket: async (conn) => {
 *     for await (const msg of conn) await conn.writeMessage(msg.opcode, msg.data);
 *   },
 *   deflate: true,
 * }).listen(8080, "127.0.0.1");
 * ```
 *
 * @module
 */

export { acceptNode, createNodeServer } from "./src/servers/node_upgrade.ts";
export type { NodeServerOptions } from "./src/servers/node_upgrade.ts";
