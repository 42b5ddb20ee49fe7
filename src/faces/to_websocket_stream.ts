/**
 * The server side of the `WebSocketStream` face: an open connection of `serve`,
 * `accept` or the `node:http` adapter as a pair of streams.
 *
 * @module
 */

import type { WebSocketConn } from "../conn/websocket_conn.ts";
import { ADOPT, type Adopting } from "./_adopt.ts";
import {
  WebSocketStream,
  type WebSocketStreamOptions,
} from "./websocket_stream.ts";

/**
 * Wraps an open connection in the `WebSocketStream` interface: `opened` resolves
 * at once, and the streams carry the standard's backpressure (the connection is
 * read only as `readable` is pulled; writes settle once on the socket).
 *
 * @example An echo handler on `serve`
 * ```ts
 * import { dial, OpCode, serve } from "@wsx/websocket";
 * import { toWebSocketStream } from "@wsx/websocket/web";
 * import { assertEquals } from "@std/assert";
 *
 * const server = serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (conn) => {
 *   const { readable, writable } = await toWebSocketStream(conn).opened;
 *   await readable.pipeTo(writable);
 * });
 * const client = await dial(`ws://127.0.0.1:${server.addr.port}`);
 * await client.writeMessage(OpCode.Text, "hi");
 * assertEquals(new TextDecoder().decode((await client.readMessage()).data), "hi");
 * await client.close();
 * await server.shutdown();
 * ```
 *
 * @param conn An open connection (server or client role).
 * @param url What the stream's `url` says, such as the request's URL.
 * @returns The stream: it owns the connection's reads and writes from now on.
 */
export function toWebSocketStream(
  conn: WebSocketConn,
  url: string | URL = "ws://localhost/",
): WebSocketStream {
  const options: WebSocketStreamOptions & Adopting = { [ADOPT]: conn };
  return new WebSocketStream(url, options);
}
