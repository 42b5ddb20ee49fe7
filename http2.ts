/**
 * WebSockets over HTTP/2 (RFC 8441): a server whose port speaks HTTP/2 and
 * HTTP/1.1 and takes WebSockets as extended CONNECT streams or upgrades, the
 * stream-level {@linkcode acceptHttp2} for a `node:http2` server of your own,
 * and a client that opens WebSockets as streams of a shared connection.
 *
 * A separate entry point, so that other servers and clients do not load
 * `node:http2`.
 *
 * @example A page and its WebSockets on one HTTP/2 port
 * ```ts ignore
 * import { createHttp2Server } from "@wsx/websocket/http2";
 *
 * createHttp2Server({
 *   cert: Deno.readTextFileSync("cert.pem"),
 *   key: Deno.readTextFileSync("key.pem"),
 *   fetch: () => new Response("<h1>hello</h1>", { headers: { "content-type": "text/html" } }),
 *   websocket: async (conn) => {
 *     for await (const msg of conn) await conn.writeMessage(msg.opcode, msg.data);
 *   },
 * }).listen(8443);
 * ```
 *
 * @module
 */

export { acceptHttp2 } from "./src/http2/accept_stream.ts";
export { createHttp2Server } from "./src/http2/server.ts";
export type { Http2ConnInfo, Http2ServerOptions } from "./src/http2/server.ts";
export { dialHttp2 } from "./src/http2/dial.ts";
export type { Http2DialOptions } from "./src/http2/dial.ts";
export { Http2Agent } from "./src/http2/agent.ts";
