/**
 * The server side of the `WebSocket` face: an open connection of `serve`,
 * `accept` or the `node:http` adapter, seen as the standard object that
 * `Deno.upgradeWebSocket` hands out.
 *
 * @module
 */

import type { WebSocketConn } from "../conn/websocket_conn.ts";
import { ADOPT, type Adopting } from "./_adopt.ts";
import { WebSocket, type WebSocketOptions } from "./websocket.ts";

/**
 * Wraps a server connection in the standard `WebSocket` interface, as
 * `Deno.upgradeWebSocket` returns it: it starts `CONNECTING`, fires `open` a task
 * later (after the caller's code, and its promise jobs, have set the handlers),
 * then `message` events until `close`. A handler written for `Deno.upgradeWebSocket` runs on it
 * unchanged, with this module's compression and limits.
 *
 * `serve` and `createNodeServer` close a connection when their handler returns,
 * so a handler that only sets event handlers waits for `conn.closed`.
 *
 * @example Moving a `Deno.upgradeWebSocket` handler to `serve`
 * ```ts
 * import { serve } from "@wsx/websocket";
 * import { toWebSocket, WebSocket } from "@wsx/websocket/web";
 * import { assertEquals } from "@std/assert";
 *
 * const server = serve({ hostname: "127.0.0.1", port: 0, deflate: true, onListen() {} }, async (conn) => {
 *   const socket = toWebSocket(conn);
 *   socket.onmessage = (e) => socket.send(e.data);
 *   await conn.closed;
 * });
 * const ws = new WebSocket(`ws://127.0.0.1:${server.addr.port}`);
 * ws.onopen = () => ws.send("hi");
 * assertEquals(await new Promise((r) => ws.onmessage = (e) => r(e.data)), "hi");
 * ws.close();
 * await new Promise((r) => ws.onclose = r);
 * await server.shutdown();
 * ```
 *
 * @param conn An open connection, in the server role (or a client one).
 * @param url What the socket's `url` says, such as the request's URL.
 * @returns The socket: it owns the connection's reads from now on.
 */
export function toWebSocket(
  conn: WebSocketConn,
  url: string | URL = "ws://localhost/",
): WebSocket {
  const options: WebSocketOptions & Adopting = { [ADOPT]: conn };
  return new WebSocket(url, undefined, options);
}
