/**
 * WebSockets inside an existing `Deno.serve` handler: {@linkcode upgradeWebSocket}
 * wraps `Deno.upgradeWebSocket` so that handlers written against
 * {@linkcode WebSocketConn} (read into a caller's buffer, write, close, iterate)
 * run there too.
 *
 * Deno keeps the socket, so this path has limits the other entry points do not:
 * no compression, no frame access (`readFrame`, fragments), no pings on demand,
 * no BYOB reads, and no receive backpressure (unread messages queue up to a
 * bound, then the connection closes with 1008). See {@linkcode DenoWebSocketConn}.
 *
 * @module
 */

import { parseTokenList } from "../codec/http_token.ts";
import { selectProtocol } from "../handshake/server_handshake.ts";
import { DenoWebSocketConn } from "./deno_websocket_conn.ts";
import type { CloseCode } from "../codec/close_code.ts";

/**
 * How {@linkcode upgradeWebSocket} upgrades a request and what its connection
 * enforces.
 *
 * @example
 * ```ts
 * import type { UpgradeWebSocketOptions } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const options: UpgradeWebSocketOptions = { protocols: ["chat"], readLimit: 65536 };
 * assertEquals(options.readLimit, 65536);
 * ```
 */
export interface UpgradeWebSocketOptions {
  /**
   * The subprotocols the server speaks: the client's most preferred one that is
   * listed is chosen. None in common: no subprotocol.
   */
  protocols?: readonly string[];
  /**
   * Deno's own keep-alive, in seconds, passed to `Deno.upgradeWebSocket`: after
   * half of it with nothing received, Deno pings the client, and it closes the
   * connection with 1001 when nothing comes back in the other half (default
   * 30, Deno's; `0` turns it off). The only way to have pings on this path.
   */
  idleTimeout?: number;
  /**
   * The largest message accepted, in bytes (default 1 MiB); a larger one closes
   * the connection with 1009 as soon as it arrives, read or not. Deno has
   * received it whole by then.
   */
  readLimit?: number;
  /**
   * How many messages may wait unread (default 1,024); one more closes the
   * connection with 1008 and reads reject with `read_queue_full`.
   */
  maxQueuedMessages?: number;
  /**
   * How many bytes of messages may wait unread (default 16 MiB; text counts its
   * length in UTF-16 code units); past it the connection closes with 1008 and
   * reads reject with `read_queue_full`.
   */
  maxQueuedBytes?: number;
  /**
   * Bytes Deno may hold unsent before writes wait for them to drain (default
   * 1 MiB).
   */
  writeHighWaterMark?: number;
  /** How long `close()` waits for the client's close frame, in ms (default 5,000). */
  closeTimeout?: number;
  /** Called when the connection closes, with the code and reason. */
  onClose?: (code: CloseCode, reason: string) => void;
  /** The client's address, for `conn.remoteAddr`: pass the handler's `info.remoteAddr`. */
  remoteAddr?: Deno.Addr;
  /** The server's address, for `conn.localAddr` (`Deno.serve` does not tell handlers). */
  localAddr?: Deno.Addr;
}

/**
 * Upgrades a request inside a `Deno.serve` handler and wraps the socket in the
 * message-level API: return `response` from the handler, and use `conn`.
 *
 * @example An echo route in an existing `Deno.serve` app
 * ```ts
 * import { dial, OpCode, upgradeWebSocket } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
 *   if (req.headers.get("upgrade") !== "websocket") return new Response("page");
 *   const { response, conn } = upgradeWebSocket(req);
 *   (async () => {
 *     for await (const msg of conn) await conn.writeMessage(msg.opcode, msg.data);
 *   })();
 *   return response;
 * });
 * const client = await dial(`ws://127.0.0.1:${server.addr.port}/`);
 * await client.writeMessage(OpCode.Text, "hi");
 * assertEquals(new TextDecoder().decode((await client.readMessage()).data), "hi");
 * await client.close();
 * await server.shutdown();
 * ```
 *
 * @param request The upgrade request the handler received.
 * @param options Subprotocols, Deno's idle timeout, and the connection's limits.
 * @returns The response to return from the handler, and the connection.
 * @throws {TypeError} When the request is not a WebSocket upgrade (from Deno).
 */
export function upgradeWebSocket(
  request: Request,
  options: UpgradeWebSocketOptions = {},
): { response: Response; conn: DenoWebSocketConn } {
  const offered = parseTokenList(request.headers.get("sec-websocket-protocol"));
  const protocol = options.protocols
    ? selectProtocol(offered, options.protocols)
    : "";
  const { socket, response } = Deno.upgradeWebSocket(request, {
    protocol: protocol || undefined,
    idleTimeout: options.idleTimeout,
  });
  return { response, conn: new DenoWebSocketConn(socket, options, protocol) };
}
